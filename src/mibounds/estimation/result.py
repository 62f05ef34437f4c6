"""The result of one estimate: the held-out number, its uncertainty, and how it was obtained.

Example:
    >>> import numpy as np
    >>> from mibounds import estimate
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(600, 1))
    >>> result = estimate(x, x + rng.normal(size=(600, 1)), max_steps=50, random_state=0, progress=False)
    >>> result.ci_low <= result.estimate <= result.ci_high, result.to_dict()["estimate"] == result.estimate
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EstimateResult", "ResultBase"]


class ResultBase:
    """What every result of the estimators shares (:class:`mibounds.interfaces.Result`).

    A subclass is a dataclass (declared with ``repr=False``) with a ``warnings`` list, and writes
    :meth:`summary` and :meth:`_repr_items`; the base gives it ``to_dict()`` (JSON-safe, nested
    results without their learning curves), ``str()`` (the summary, then one line per warning)
    and ``repr()``.
    """

    warnings: list[str]

    def summary(self) -> str:
        """Lines for people: the number and how it was obtained."""
        raise NotImplementedError

    def _repr_items(self) -> list[str]:
        """``name=value`` items of :func:`repr`, the most telling first."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-serializable Python values (non-finite floats become None; the
        results nested in this one lose their learning curves)."""
        fields = asdict(self)  # type: ignore[call-overload]
        for name, value in fields.items():
            if isinstance(value, dict) and isinstance(getattr(self, name), ResultBase):
                value.pop("history", None)
        return _json_safe(fields)

    def __str__(self) -> str:
        return "\n".join([self.summary()] + [f"warning: {w}" for w in self.warnings])

    def __repr__(self) -> str:
        items = [*self._repr_items(), f"warnings={len(self.warnings)}"]
        return f"{type(self).__name__}({', '.join(items)})"


@dataclass(repr=False)
class EstimateResult(ResultBase):
    """A held-out mutual-information estimate (nats), its uncertainty, a lower bound, provenance.

    Two numbers, each honest about what it is:

    - ``estimate`` with ``[ci_low, ci_high]``: the best guess. With ``method == "log-ratio"``
      (bounds ``js``, ``smile``, ``nwj``) it is the mean over all rows of the log density ratio
      that the critic of the row's fold (never trained on it) assigns; with ``method == "bound"``
      it is the bound's value averaged over disjoint held-out batches of ``batch_size`` pairs
      (it then depends on K, and InfoNCE never exceeds log K). The interval counts the folds'
      critics' own errors and, on its upper end, half of ``generalization_gap`` (see
      :mod:`mibounds.estimation.uncertainty`).
    - ``lower_bound``: "at least this much", with one-sided confidence ``confidence``: InfoNCE of
      the same critics on held-out blocks, which no critic can push above I in expectation, minus
      its confidence margin. It never exceeds ``lower_bound_ceiling`` (log of the block size), the
      most these rows can certify.

    Attributes:
        estimate: Held-out estimate of I(X; Y) in nats.
        ci_low: Lower end of the two-sided ``confidence`` interval.
        ci_high: Upper end (noise plus half the generalization gap).
        stderr: Standard error of ``estimate``.
        confidence: Coverage level of the interval and of the lower bound.
        lower_bound: One-sided lower confidence limit of I (nats), from ``lower_bound_value``.
        lower_bound_value: The held-out InfoNCE value itself (a lower bound in expectation).
        lower_bound_ceiling: ``log B``, the most the lower bound can reach (B rows per block).
        method: ``"log-ratio"`` (plug-in mean log density ratio), ``"bound"`` (the bound's
            held-out value at batch size K), ``"barber-agakov"`` (a categorical side: H plus the
            held-out mean log q of a classifier) or ``"plug-in"`` (both categorical).
        bound: Registry name of the bound that trained the critics.
        critic: What scored the pairs: ``"gaussian+mixture"`` (the Gaussian critic plus a
            learned residual), ``"gaussian"``, ``"mixture"``, or a module's class name.
        gaussian_mi: MI of the fitted Gaussian critics (mean over folds), or None without them.
        num_folds: F, critics trained (one per fold); every row is evaluated by one of them.
        n: Rows used.
        batch_size: K, the pairs per training batch (and per batch of a ``"bound"`` estimate).
        steps: Optimizer steps taken.
        best_step: Step whose weights were restored (best validation objective; 0 = initial).
        stopped: Why training ended: ``"early_stopping"``, ``"max_steps"``, ``"diverged"``, or
            ``"no_parameters"`` (``critic=None``: the Gaussian critic alone, nothing to train).
        seconds: Wall time of the whole call.
        device: Where the critics were trained.
        threads: CPU threads the estimate ran on: groups of fold members at once times torch
            threads a group (the ``threads`` option; two where two cores are usable, by default).
        log_normalizer: The log-mean of the critics' density ratio over held-out independent
            pairs (0 for a true density ratio; above log(1 / (1 - confidence)) the critics are
            shown not to be one, and the interval reaches down to the lower bound; see
            :mod:`mibounds.estimation.model_check`), or None.
        normalizer_pairs: The effective number of independent pairs behind ``log_normalizer``
            (few: a handful of pairs dominate the mean, and only its Markov test is trusted).
        random_state: Seed that reproduces this run.
        ceiling: Largest value a ``"bound"`` estimate can take at this K (log K for InfoNCE), or
            None.
        generalization_gap: The critics' mean on as many of their own training rows minus the
            held-out estimate (nats): how much better they score rows they were fitted to.
        bias_correction: Nats added to the held-out log ratios for the Gaussian critic's fitting
            penalty ``dx * dy / (2 n_fit)`` (:func:`~mibounds.estimation.heldout.gaussian_fit_penalty`);
            0 without a Gaussian critic.
        patience: Validation checks without improvement that ended training (the setting, or
            the one chosen from the data and the best check's step; see
            :class:`~mibounds.estimation.MIEstimator`), or None where nothing was trained.
        unmixed: Whether each side's columns were unmixed by independent component analysis
            before their normal scores (:mod:`~mibounds.estimation.unmixing`; the ``unmix`` option).
        reduced: The columns of x and y the critics saw where a wide side was projected onto its
            leading principal components (:mod:`~mibounds.estimation.reduction`; the ``reduce``
            option), else None.
        history: Learning curves: ``{"step": [...], "train": [...], "validation": [...]}``, the
            mean training bound since the previous check and the validation objective at each check.
        warnings: Reasons to distrust the number, one sentence each (also issued as warnings).
    """

    estimate: float
    ci_low: float
    ci_high: float
    stderr: float
    confidence: float
    lower_bound: float
    lower_bound_value: float
    lower_bound_ceiling: float
    method: str
    bound: str
    critic: str
    gaussian_mi: float | None
    num_folds: int
    n: int
    batch_size: int
    steps: int
    best_step: int
    stopped: str
    seconds: float
    device: str
    random_state: int
    ceiling: float | None = None
    generalization_gap: float = 0.0
    bias_correction: float = 0.0
    patience: int | None = None
    unmixed: bool = False
    reduced: tuple[int, int] | None = None
    threads: int | None = None
    log_normalizer: float | None = None
    normalizer_pairs: float | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Three lines for people: the estimate, the lower bound, and how they were obtained."""
        level = f"{100 * self.confidence:g}%"
        what = {
            "log-ratio": "mean log density ratio",
            "barber-agakov": f"Barber-Agakov bound: held-out E log q(y|x) / p(y) with a {self.critic}",
            "plug-in": "from the contingency table: the plug-in less its value under independence, or held-out counts",
        }.get(self.method, f"{self.bound} value at K = {self.batch_size}")
        if self.method in ("barber-agakov", "plug-in"):
            certified = (
                f"at least {self.lower_bound:.3f} nats with {level} confidence (one-sided limit of the same value)"
                if self.lower_bound > 0
                else f"no dependence certified with {level} confidence (one-sided limit {self.lower_bound:.3f} <= 0)"
            )
            return (
                f"I(X;Y) = {self.estimate:.3f} nats, {level} CI [{self.ci_low:.3f}, {self.ci_high:.3f}] "
                f"(stderr {self.stderr:.3f}; {what}; at most the entropy {self.ceiling:.3f})\n"
                f"{certified}\n"
                + (
                    f"{self.num_folds}-fold cross-fitted on {self.n} rows, K = {self.batch_size}, {self.steps} steps "
                    f"({self.stopped}, best step {self.best_step}), generalization gap {self.generalization_gap:.3f}, "
                    if self.method == "barber-agakov"
                    else f"{self.n} rows, "
                )
                + f"{self.seconds:.1f} s on {self.device}"
            )
        ceiling = f", ceiling {self.ceiling:.3f}" if self.ceiling is not None else ""
        gaussian = f"; Gaussian part {self.gaussian_mi:.3f}" if self.gaussian_mi is not None else ""
        certified = (
            f"at least {self.lower_bound:.3f} nats with {level} confidence"
            if self.lower_bound > 0
            else f"no dependence certified with {level} confidence (one-sided limit {self.lower_bound:.3f} <= 0)"
        )
        return (
            f"I(X;Y) = {self.estimate:.3f} nats, {level} CI [{self.ci_low:.3f}, {self.ci_high:.3f}] "
            f"(stderr {self.stderr:.3f}; held-out {what}{ceiling}{gaussian})\n"
            f"{certified} (held-out InfoNCE "
            f"{self.lower_bound_value:.3f}, at most log B = {self.lower_bound_ceiling:.3f})\n"
            f"critic {self.critic}{self._columns_seen()} trained with {self.bound}, {self.num_folds}-fold cross-fitted on "
            f"{self.n} rows, K = {self.batch_size}, {self.steps} steps ({self.stopped}, patience {self.patience}, "
            f"best step {self.best_step}), generalization gap {self.generalization_gap:.3f}"
            + (f", Gaussian fit correction +{self.bias_correction:.3f}" if self.bias_correction else "")
            + f", {self.seconds:.1f} s on {self.device}"
        )

    def _columns_seen(self) -> str:
        """What the critics saw where it was not the normal scores of the columns as given."""
        seen = []
        if self.reduced is not None:
            seen.append(f"{self.reduced[0]} + {self.reduced[1]} principal components")
        if self.unmixed:
            seen.append("unmixed columns (FastICA)")
        return " on " + " of ".join(reversed(seen)) if seen else ""

    def _repr_items(self) -> list[str]:
        return [
            f"estimate={self.estimate:.4f}",
            f"ci=[{self.ci_low:.4f}, {self.ci_high:.4f}]",
            f"lower_bound={self.lower_bound:.4f}",
            f"stderr={self.stderr:.4f}",
            f"confidence={self.confidence:g}",
            f"method={self.method!r}",
            f"bound={self.bound!r}",
            f"critic={self.critic!r}",
            f"n={self.n}",
            f"steps={self.steps}",
        ]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy / torch scalars
        return _json_safe(value.item())
    return value
