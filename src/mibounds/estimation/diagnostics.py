"""Why an estimate may not be trusted: the checks behind :attr:`EstimateResult.warnings`, and the
refusals of data too small to estimate from. Each note is one sentence that names the cause and
what to do about it."""

from __future__ import annotations

import math

import numpy as np

from mibounds import validation
from mibounds.estimation.heldout import HeldoutEstimate
from mibounds.estimation.training import TrainingOutcome

__all__ = [
    "whole_number_notes",
    "MIN_FOLD_ROWS",
    "GAP_ALLOWANCE_FLOOR",
    "MIN_HELDOUT_BATCHES",
    "NON_GAUSSIAN_Z",
    "PINNED_MARGIN",
    "RAW_SCALE_RANGE",
    "check_fold_sizes",
    "check_scaled",
    "constant_column_notes",
    "deterministic_notes",
    "diagnose",
    "kurtosis_z",
]

#: Fewest rows a fold may hold.
MIN_FOLD_ROWS = 8
#: Fewer held-out batch values than this give a standard error that is itself too noisy.
MIN_HELDOUT_BATCHES = 10
#: An estimate this close (nats) to a ceiling is reported as pinned.
PINNED_MARGIN = 1.0
#: |Mardia kurtosis z| above this says the normal scores are not jointly Gaussian (under
#: Gaussianity z is about N(0, 1), so 4 is a false alarm about once in 16,000 fits).
NON_GAUSSIAN_Z = 4.0
#: The interval's allowance for the generalization gap (half the gap, nats) is reported as
#: dominating when it is above this and above twice the noise half-width.
GAP_ALLOWANCE_FLOOR = 0.05


def constant_column_notes(values: np.ndarray, columns: list[str], name: str) -> list[str]:
    constant = validation.constant_columns(values)
    if not constant:
        return []
    shown = ", ".join(repr(columns[j]) for j in constant[:10]) + (", ..." if len(constant) > 10 else "")
    if len(constant) == values.shape[1]:
        return [
            f"every column of {name} is constant ({shown}): it carries no information, so the "
            "MI is 0; check that you passed the right data"
        ]
    return [f"{name} has constant columns {shown}: they carry no information; drop them"]


def whole_number_notes(values: np.ndarray, columns: list[str], name: str, most: int) -> list[str]:
    """A note per float column that holds only a few distinct whole numbers: labels written as numbers?

    As numbers, their order and spacing are taken to mean something (class 9 is "near" class 8),
    which a label's do not; ``discrete=`` says which side holds categories.
    """
    notes = []
    for j in range(values.shape[1]):
        column = values[:, j]
        distinct = np.unique(column[np.isfinite(column)])
        if 2 <= len(distinct) <= most and np.array_equal(distinct, np.round(distinct)):
            notes.append(
                f"{name} column {columns[j]!r} holds only {len(distinct)} distinct whole numbers "
                f"({_short_values(distinct)}): if they are class labels, pass discrete={name!r} (or 'both'), "
                "since as numbers their order and spacing are taken to mean something"
            )
    return notes


def _short_values(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:5])
    return shown + (", ..." if len(values) > 5 else "")


def diagnose(
    held: HeldoutEstimate,
    outcome: TrainingOutcome,
    *,
    batch_size: int,
    bound: str,
    gaussian_only_z: float | None = None,
) -> list[str]:
    """Sentences saying why the estimate may not be trusted (empty when nothing is wrong).

    Args:
        held: The held-out estimate, its interval and the certified lower bound.
        outcome: How training went.
        batch_size: K.
        bound: The bound's registry name.
        gaussian_only_z: The Mardia kurtosis z of the scaled rows when the estimate is the
            Gaussian critic's alone (the learned critics never improved on it), else None.
    """
    return [
        *_training_notes(outcome, bound, gaussian_only_z),
        *_ceiling_notes(held, batch_size, bound),
        *_model_notes(held),
        *_interval_notes(held, batch_size),
    ]


def _training_notes(outcome: TrainingOutcome, bound: str, gaussian_only_z: float | None) -> list[str]:
    notes = []
    if gaussian_only_z is not None and abs(gaussian_only_z) > NON_GAUSSIAN_Z:
        why, fix = (
            ("the Gaussian critic alone was asked for (critic=None)", "a learned critic (the default) may find it")
            if outcome.stopped == "no_parameters"
            else (
                "yet the learned critics never improved on the Gaussian critic on held-out rows",
                "more rows, more max_steps/patience or a larger critic may find it",
            )
        )
        notes.append(
            f"the rows are not jointly Gaussian after normal scores (Mardia kurtosis z = {gaussian_only_z:.1f}), "
            f"{why}: the estimate is the Gaussian (canonical-correlation) part of the dependence, and non-Gaussian "
            f"dependence may be missed (in either direction); {fix}"
        )
    if outcome.stopped == "diverged":
        notes.append(
            f"training diverged (NaN/inf loss, weights or optimizer state) by step {outcome.steps}; "
            f"stopped and restored the weights of step {outcome.best_step}: {_divergence_fix(bound)}"
        )
    if outcome.stopped == "max_steps":
        how = (
            "while the validation objective was still improving"
            if outcome.still_improving
            else f"before its patience ran out (best check at step {outcome.best_step})"
        )
        notes.append(
            f"training stopped at max_steps = {outcome.steps} {how}, so the critics may be undertrained: "
            "pass a larger max_steps"
        )
    return notes


def _ceiling_notes(held: HeldoutEstimate, batch_size: int, bound: str) -> list[str]:
    notes = []
    value, ceiling, certified_ceiling = held.interval.estimate, held.ceiling, held.values.infonce_ceiling
    if ceiling is not None and value > ceiling - PINNED_MARGIN:
        ceiling_name = "log K" if math.isclose(ceiling, math.log(batch_size)) else "its ceiling"
        notes.append(
            f"the {bound} estimate {value:.3f} is pinned at {ceiling_name} = {ceiling:.3f} "
            f"(within {PINNED_MARGIN:g} nat at batch size K = {batch_size}), so the MI may be much "
            "larger: use the default bound (js), whose estimate has no such ceiling"
        )
    if value > certified_ceiling - PINNED_MARGIN:
        notes.append(
            f"the estimate {value:.3f} nats is near or above the most that held-out blocks of these rows "
            f"can certify (log {math.exp(certified_ceiling):.0f} = {certified_ceiling:.3f} nats): the lower "
            f"bound ({held.certified.estimate:.3f}) is capped there, and the estimate rests on the critics' "
            "model of the density ratio, which these rows cannot check; more rows raise the cap"
        )
    return notes


def _model_notes(held: HeldoutEstimate) -> list[str]:
    """The checks of :mod:`mibounds.estimation.model_check`, as sentences."""
    check = held.check
    notes: list[str] = []
    if check is None:
        return notes
    if check.unnormalized:
        notes.append(
            f"the critics are not density ratios: their mean over held-out independent pairs is "
            f"e^{check.log_normalizer:.1f} where a density ratio's is 1 (Markov's inequality rejects 1 at "
            f"{100 * (1 - held.interval.confidence):g} %), so they score some independent pairs far too high: their "
            "model of the density ratio is wrong and the estimate may be off either way (too high where they "
            "overrate pairs, too low where they miss dependence); the interval now reaches down to the certified "
            "lower bound, which holds for any critic (its upper end is still the critics' own: no upper end can be certified "
            "from samples)"
        )
    if check.below_dv and check.dv is not None:
        notes.append(
            f"the held-out Donsker-Varadhan value {check.dv.estimate:.3f} [{check.dv.low:.3f}, {check.dv.high:.3f}] "
            "(a lower bound on I for any critic) is above the estimate's interval: the estimate is too low, and the "
            "interval now reaches up to it; the critics' model misses part of the dependence"
        )
    if check.below_certified:
        notes.append(
            f"the certified lower bound {held.certified.estimate:.3f} is above the estimate's interval: the estimate "
            "is too low, and the interval now reaches up to it; the critics' model misses part of the dependence"
        )
    return notes


def _interval_notes(held: HeldoutEstimate, batch_size: int) -> list[str]:
    notes = []
    interval, value = held.interval, held.interval.estimate
    if interval.high < 0:
        notes.append(
            f"the estimate is below 0 with its whole interval ({value:.3f} nats, upper end "
            f"{interval.high:.3f}) while MI is >= 0: the critics score held-out pairs worse than "
            "independence would (overfitting or too few rows); try a smaller critic or more rows"
        )
    half_width = interval.estimate - interval.low
    allowance = interval.generalization_gap / 2
    if allowance > max(2 * half_width, GAP_ALLOWANCE_FLOOR):
        notes.append(
            f"the interval is dominated by the critics' generalization gap ({interval.generalization_gap:.3f} "
            f"nats between training and held-out rows, against a noise half-width of {half_width:.3f}): the "
            "critics overfit; more rows or a smaller critic narrow it"
        )
    if held.method == "bound" and len(held.values.batch_values) < MIN_HELDOUT_BATCHES:
        notes.append(
            f"only {len(held.values.batch_values)} held-out batches of {batch_size} rows: too few samples for this "
            "batch size, so the standard error is itself unreliable; pass more rows or a smaller batch_size"
        )
    return notes


def check_fold_sizes(n: int, num_folds: int) -> None:
    if n // num_folds < MIN_FOLD_ROWS:
        need = MIN_FOLD_ROWS * num_folds
        raise ValueError(
            f"too few rows: {n} rows give folds of {n // num_folds} with num_folds = {num_folds}, and an "
            f"estimate needs at least {MIN_FOLD_ROWS} rows per fold; pass at least {need} rows"
        )


#: With ``standardize=False`` the critics need columns whose spread is within this range of 1.
RAW_SCALE_RANGE = (1e-6, 1e6)


def check_scaled(values: np.ndarray, columns: list[str], name: str, standardize: object) -> None:
    """Refuse scaled inputs the critics cannot use: non-finite values, or (without
    standardization) columns whose spread is far from 1, where float32 critics under- or overflow.

    Raises:
        ValueError: Naming the columns and the fix.
    """
    if not np.isfinite(values).all():
        raise ValueError(
            f"{name} has values that are not finite after standardize={standardize!r}; pass standardize=True "
            "(normal scores work at any scale)"
        )
    if standardize is False or standardize is None:
        spread = values.std(axis=0)
        low, high = RAW_SCALE_RANGE
        bad = [j for j, s in enumerate(spread) if s > 0 and not low <= s <= high]
        if bad:
            shown = ", ".join(f"{columns[j]!r} (std {spread[j]:.3g})" for j in bad[:5])
            raise ValueError(
                f"{name} has columns whose spread is far from 1 ({shown}); with standardize=False the critics "
                f"need a std within [{low:g}, {high:g}]: pass standardize=True (normal scores) or 'zscore'"
            )


def deterministic_notes(x: np.ndarray, y: np.ndarray, x_columns: list[str], y_columns: list[str]) -> list[str]:
    """A note when a column of y is the same as a column of x, or its negative, on every row.

    Applied to the scaled columns: after normal scores, "the same" means y_j is an increasing
    (or decreasing) function of x_i, a deterministic invertible relation, under which I(X; Y) is
    infinite for continuous data. Any estimate is then set by the critic and n, not by the data.
    """

    def key(column: np.ndarray) -> bytes:
        return np.round(column, 9).tobytes()

    seen = {key(x[:, i]): i for i in range(x.shape[1])}
    seen.update({key(-x[:, i]): i for i in range(x.shape[1])})
    pairs = [(seen[key(y[:, j])], j) for j in range(y.shape[1]) if key(y[:, j]) in seen]
    if not pairs or len(np.unique(x[:, pairs[0][0]])) < 3:  # constant or binary columns: not continuous
        return []
    i, j = pairs[0]
    return [
        f"y column {y_columns[j]!r} is a monotone function of x column {x_columns[i]!r} on every row (a "
        "deterministic invertible relation): for continuous data the MI is then infinite, and any estimate "
        "is a property of the critic and the number of rows, not of the data"
    ]


def kurtosis_z(values: np.ndarray) -> float:
    r"""Mardia's multivariate kurtosis of the rows ``[n, p]`` as a z-score against the Gaussian.

    :math:`b_2 = \frac1n \sum_i d_i^4` with :math:`d_i^2` the squared Mahalanobis distance of row i
    under the sample covariance; for Gaussian rows :math:`E b_2 = p(p + 2)(n - 1)/(n + 1)` exactly
    (the sample covariance pulls the distances in: 7 standard deviations below p(p + 2) at
    p = 1,000, n = 10,000) with variance about :math:`8p(p+2)/n`, so
    :math:`z = (b_2 - E b_2) / \sqrt{8p(p+2)/n}` is about N(0, 1). Heavy joint tails give z >> 0,
    bounded or mixed-uniform shapes z << 0.

    Reference:
        Mardia (1970), "Measures of multivariate skewness and kurtosis with applications",
        Biometrika 57(3).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> abs(kurtosis_z(rng.normal(size=(5000, 4)))) < 4, kurtosis_z(rng.standard_t(3, size=(5000, 4))) > 4
        (True, True)
    """
    centred = values - values.mean(axis=0)
    n, p = centred.shape
    covariance = centred.T @ centred / n
    covariance += 1e-9 * np.trace(covariance) / p * np.eye(p)
    distances = np.einsum("ij,ij->i", centred @ np.linalg.inv(covariance), centred)
    expected = p * (p + 2)
    return float((np.mean(distances**2) - expected * (n - 1) / (n + 1)) / np.sqrt(8 * expected / n))


def _divergence_fix(bound: str) -> str:
    """One fix for a diverged run that does not point back at the settings in use."""
    if bound in ("js", "infonce"):
        return "use a smaller learning_rate (e.g. a tenth of this one)"
    return f"use a smaller learning_rate, or bound='js' (the default), whose objective stays finite where {bound}'s does not"


#: Above this many nats the Gaussian critic's first-order fitting correction is itself uncertain.
LARGE_FIT_PENALTY = 0.25


def fit_penalty_notes(correction: float, dim_x: int, dim_y: int, rows: int) -> list[str]:
    """A warning when the Gaussian critic's fitting correction is large (many columns for the rows)."""
    if correction <= LARGE_FIT_PENALTY:
        return []
    return [
        f"the Gaussian critic fits {dim_x} x {dim_y} cross-covariances from {rows} rows per fold, so its held-out "
        f"values are about {correction:.2f} nats low; the estimate adds that first-order correction back, which "
        "is itself approximate at this size: more rows or fewer columns (e.g. a PCA of each side) make it reliable"
    ]
