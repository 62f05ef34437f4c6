r"""Standard error and confidence interval of a held-out estimate: cross-fitted or batch means.

A cross-fitted estimate (the default of :func:`mibounds.estimate`) is the mean of per-row values,
row i scored by the critic of its fold; rows of one fold share that critic's error, so the
standard error comes from the spread of the fold means (:func:`crossfit_interval`). An estimate
that is a bound's value is the mean over ``B`` disjoint held-out batches of ``K`` pairs
(:func:`batch_means_interval`).
Given the trained critic, the batch values are independent and identically distributed (the
batches share no samples), so

.. math::
    \hat I = \frac{1}{B}\sum_b v_b, \qquad
    \mathrm{se} = \frac{s_v}{\sqrt{B}}, \qquad
    \hat I \pm t_{B-1,\,(1+c)/2}\,\mathrm{se},

with ``s_v`` the sample standard deviation (``ddof = 1``) of the batch values and ``t`` the
Student-t quantile with ``B - 1`` degrees of freedom (it tends to the normal quantile; with few
batches the normal one would give too short an interval). That interval is for the expected value
of the bound *for this critic at batch size K*.

A critic trained on n rows is not the best critic of its family, and on fresh rows it scores
below that best value :math:`L^*`. To first order the shortfall equals the excess of the same
critic's value on its own training rows (the symmetry behind Akaike's information criterion,
Efron's "optimism"):

.. math::
    \mathbb E\,\hat L_\text{train} - L^* \;\approx\; L^* - \mathbb E\,\hat L_\text{test}
    \;\approx\; \frac{\operatorname{tr}(J^{-1} V)}{2n},

so the held-out mean is low by about half of the measured generalization gap
:math:`g = \bar v_\text{train} - \bar v_\text{test}`. :func:`heldout_interval` and
:func:`crossfit_interval` keep the held-out mean as the estimate and extend the interval's upper
end by :math:`\max(g, 0)/2`:

.. math::
    \left[\hat I - t\,\mathrm{se},\; \hat I + t\,\mathrm{se} + \max(g, 0)/2\right].

The interval then describes I(X; Y) when the critic family can express the density ratio and
learns it from the rows at hand. It cannot cover what the critic never learned: a bound pinned at
its ceiling (InfoNCE at log K; the result warns) or a dependence the critic misses (the spiral
task of the accuracy suite is the example: no critic we tried learns its rotation from 10,000
rows). Measured
coverage: ``mibounds bench accuracy`` (docs/accuracy.md) and the slow tests of ``tests/estimation``.

References:
    Batch means, e.g. Flegal & Jones (2010), "Batch means and spectral variance estimators in
    Markov chain Monte Carlo", Annals of Statistics 38(2). The optimism of a fitted model:
    Akaike (1973), "Information theory and an extension of the maximum likelihood principle";
    Efron (1986), "How biased is the apparent error rate of a prediction rule?", JASA 81(394).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mibounds.validation import check_probability

__all__ = [
    "Interval",
    "batch_means_interval",
    "crossfit_interval",
    "heldout_interval",
    "one_sided_lower",
    "student_t_quantile",
]


@dataclass(frozen=True)
class Interval:
    """A mean with its standard error and a two-sided confidence interval (nats).

    Attributes:
        estimate: Mean of the batch values.
        stderr: Standard error of the mean.
        low: Lower end of the interval.
        high: Upper end of the interval.
        confidence: Coverage level of the interval, e.g. 0.95.
        num_batches: Number of batch values B.
        generalization_gap: Mean training value minus mean held-out value of the same critic
            (0 when the interval covers test noise only); ``high`` includes half of it.
    """

    estimate: float
    stderr: float
    low: float
    high: float
    confidence: float
    num_batches: int
    generalization_gap: float = 0.0


def student_t_quantile(p: float, dof: float) -> float:
    """Quantile of the Student-t distribution with ``dof`` degrees of freedom.

    Uses the Cornish-Fisher expansion of t around the normal quantile z (Abramowitz & Stegun
    26.7.5), accurate to about 1e-3 for ``dof >= 5`` at the usual levels, and exact forms for
    ``dof`` 1 and 2.

    Args:
        p: Probability in (0, 1).
        dof: Degrees of freedom, > 0.

    Returns:
        The p-quantile.
    """
    p = check_probability(p, "p", allow_zero=False, allow_one=False)
    if dof <= 0:
        raise ValueError(f"dof must be > 0, got {dof}")
    if dof == 1:  # Cauchy
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        a = 4 * p * (1 - p)
        return (2 * p - 1) * math.sqrt(2 / a)
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4


def batch_means_interval(batch_values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean, standard error and ``confidence`` interval from independent batch values.

    Args:
        batch_values: One bound value per disjoint batch, ``[B]`` with ``B >= 2``.
        confidence: Two-sided coverage in (0, 1).

    Returns:
        The :class:`Interval` (see the module docstring for the formulas).

    Raises:
        ValueError: With fewer than 2 values or non-finite ones.
    """
    confidence = check_probability(confidence, "confidence", allow_zero=False, allow_one=False)
    values = np.asarray(batch_values, dtype=np.float64).ravel()
    if len(values) < 2:
        raise ValueError(
            f"a standard error needs at least 2 batch values, got {len(values)}; "
            "use more test rows or a smaller batch size"
        )
    if not np.isfinite(values).all():
        raise ValueError("batch values contain NaN or inf; the critic diverged")
    mean = float(values.mean())
    stderr = float(values.std(ddof=1) / math.sqrt(len(values)))
    half = student_t_quantile((1 + confidence) / 2, len(values) - 1) * stderr
    return Interval(mean, stderr, mean - half, mean + half, confidence, len(values))


def heldout_interval(
    test_values: Sequence[float] | np.ndarray,
    train_values: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
) -> Interval:
    """The held-out estimate with an interval that allows for the critic's generalization gap.

    The batch-means interval of ``test_values`` with its upper end raised by half the gap between
    the critic's mean value on training batches and on test batches (module docstring).

    Args:
        test_values: The bound on disjoint held-out batches, ``[B]``, ``B >= 2``.
        train_values: The same critic's bound on disjoint training batches of the same size.
        confidence: Two-sided coverage in (0, 1).

    Returns:
        The :class:`Interval`, with ``generalization_gap`` set.

    Example:
        >>> interval = heldout_interval([1.9, 2.0, 1.8, 1.9], [2.1, 2.0, 2.0, 2.1])
        >>> round(interval.generalization_gap, 3), interval.high > batch_means_interval([1.9, 2.0, 1.8, 1.9]).high
        (0.15, True)
    """
    interval = batch_means_interval(test_values, confidence)
    train = np.asarray(train_values, dtype=np.float64).ravel()
    if len(train) == 0 or not np.isfinite(train).all():
        raise ValueError("training batch values are empty or contain NaN/inf; the critic diverged")
    gap = float(train.mean()) - interval.estimate
    return dataclasses.replace(interval, high=interval.high + max(gap, 0.0) / 2, generalization_gap=gap)


def crossfit_interval(
    values: Sequence[float] | np.ndarray,
    folds: Sequence[int] | np.ndarray,
    confidence: float = 0.95,
    train_mean: float | None = None,
) -> Interval:
    r"""Mean of per-row held-out values, with a standard error that counts each critic's own error.

    The rows of fold m are scored by critic m, so the fold means :math:`\bar v_m` share that
    critic's error while different folds do not. The estimate is the mean of all values; its
    standard error is the larger of the fold-means one and the per-row one,

    .. math::
        \mathrm{se} = \max\left(\frac{s(\bar v_1, \dots, \bar v_F)}{\sqrt F},\;
            \frac{s(v)}{\sqrt n}\right),

    and the interval uses the Student-t quantile with F - 1 degrees of freedom. With
    ``train_mean`` (the same critics' mean on as many of their own training rows), the upper end
    is raised by half the generalization gap, as in :func:`heldout_interval`.

    Args:
        values: ``[n]`` held-out values, e.g. log-ratio values of the positive pairs.
        folds: ``[n]`` the fold (critic) of each value; at least two folds.
        confidence: Two-sided coverage in (0, 1).
        train_mean: Mean of the same quantity on training rows, or None for no gap allowance.

    Returns:
        The :class:`Interval` (``num_batches`` = the number of folds).

    Example:
        >>> values = [1.0, 1.2, 0.9, 1.1, 1.3, 0.8]
        >>> interval = crossfit_interval(values, [0, 0, 1, 1, 2, 2])
        >>> round(interval.estimate, 3), interval.num_batches, interval.low < 1.05 < interval.high
        (1.05, 3, True)
    """
    confidence = check_probability(confidence, "confidence", allow_zero=False, allow_one=False)
    values = np.asarray(values, dtype=np.float64).ravel()
    folds = np.asarray(folds).ravel()
    if len(values) != len(folds) or len(values) < 2:
        raise ValueError(
            f"need one fold per value and at least 2 values, got {len(values)} values and {len(folds)} folds"
        )
    if not np.isfinite(values).all():
        raise ValueError("held-out values contain NaN or inf; the critic diverged")
    labels = np.unique(folds)
    if len(labels) < 2:
        raise ValueError(f"a cross-fitted standard error needs at least 2 folds, got {len(labels)}")
    fold_means = np.array([values[folds == label].mean() for label in labels])
    mean = float(values.mean())
    stderr = max(
        float(fold_means.std(ddof=1)) / math.sqrt(len(labels)), float(values.std(ddof=1)) / math.sqrt(len(values))
    )
    half = student_t_quantile((1 + confidence) / 2, len(labels) - 1) * stderr
    interval = Interval(mean, stderr, mean - half, mean + half, confidence, len(labels))
    if train_mean is None:
        return interval
    gap = float(train_mean) - mean
    return dataclasses.replace(interval, high=interval.high + max(gap, 0.0) / 2, generalization_gap=gap)


def one_sided_lower(interval: Interval) -> float:
    """The one-sided lower confidence limit at ``interval.confidence``: ``estimate - t * stderr``.

    Uses the Student-t quantile with ``num_batches - 1`` degrees of freedom (the fold count for a
    :func:`crossfit_interval`, the batch count for :func:`batch_means_interval`).
    """
    quantile = student_t_quantile(interval.confidence, max(interval.num_batches - 1, 1))
    return interval.estimate - quantile * interval.stderr
