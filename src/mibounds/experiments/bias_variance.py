r"""Bias and variance of every bound with its optimal critic (Poole et al. 2019, figure 3).

No training: each bound gets the critic that makes it tight (table below) on a ground-truth task
(default: the 20-d correlated Gaussian), so what remains is the bound's own bias (e.g. InfoNCE's
:math:`\log K` ceiling) and its Monte-Carlo variance (e.g. NWJ's, growing like :math:`e^I`).
Three sweeps, over many independent batches each (the same batches for every bound of a sweep
point, so the comparison is paired):

- against the true MI at a fixed batch size K,
- against K at a fixed MI,
- the interpolated bound :math:`I_\alpha` against α at a few MI levels.

Critic given to each bound (``r = p(x, y) / p(x) p(y)``, from ``task.log_ratio``):

================================  =====================================================
bound                             critic
================================  =====================================================
nwj                               ``1 + log r`` (its optimum)
js                                ``log r`` (the JS optimum; the value is NWJ on f + 1)
tuba, interpolated                ``log r`` with baseline ``log a(y) = 0`` (a(y) = 1 = Z(y))
dv, mine, smile, infonce          ``log r`` (DV is shift invariant; MINE reports DV)
tnce, leave_one_out_upper, club   ``log p(y|x)`` (``task.log_conditional``)
rate                              ``log p(y|x)`` and the true marginal ``log p(y)``
================================  =====================================================

So with the optimal critic nwj, js and tuba coincide exactly, as do dv and mine, and tnce equals
infonce (InfoNCE ignores functions of y alone).

Example:
    >>> from mibounds.experiments.bias_variance import BiasVarianceConfig, optimal_critic, run_bias_variance
    >>> optimal_critic("nwj"), optimal_critic("js")
    ('1 + log r', 'log r')
    >>> config = BiasVarianceConfig(dim=2, bounds=("infonce",), mi_grid=(1.0,), k_grid=(), alphas=(), repeats=20)
    >>> result = run_bias_variance(config)
    >>> [r["bound"] for r in result.table.where(sweep="mi").records()]
    ['infonce']

Reference:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML. arXiv:1905.06922, section 4 and figure 3.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mibounds import tasks
from mibounds.experiments.figures import Table, make_figure, short, write_figure
from mibounds.experiments.outputs import write_text
from mibounds.experiments.staircase.config import DEFAULT_BOUNDS as STAIRCASE_BOUNDS
from mibounds.experiments.staircase.config import BoundSpec
from mibounds.experiments.sweep.statistics import summarize_errors

__all__ = [
    "DEFAULT_BOUNDS",
    "BiasVarianceConfig",
    "BiasVarianceResult",
    "Curve",
    "estimates",
    "load_result",
    "merge_identical",
    "optimal_critic",
    "run_bias_variance",
]

#: Bounds of the default sweeps: those of the staircase (labels as in :meth:`BoundSpec.parse`).
DEFAULT_BOUNDS: tuple[str, ...] = STAIRCASE_BOUNDS

_SHIFTED = {"nwj": 1.0}  # critic log r + shift; every other score-based bound gets shift 0
_WITH_BASELINE_ZERO = {"tuba", "interpolated"}  # log a(y) = 0: a(y) = E_x r(x, y) = 1


def optimal_critic(name: str) -> str:
    """What the bound ``name`` is evaluated on in this experiment (see the module docstring)."""
    spec = BoundSpec.parse(name)
    if spec.name == "rate":
        return "log p(y|x), true log p(y)"
    if not spec.trained:
        return "log p(y|x)"
    shift = _SHIFTED.get(spec.name, 0.0)
    critic = f"{shift:g} + log r" if shift else "log r"
    return critic + (", log a(y) = 0" if spec.name in _WITH_BASELINE_ZERO else "")


@dataclass(frozen=True)
class BiasVarianceConfig:
    """The sweeps of the bias-variance experiment.

    Attributes:
        task: Task family (built with ``tasks.make(task, dim=dim, mi=...)``); needs ``log_ratio``,
            and ``log_conditional``/``log_marginal_y`` for the structured bounds.
        dim: Dimension of x and y.
        bounds: Bound labels for the MI and K sweeps.
        mi_grid: True MI values (nats) of the MI sweep.
        batch_size: K of the MI sweep and the α sweep.
        k_grid: Batch sizes of the K sweep.
        fixed_mi: True MI of the K sweep.
        alphas: α values of the α sweep of :math:`I_\\alpha`.
        alpha_mi: MI levels of the α sweep (one curve each).
        repeats: Independent batches per sweep point.
        seed: Seed of the batches.
        dtype: ``"float64"`` (default: the exact critics are evaluated without rounding trouble
            at 10 nats) or ``"float32"``.
        chunk_elements: Score-matrix entries evaluated at once (memory bound).
    """

    task: str = "gaussian"
    dim: int = 20
    bounds: tuple[str, ...] = DEFAULT_BOUNDS
    mi_grid: tuple[float, ...] = tuple(float(i) for i in range(11))
    batch_size: int = 64
    k_grid: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512)
    fixed_mi: float = 6.0
    alphas: tuple[float, ...] = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    alpha_mi: tuple[float, ...] = (2.0, 6.0, 10.0)
    repeats: int = 1000
    seed: int = 0
    dtype: str = "float64"
    chunk_elements: int = 1 << 22

    def __post_init__(self) -> None:
        for name in ("bounds", "mi_grid", "k_grid", "alphas", "alpha_mi"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, (str, int, float)) else tuple(value))
        tasks.get(self.task)
        for label in self.bounds:
            spec = BoundSpec.parse(label)
            if spec.name == "ba":
                raise ValueError("bound 'ba' needs a decoder q(x|y), which the tasks do not give; leave it out")
        if any(k < 2 for k in (*self.k_grid, self.batch_size)):
            raise ValueError(
                f"batch sizes must be >= 2 (the bounds need negatives), got {self.k_grid} and {self.batch_size}"
            )
        if any(not 0.0 <= a <= 1.0 for a in self.alphas):
            raise ValueError(f"alphas must lie in [0, 1], got {self.alphas}")
        if self.repeats < 2:
            raise ValueError(f"repeats must be >= 2 to estimate a variance, got {self.repeats}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")


def _evaluate(
    spec: BoundSpec, log_ratio: Tensor, log_conditional: Tensor | None, log_marginal: Tensor | None
) -> Tensor:
    """The bound on a stack of batches ``[R, K, K]`` with its optimal critic -> ``[R]``."""
    from torch.func import vmap

    info, kwargs = spec.info, spec.kwargs
    fn: Callable[..., Tensor]
    if spec.trained:
        scores = log_ratio + _SHIFTED.get(spec.name, 0.0)
        if spec.name in _WITH_BASELINE_ZERO:

            def fn(s: Tensor) -> Tensor:
                return info.fn(s, 0.0, **kwargs)
        elif spec.name == "mine":  # the value is DV whatever the moving average

            def fn(s: Tensor) -> Tensor:
                return info.fn(s, 0.0, **kwargs)
        else:

            def fn(s: Tensor) -> Tensor:
                return info.fn(s, **kwargs)

        return vmap(fn)(scores)
    if spec.name == "rate":
        return vmap(lambda c, m: info.fn(c, m, **kwargs))(log_conditional, log_marginal)
    return vmap(lambda c: info.fn(c, **kwargs))(log_conditional)


def estimates(
    config: BiasVarianceConfig, specs: Sequence[BoundSpec], mi: float, batch_size: int, seed: int
) -> np.ndarray:
    """Every bound's estimate on ``config.repeats`` fresh batches of ``batch_size`` pairs at ``mi`` nats.

    Each bound gets its optimal critic (module docstring); every bound sees the same batches.

    Args:
        config: Task, dimension, repeats, dtype.
        specs: The bounds.
        mi: True MI (nats).
        batch_size: K, pairs per batch.
        seed: Seed of the batches.

    Returns:
        ``[len(specs), repeats]`` estimates (nats).
    """
    from torch.func import vmap

    task = tasks.make(config.task, dim=config.dim, mi=mi)
    dtype = getattr(torch, config.dtype)
    structured = any(not s.trained for s in specs)
    with_marginal = any(s.name == "rate" for s in specs)
    generator = torch.Generator().manual_seed(seed)
    chunk = max(1, config.chunk_elements // (batch_size * batch_size))
    out = np.empty((len(specs), config.repeats))
    with torch.no_grad(), warnings.catch_warnings():
        # vmap falls back to a loop for one in-place op of the leave-one-out mixture: slower, exact.
        warnings.filterwarnings("ignore", message="There is a performance drop")
        for start in range(0, config.repeats, chunk):
            r = min(chunk, config.repeats - start)
            x, y = task.sample(r * batch_size, generator=generator, dtype=dtype)
            x, y = x.view(r, batch_size, -1), y.view(r, batch_size, -1)
            log_ratio = vmap(task.log_ratio)(x, y)
            log_conditional = vmap(task.log_conditional)(x, y) if structured else None
            log_marginal = vmap(task.log_marginal_y)(y) if with_marginal else None
            for b, spec in enumerate(specs):
                out[b, start : start + r] = _evaluate(spec, log_ratio, log_conditional, log_marginal).numpy()
    return out


_TITLE = "Bias and variance of each bound with its optimal critic"
_COLUMNS = ("sweep", "bound", "critic", "true_mi", "k", "alpha", "repeats", "mean", "bias", "variance", "mse", "se")


def _rows(sweep: str, specs: Sequence[BoundSpec], values: np.ndarray, mi: float, k: int) -> list[tuple[Any, ...]]:
    rows = []
    for spec, v in zip(specs, values, strict=True):
        summary = summarize_errors(v, mi)
        alpha = spec.kwargs.get("alpha", float("nan")) if spec.name == "interpolated" else float("nan")
        rows.append(
            (
                sweep,
                spec.label,
                optimal_critic(spec.label),
                mi,
                k,
                alpha,
                summary.count,
                summary.mean,
                summary.bias,
                summary.variance,
                summary.mse,
                summary.stderr,
            )
        )
    return rows


@dataclass
class BiasVarianceResult:
    """The three sweeps as one long table.

    Attributes:
        config: What produced it.
        table: One row per (sweep, bound, point): columns sweep (``"mi"``, ``"k"`` or ``"alpha"``),
            bound, critic (what it was evaluated on), true_mi, k, alpha, repeats (finite
            estimates), mean, bias, variance, mse, se (standard error of the mean).
        seconds: Wall-clock of the run.
    """

    config: BiasVarianceConfig
    table: Table
    seconds: float

    def _curves(self, sweep: str, x: str, label: Callable[[dict[str, Any]], str]) -> dict[str, Curve]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in self.table.where(sweep=sweep).records():
            groups.setdefault(label(record), []).append(record)
        return {
            name: Curve(
                np.array([r[x] for r in recs], dtype=float),
                {s: np.array([r[s] for r in recs], dtype=float) for s in ("bias", "variance", "mse")},
                dashed=sweep != "alpha" and BoundSpec.parse(name).info.kind == "upper",
            )
            for name, recs in groups.items()
        }

    def figure(self) -> Any:
        """Bias, variance and MSE against MI (top) and against K (bottom), one line per bound.

        Bounds whose curves coincide (e.g. NWJ and TUBA with their optimal critics) are drawn
        once with a joint label. A matplotlib ``Figure``, as :meth:`save` writes it.
        """
        return make_figure(self._draw, _FIGURE_SIZE)

    def alpha_figure(self) -> Any:
        """Bias, variance and MSE of I_alpha against alpha, one line per MI level (a ``Figure``)."""
        return make_figure(self._draw_alpha, _ALPHA_FIGURE_SIZE)

    def _draw(self, fig: Any) -> None:
        cfg = self.config
        axes = fig.subplots(2, 3, squeeze=False)
        by_mi = merge_identical(self._curves("mi", "true_mi", lambda r: r["bound"]))
        by_k = merge_identical(self._curves("k", "k", lambda r: r["bound"]))
        _line_panels(axes[0], by_mi, xlabel=f"true MI (nats), K = {cfg.batch_size}", logx=False)
        _line_panels(axes[1], by_k, xlabel=f"batch size K, I = {cfg.fixed_mi:g} nats", logx=True)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", fontsize=8)
        fig.tight_layout(rect=(0, 0, 0.83, 1))

    def _draw_alpha(self, fig: Any) -> None:
        axes = fig.subplots(1, 3, squeeze=False)[0]
        by_mi = self._curves("alpha", "alpha", lambda r: f"I = {r['true_mi']:g} nats")
        _line_panels(axes, by_mi, xlabel=f"alpha (K = {self.config.batch_size})", logx=False)
        for ax in axes:
            ax.set_xscale("log")
        axes[0].legend(fontsize=8)
        fig.tight_layout()

    def markdown(self) -> str:
        """Markdown tables: per sweep, rows = bounds, cells ``bias / variance``."""
        cfg = self.config
        parts = [
            f"### Bias / variance with the optimal critic ({cfg.task}, d = {cfg.dim}, "
            f"{cfg.repeats} batches per point; wall-clock {self.seconds:.1f} s)\n"
        ]
        for sweep, x, title in (
            ("mi", "true_mi", f"against the true MI (nats), K = {cfg.batch_size}"),
            ("k", "k", f"against the batch size K, I = {cfg.fixed_mi:g} nats"),
            ("alpha", "alpha", f"I_alpha against alpha, K = {cfg.batch_size}"),
        ):
            rows = self.table.where(sweep=sweep)
            if not rows.rows:
                continue
            if sweep == "alpha":
                key = "true_mi"
                points = sorted(set(rows.column("alpha")))
                compact = Table(("true MI", *(f"α = {a:g}" for a in points)), title=f"Bias / variance {title}")
                for mi in dict.fromkeys(rows.column(key)):
                    recs = {r["alpha"]: r for r in rows.where(true_mi=mi).records()}
                    compact.rows.append(
                        (mi, *(f"{short(recs[a]['bias'])} / {recs[a]['variance']:.3g}" for a in points))
                    )
            else:
                points = list(dict.fromkeys(rows.column(x)))
                compact = Table(("bound", "critic", *(f"{p:g}" for p in points)), title=f"Bias / variance {title}")
                for bound in dict.fromkeys(rows.column("bound")):
                    recs = {r[x]: r for r in rows.where(bound=bound).records()}
                    compact.rows.append(
                        (
                            bound,
                            recs[points[0]]["critic"],
                            *(f"{short(recs[p]['bias'])} / {recs[p]['variance']:.3g}" for p in points),
                        )
                    )
            parts.append(compact.to_markdown())
        return "\n".join(parts)

    def save(self, directory: str | Path, *, figures: bool = True) -> dict[str, Path]:
        """Write ``bias_variance.csv``, ``bias_variance.md``, ``bias_variance.json`` (the settings)
        and (with figures) ``bias_variance.png`` and ``alpha_sweep.png``; returns name -> path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = {
            "csv": self.table.to_csv(out / "bias_variance.csv"),
            "markdown": out / "bias_variance.md",
            "json": out / "bias_variance.json",
        }
        write_text(written["json"], json.dumps({"config": dataclasses.asdict(self.config), "seconds": self.seconds}))
        write_text(written["markdown"], self.markdown())
        if figures:
            if self.table.where(sweep="mi").rows or self.table.where(sweep="k").rows:
                written["png"] = write_figure(out / "bias_variance.png", self._draw, _FIGURE_SIZE)
            if self.table.where(sweep="alpha").rows:
                written["png_alpha"] = write_figure(out / "alpha_sweep.png", self._draw_alpha, _ALPHA_FIGURE_SIZE)
        return written


def load_result(directory: str | Path) -> BiasVarianceResult:
    """Read a result written by :meth:`BiasVarianceResult.save` (to re-make its tables and figures)."""
    folder = Path(directory)
    meta = json.loads((folder / "bias_variance.json").read_text())
    config = BiasVarianceConfig(**meta["config"])
    return BiasVarianceResult(config, Table.from_csv(folder / "bias_variance.csv", _TITLE), float(meta["seconds"]))


def run_bias_variance(
    config: BiasVarianceConfig | None = None, *, log: Callable[[str], None] | None = None
) -> BiasVarianceResult:
    """Run the three sweeps (MI, K, α) with the optimal critics.

    Args:
        config: The sweeps (default: 11 MI levels 0-10 nats at K = 64, K = 4-512 at 6 nats, 10 α
            values at 2, 6 and 10 nats; 1,000 batches per point).
        log: Called with a line of text per finished sweep.

    Returns:
        A :class:`BiasVarianceResult`.
    """
    config = config or BiasVarianceConfig()
    specs = [BoundSpec.parse(label) for label in config.bounds]
    table = Table(_COLUMNS, title=_TITLE)
    start = time.perf_counter()
    point = 0

    def seed() -> int:
        nonlocal point
        point += 1
        return config.seed * 1_000_003 + point

    for mi in config.mi_grid:
        table.rows += _rows("mi", specs, estimates(config, specs, mi, config.batch_size, seed()), mi, config.batch_size)
    if log is not None:
        log(f"bias-variance: MI sweep done ({time.perf_counter() - start:.1f} s)")
    for k in config.k_grid:
        table.rows += _rows("k", specs, estimates(config, specs, config.fixed_mi, k, seed()), config.fixed_mi, k)
    if log is not None:
        log(f"bias-variance: K sweep done ({time.perf_counter() - start:.1f} s)")
    alpha_specs = [BoundSpec.parse(f"interpolated:{a!r}") for a in config.alphas]
    for mi in config.alpha_mi if alpha_specs else ():
        values = estimates(config, alpha_specs, mi, config.batch_size, seed())
        table.rows += _rows("alpha", alpha_specs, values, mi, config.batch_size)
    seconds = time.perf_counter() - start
    if log is not None:
        log(f"bias-variance: alpha sweep done; {seconds:.1f} s wall-clock in all")
    return BiasVarianceResult(config, table, seconds)


# -- figures ------------------------------------------------------------------------------------

#: Sizes (inches) of the two figures: bias/variance/MSE against MI and K (2 x 3 panels), and
#: I_alpha against alpha (1 x 3 panels).
_FIGURE_SIZE = (15.0, 8.5)
_ALPHA_FIGURE_SIZE = (15.0, 4.2)


@dataclass(frozen=True)
class Curve:
    """One line of the figures of :class:`BiasVarianceResult` (bias, variance and MSE against x).

    Attributes:
        x: Abscissae.
        stats: ``"bias"``, ``"variance"``, ``"mse"`` -> values at ``x``.
        dashed: Draw dashed (the upper bounds).
    """

    x: np.ndarray
    stats: Mapping[str, np.ndarray]
    dashed: bool = False


def merge_identical(curves: Mapping[str, Curve]) -> dict[str, Curve]:
    """Merge curves with equal values into one labelled ``"a = b"`` (so none hides another)."""
    merged: dict[str, Curve] = {}
    for name, curve in curves.items():
        for other, kept in list(merged.items()):
            same = kept.x.shape == curve.x.shape and all(
                np.allclose(kept.stats[k], curve.stats[k], rtol=1e-9, atol=1e-12, equal_nan=True) for k in curve.stats
            )
            if same:
                merged[f"{other} = {name}"] = merged.pop(other)
                break
        else:
            merged[name] = curve
    return merged


def _line_panels(axes: Sequence[Any], curves: Mapping[str, Curve], *, xlabel: str, logx: bool) -> None:
    """Draw bias, variance and MSE of every curve on three ``axes``."""
    try:
        from matplotlib import colormaps

        palette = colormaps["tab20"].colors  # type: ignore[attr-defined]  # tab20 is a ListedColormap
    except (ImportError, KeyError):  # pragma: no cover - old matplotlib
        palette = tuple(f"C{i}" for i in range(10))
    for ax, (key, label) in zip(axes, _STATS, strict=True):
        for n, (name, curve) in enumerate(curves.items()):
            ax.plot(
                curve.x,
                curve.stats[key],
                marker="o",
                markersize=2.5,
                linewidth=1.2,
                color=palette[n % len(palette)],
                linestyle="--" if curve.dashed else "-",
                label=name,
            )
        if key == "bias":
            ax.axhline(0.0, color="black", linewidth=0.8)
        else:
            ax.set_yscale("symlog", linthresh=1e-2)
        if logx:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.set_title(label, fontsize=10)


_STATS = (("bias", "bias (nats)"), ("variance", "variance (nats²)"), ("mse", "MSE (nats²)"))
