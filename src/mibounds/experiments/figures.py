"""Figures and tables shared by the published experiments (staircase, bias-variance, critics).

Plotting uses matplotlib's object-oriented API on an Agg canvas (no ``pyplot``, no global backend
change), imported lazily so that the experiments run without the ``plot`` extra; only writing a
figure needs it. Tables are small column-named row lists written as Markdown or CSV without pandas.

Example:
    >>> from mibounds.experiments.figures import Table
    >>> table = Table(("bound", "bias"), [("nwj", 0.1234), ("infonce", -1.5)])
    >>> print(table.to_markdown(digits=2, right={"bias"}))
    | bound | bias |
    |---|---:|
    | nwj | 0.12 |
    | infonce | -1.50 |
    <BLANKLINE>
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "CRITIC_COLORS",
    "Curve",
    "StaircasePanel",
    "Table",
    "alpha_sweep_figure",
    "bias_variance_figure",
    "ema",
    "merge_identical",
    "new_figure",
    "save_figure",
    "short",
    "staircase_figure",
]

#: Line colours per critic (raw estimates are drawn with the same colour, light).
CRITIC_COLORS: dict[str, str] = {
    "separable": "tab:blue",
    "concat": "tab:orange",
    "bilinear": "tab:purple",
    "conditional": "tab:green",
}
_FALLBACK_COLORS = ("tab:red", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def _color(critic: str, index: int) -> str:
    return CRITIC_COLORS.get(critic, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


# -- numbers -----------------------------------------------------------------------------------


def ema(values: np.ndarray, span: float = 200.0) -> np.ndarray:
    r"""Exponential moving average along the last axis, with the start-up bias corrected.

    With :math:`a = 2 / (\mathrm{span} + 1)`, entry t is
    :math:`\sum_{s \le t} (1-a)^{t-s} v_s / \sum_{s \le t} (1-a)^{t-s}` (pandas'
    ``ewm(span=span, adjust=True).mean()``, the smoothing of Poole et al. 2019's figures).
    Non-finite values are skipped (they neither update the average nor break it).

    Args:
        values: ``[..., T]``.
        span: The span; the weight of a value halves after about ``0.35 * span`` steps.

    Returns:
        ``[..., T]`` float64, NaN until the first finite value of a series.
    """
    if span < 1:
        raise ValueError(f"span must be >= 1 (a span of 1 is no smoothing), got {span}")
    values = np.asarray(values, dtype=np.float64)
    decay = 1.0 - 2.0 / (span + 1.0)
    out = np.empty_like(values)
    numerator = np.zeros(values.shape[:-1])
    denominator = np.zeros(values.shape[:-1])
    # A loop over time with vector state: every series advances together.
    for t in range(values.shape[-1]):
        v = values[..., t]
        finite = np.isfinite(v)
        numerator = np.where(finite, decay * numerator + np.where(finite, v, 0.0), numerator)
        denominator = np.where(finite, decay * denominator + 1.0, denominator)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., t] = numerator / denominator
    return out


# -- tables ------------------------------------------------------------------------------------


def _format(value: Any, digits: int) -> str:
    if isinstance(value, str):
        return value.replace("|", "\\|")  # a bare | would end the Markdown cell
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** (-digits)):
            return f"{value:.{digits}e}"
        return f"{value:.{digits}f}"
    return str(value)


def short(value: float) -> str:
    """A number for a table cell: 2 decimals up to 1000 in magnitude, 3 significant digits above."""
    return f"{value:.2f}" if abs(value) < 1000 or not math.isfinite(value) else f"{value:.3g}"


@dataclass
class Table:
    """A table: named columns and rows of values (numbers or strings).

    Attributes:
        columns: Column names.
        rows: One tuple per row, in column order.
        title: Optional caption (Markdown output puts it above the table).
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    title: str = ""

    def __post_init__(self) -> None:
        self.columns = tuple(self.columns)
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} values but the table has {len(self.columns)} columns")

    def column(self, name: str) -> list[Any]:
        """The values of one column."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.columns)}")
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def where(self, **equal: Any) -> Table:
        """The rows whose columns equal the given values, e.g. ``table.where(bound="infonce")``."""
        index = {name: self.columns.index(name) for name in equal}
        rows = [r for r in self.rows if all(r[i] == equal[n] for n, i in index.items())]
        return Table(self.columns, rows, self.title)

    def to_markdown(
        self, digits: int = 3, *, right: Collection[str] = (), cell: Callable[[Any], str] | None = None
    ) -> str:
        """A GitHub-flavoured Markdown table.

        Args:
            digits: Decimals of floats (with the default ``cell``).
            right: Columns aligned right (``---:``), e.g. the numeric ones.
            cell: Formats one value as cell text (it must escape ``|``); default: floats with
                ``digits`` decimals (scientific when very large or small), text with ``|`` escaped.
        """
        text = cell or (lambda value: _format(value, digits))
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---:" if name in right else "---" for name in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(text(v) for v in row) + " |")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_csv(cls, path: str | Path, title: str = "") -> Table:
        """Read a table written by :meth:`to_csv` (numbers come back as int or float)."""

        def parse(text: str) -> Any:
            for kind in (int, float):
                try:
                    return kind(text)
                except ValueError:
                    pass
            return text

        with Path(path).open(newline="") as f:
            reader = csv.reader(f)
            columns = next(reader)
            return cls(tuple(columns), [tuple(parse(v) for v in row) for row in reader], title)

    def to_csv(self, path: str | Path, *, cell: Callable[[Any], Any] | None = None) -> Path:
        """Write the table as CSV (UTF-8) and return the path.

        Args:
            path: The file to write.
            cell: Converts one value for the writer; default: as is (floats at full precision).
        """
        path = Path(path)
        rows = self.rows if cell is None else [tuple(cell(v) for v in row) for row in self.rows]
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows(rows)
        return path


# -- figures -----------------------------------------------------------------------------------


def require_matplotlib(skip_flag: str | None = None) -> None:
    """Raise ImportError now if matplotlib is missing: call it before the work whose figures it draws.

    Args:
        skip_flag: The option that turns figures off, named in the message (e.g. ``"--no-figures"``).

    Raises:
        ImportError: One line naming the extra to install.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        hint = f" (or pass {skip_flag})" if skip_flag else ""
        raise ImportError(
            f"writing figures needs matplotlib; install it with: pip install 'mibounds[plot]'{hint}"
        ) from None


def new_figure(
    width: float, height: float, *, layout: Literal["constrained", "compressed", "tight"] | None = None
) -> Any:
    """A matplotlib ``Figure`` on an Agg canvas (no pyplot state), or a clear ImportError.

    Every figure of the package is made here: the user's matplotlib backend and pyplot state are
    never touched.

    Args:
        width: Width in inches.
        height: Height in inches.
        layout: matplotlib's layout engine (e.g. ``"constrained"``), or None.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("writing figures needs matplotlib; install it with: pip install 'mibounds[plot]'") from error
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` (PNG unless the suffix names another format; ``dpi`` 100 keeps committed figures
    small), making the folder if needed, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format=path.suffix[1:].lower() or "png")
    return path


@dataclass(frozen=True)
class StaircasePanel:
    """One panel of :func:`staircase_figure`: the curves of one bound.

    Attributes:
        title: Panel title (the bound's label).
        curves: Per critic name, the raw per-step estimates ``[T]``.
        ceilings: Dashed horizontal lines: label -> value (e.g. ``{"log K": 4.16}``).
    """

    title: str
    curves: Mapping[str, np.ndarray]
    ceilings: Mapping[str, float] = field(default_factory=dict)


def staircase_figure(
    panels: Sequence[StaircasePanel],
    true_mi: np.ndarray,
    *,
    title: str = "",
    span: float = 200.0,
    columns: int = 4,
    ylim: tuple[float, float] | None = None,
) -> Any:
    """The staircase figure of Poole et al. 2019 (their fig. 2): one panel per bound.

    Each panel draws, per critic, the raw estimates (light) and their EMA of span ``span`` (dark),
    the true MI (black) and the bound's ceilings (dashed grey, labelled).

    Args:
        panels: The panels, in reading order.
        true_mi: ``[T]`` true MI per step (nats).
        title: Figure title.
        span: EMA span of the dark curves.
        columns: Panels per row.
        ylim: y range; default ``(-1, max(true_mi) + 3)`` so diverging estimates leave the frame.

    Returns:
        The matplotlib ``Figure``.
    """
    rows = max(1, math.ceil(len(panels) / columns))
    fig = new_figure(3.2 * columns, 2.4 * rows + (0.5 if title else 0.0))
    axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    steps = np.arange(len(true_mi))
    top = float(np.max(true_mi)) + 3.0
    ylim = ylim if ylim is not None else (-1.0, top)
    critics_seen: dict[str, int] = {}
    # Every curve's EMA in one pass (the recursion runs over time, vectorized over curves).
    raw = [values for panel in panels for values in panel.curves.values()]
    smooth = iter(ema(np.stack(raw), span)) if raw else iter(())
    for ax, panel in zip(axes.flat, panels, strict=False):
        for critic, values in panel.curves.items():
            index = critics_seen.setdefault(critic, len(critics_seen))
            color = _color(critic, index)
            ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.4, rasterized=True)
            smoothed = next(smooth)
            ax.plot(steps, smoothed, color=color, linewidth=1.4, label=critic)
            off = np.mean((smoothed < ylim[0]) | (smoothed > ylim[1]))
            if off > 0.5:  # say so, rather than leave an empty-looking panel
                ax.text(
                    0.03,
                    0.9 - 0.1 * index,
                    f"{critic}: EMA off scale {100 * off:.0f}% of steps",
                    transform=ax.transAxes,
                    fontsize=7,
                    color=color,
                )
        ax.plot(steps, true_mi, color="black", linewidth=1.0, label="true MI")
        for label, value in panel.ceilings.items():
            ax.axhline(value, color="0.4", linestyle="--", linewidth=1.0)
            if ylim[0] < value < ylim[1]:
                ax.text(steps[-1], value, f" {label}", fontsize=7, color="0.3", ha="right", va="bottom")
        ax.set_title(panel.title, fontsize=10)
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    for ax in axes[:, 0]:
        ax.set_ylabel("MI (nats)")
    handles, labels = [], []
    for ax in axes.flat[: len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.98 if title else 1))
    return fig


@dataclass(frozen=True)
class Curve:
    """One line of :func:`bias_variance_figure` / :func:`alpha_sweep_figure`.

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
        palette = _FALLBACK_COLORS
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
        ax.grid(alpha=0.3)


_STATS = (("bias", "bias (nats)"), ("variance", "variance (nats²)"), ("mse", "MSE (nats²)"))


def bias_variance_figure(
    by_mi: Mapping[str, Curve],
    by_k: Mapping[str, Curve],
    *,
    batch_size: int,
    fixed_mi: float,
) -> Any:
    """Bias, variance and MSE of every bound with its optimal critic (Poole et al. 2019, fig. 3).

    Bounds whose curves coincide (e.g. NWJ and TUBA with their optimal critics) are drawn once
    with a joint label.

    Args:
        by_mi: bound -> curve over the true MI at batch size ``batch_size``.
        by_k: bound -> curve over the batch size at MI ``fixed_mi``.
        batch_size: K of the top row.
        fixed_mi: MI of the bottom row.

    Returns:
        The matplotlib ``Figure`` (2 rows x 3 columns, one legend).
    """
    fig = new_figure(15, 8.5)
    axes = fig.subplots(2, 3, squeeze=False)
    _line_panels(axes[0], merge_identical(by_mi), xlabel=f"true MI (nats), K = {batch_size}", logx=False)
    _line_panels(axes[1], merge_identical(by_k), xlabel=f"batch size K, I = {fixed_mi:g} nats", logx=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    return fig


def alpha_sweep_figure(
    by_mi: Mapping[str, Curve],
    *,
    batch_size: int,
) -> Any:
    """Bias, variance and MSE of the interpolated bound I_alpha against alpha, one line per MI.

    Args:
        by_mi: curve label (e.g. ``"I = 6 nats"``) -> curve over alpha.
        batch_size: K.

    Returns:
        The matplotlib ``Figure`` (1 row x 3 columns).
    """
    fig = new_figure(15, 4.2)
    axes = fig.subplots(1, 3, squeeze=False)[0]
    _line_panels(axes, by_mi, xlabel=f"alpha (K = {batch_size})", logx=False)
    for ax in axes:
        ax.set_xscale("log")
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
