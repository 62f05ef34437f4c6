"""Conditional mutual information I(X; Y | Z) by the chain rule, with shared folds:
:func:`conditional_estimate` (also ``mibounds.estimate(x, y, z)``).

.. math::
    I(X; Y \\mid Z) = I(X; (Y, Z)) - I(X; Z).

Both terms are estimated by :func:`~mibounds.estimation.pipeline.run` with the same settings and
the same seed, hence the same fold plan: row i is held out from the critic of its fold in both.
The estimate is the mean over rows of the per-row difference of the two held-out log density
ratios,

.. math::
    \\hat I(X; Y \\mid Z) = \\frac1n \\sum_i \\left[\\log \\hat r_{X;YZ}(x_i, y_i, z_i)
        - \\log \\hat r_{X;Z}(x_i, z_i)\\right],

and its interval is :func:`~mibounds.estimation.crossfit_interval` of those differences, so the
errors the two terms share (the rows, the folds, the part of log r that depends on (x, z) only)
cancel in the spread instead of adding up. For Gaussian data the two Gaussian critics make it the
plug-in Gaussian conditional MI, exact in expectation up to the held-out fitting error.

Needs a bound whose optimal critic is the log density ratio (``js``, ``smile``, ``nwj``). There is
no certified lower bound for a difference of two estimates, so none is reported; the two terms'
own results (each with its lower bound) are kept as ``joint`` and ``marginal``.

Reference:
    Chain rule of mutual information: Cover & Thomas (2006), Elements of Information Theory,
    Theorem 2.5.2. Cross-fitting: Chernozhukov et al. (2018).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from mibounds.estimation._runtime import issue_warnings, resolve_seed
from mibounds.estimation.data import as_array, check_pair, pair_rows
from mibounds.estimation.discrete import is_categorical
from mibounds.estimation.heldout import HeldoutValues
from mibounds.estimation.pipeline import run
from mibounds.estimation.result import EstimateResult, ResultBase
from mibounds.estimation.settings import make_settings, options_signature
from mibounds.estimation.uncertainty import crossfit_interval
from mibounds.validation import check_finite_rows

__all__ = ["ConditionalEstimateResult", "conditional_estimate"]


@dataclass(repr=False)
class ConditionalEstimateResult(ResultBase):
    """A held-out estimate of I(X; Y | Z) in nats, with its interval and the two chain-rule terms.

    Attributes:
        estimate: Mean per-row difference of the held-out log ratios (nats).
        ci_low, ci_high: The interval at ``confidence``.
        stderr: Its standard error (fold spread or per-row spread, the larger).
        confidence: Coverage of the interval.
        generalization_gap: Training-row minus held-out mean of the difference (half of a
            positive gap raises ``ci_high``).
        joint: The result for I(X; (Y, Z)).
        marginal: The result for I(X; Z).
        n: Rows.
        random_state: The seed both terms used.
        seconds: Wall time of both fits.
        warnings: The two terms' warnings, each saying which term it concerns.
    """

    estimate: float
    ci_low: float
    ci_high: float
    stderr: float
    confidence: float
    generalization_gap: float
    joint: EstimateResult
    marginal: EstimateResult
    n: int
    random_state: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Lines for people: the estimate with its interval, then the two terms."""
        level = f"{100 * self.confidence:g}%"
        return (
            f"I(X;Y|Z) = {self.estimate:.3f} nats, {level} CI [{self.ci_low:.3f}, {self.ci_high:.3f}] "
            f"(stderr {self.stderr:.3f}; chain rule I(X;Y,Z) - I(X;Z), per-row differences on shared folds)\n"
            f"I(X;Y,Z) = {self.joint.estimate:.3f} [{self.joint.ci_low:.3f}, {self.joint.ci_high:.3f}], "
            f"I(X;Z) = {self.marginal.estimate:.3f} [{self.marginal.ci_low:.3f}, {self.marginal.ci_high:.3f}]; "
            f"{self.n} rows, {self.seconds:.1f} s"
        )

    def _repr_items(self) -> list[str]:
        return [
            f"estimate={self.estimate:.4f}",
            f"ci=[{self.ci_low:.4f}, {self.ci_high:.4f}]",
            f"joint={self.joint.estimate:.4f}",
            f"marginal={self.marginal.estimate:.4f}",
            f"n={self.n}",
        ]


def conditional_estimate(x: Any, y: Any, z: Any, **options: Any) -> ConditionalEstimateResult:
    """Estimate I(X; Y | Z) in nats: two cross-fitted estimates on shared folds, differenced per row.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.
        z: ``[n, dz]`` the conditioning variables, row i with row i of x and y.
        **options: The options of :class:`~mibounds.estimation.settings.EstimatorSettings` (the
            same for both terms).

    Returns:
        The :class:`ConditionalEstimateResult`.

    Raises:
        ValueError / TypeError: For bad inputs or settings, naming the fix.

    Example:
        >>> import mibounds
        >>> from mibounds.tasks import ConditionalGaussian
        >>> task = ConditionalGaussian.collider(dim=1)  # I(X; Y) = 0, I(X; Y | Z) = log(4/3) / 2 = 0.144
        >>> x, y, z = task.sample(2000, seed=0)
        >>> result = mibounds.conditional_estimate(x, y, z, max_steps=100, random_state=0, progress=False)
        >>> result.ci_low < task.conditional_mutual_information < result.ci_high
        True
    """
    start = time.perf_counter()
    settings = make_settings(options)
    (x, y, z), pairing = pair_rows([x, y, z], ["x", "y", "z"])
    xa, _ = as_array(x, "x")
    ya, _ = as_array(y, "y")
    za, _ = as_array(z, "z")
    n = check_pair(xa, ya)
    if len(za) != n:
        raise ValueError(f"z has {len(za)} rows but x and y have {n}; pass one row of z per row of x and y")
    check_finite_rows(za, "z", inputs="x, y and z")
    _check_numbers(xa, ya, za, settings.discrete)
    seed = resolve_seed(settings.random_state)
    settings = settings.replace(random_state=seed, discrete="none")
    joint = run(xa, np.hstack([ya, za]), settings)
    held_joint = cast(HeldoutValues, joint.heldout)  # numbers (not categories): the pipeline sets it
    if held_joint.log_ratio is None:
        raise ValueError(
            f"conditional MI needs a bound whose optimal critic is the log density ratio (js, smile or nwj); "
            f"{joint.result.bound!r} reports a batch value, which cannot be differenced row by row: pass bound='js'"
        )
    marginal = run(xa, za, settings)
    held_marginal = cast(HeldoutValues, marginal.heldout)
    # The same seed and row count give the same fold plan, so the per-row values line up.
    if not np.array_equal(held_joint.log_ratio_fold, held_marginal.log_ratio_fold):
        raise RuntimeError("the two chain-rule terms were given different fold plans; please report this")
    difference = held_joint.log_ratio - held_marginal.log_ratio
    train_mean = held_joint.train_log_ratio - held_marginal.train_log_ratio  # type: ignore[operator]
    confidence = joint.result.confidence
    interval = crossfit_interval(difference, held_joint.log_ratio_fold, confidence, train_mean)
    notes = pairing + [f"I(X;Y,Z): {w}" for w in joint.result.warnings]
    notes += [f"I(X;Z): {w}" for w in marginal.result.warnings]
    result = ConditionalEstimateResult(
        estimate=interval.estimate,
        ci_low=interval.low,
        ci_high=interval.high,
        stderr=interval.stderr,
        confidence=confidence,
        generalization_gap=interval.generalization_gap,
        joint=joint.result,
        marginal=marginal.result,
        n=n,
        random_state=seed,
        seconds=time.perf_counter() - start,
        warnings=notes,
    )
    issue_warnings(notes)
    return result


def _check_numbers(x: np.ndarray, y: np.ndarray, z: np.ndarray, discrete: str) -> None:
    """Refuse categories: the chain rule differences two held-out log density ratios row by row,
    which the categorical estimates (a classifier's bound, a contingency table) do not give."""
    if discrete in ("x", "y", "both"):
        raise ValueError(
            f"conditional MI needs numbers, but discrete={discrete!r} makes a side categorical; pass discrete='none' "
            "(integer labels are then numbers), or encode the categories as one-hot columns"
        )
    if discrete == "auto":
        labelled = [name for name, values in (("x", x), ("y", y), ("z", z)) if is_categorical(values)]
        if labelled:
            raise ValueError(
                f"conditional MI needs numbers, but {' and '.join(labelled)} {'hold' if len(labelled) > 1 else 'holds'} "
                "only a few distinct whole numbers, "
                "which discrete='auto' reads as labels; pass discrete='none' to treat them as numbers"
            )


conditional_estimate.__signature__ = options_signature(  # type: ignore[attr-defined]
    *(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in ("x", "y", "z"))
)
