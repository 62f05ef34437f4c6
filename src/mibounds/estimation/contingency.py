r"""Two categorical variables: the MI of their contingency table, honest when the table is sparse.

For n rows with class counts :math:`a_i` (x) and :math:`b_j` (y) and cell counts :math:`n_{ij}`,
the plug-in MI

.. math::
    \hat I = \sum_{ij} \frac{n_{ij}}{n} \log \frac{n\, n_{ij}}{a_i b_j}

is biased up by about :math:`(K_x - 1)(K_y - 1) / (2n)` when every cell holds many rows
(Miller 1955), and by far more when the table has as many cells as rows: 600 rows of two
independent 100-class labels give 2.3 nats where the truth is 0, and the Miller–Madow term
corrects a sixth of it. Two estimates that stay below I, each made for one regime:

- **The plug-in less its value under independence**: :math:`\hat I - E_0`, where
  :math:`E_0 = \mathbb E[\hat I \mid a, b, X \perp Y]` is the expected plug-in MI of a table with
  these margins and no dependence, exact under the permutation (hypergeometric) model
  (:func:`expected_plugin_mi`; Vinh, Epps & Bailey 2010). It is unbiased for independent labels
  however sparse the table, and tends to :math:`\hat I` less the Miller–Madow term as the table
  fills. A dependent table's plug-in bias is smaller than an independent one's with the same
  margins (its rows crowd fewer cells), so on a sparse dependent table it is low.
- **A held-out classifier of counts**: row i, in fold m, gets
  :math:`\log q_m(y_i \mid x_i) - \log \hat p_m(y_i)`, where :math:`\hat p_m` are the class
  frequencies of the other folds (smoothed: :math:`(n_c + 1/2) / (n_m + C/2)`) and
  :math:`q_m(y \mid x) = (n_{xy} + \alpha \hat p_m(y)) / (n_x + \alpha)` their smoothed
  conditional frequencies, with :math:`\alpha` chosen by leave-one-out likelihood on those rows.
  Its mean is :math:`I - \mathrm{KL}(p(y \mid x) \| q) + \mathrm{KL}(p(y) \| \hat p)`; for
  independent labels the chosen :math:`\alpha` is large and the value is 0. It learns a sparse
  dependence (rows that repeat a pairing) that the first misses, and loses to it on a
  well-sampled table. The side with fewer classes is predicted.

The estimate is the larger of the two; the lower bound the larger of their one-sided limits at
level :math:`1 - (1 - c)/2` each (a union bound: both hold with probability at least c). The
interval runs from the lower end of the same construction at :math:`(1 + c)/2` to the larger of
the plug-in and Miller–Madow values plus their margin, because the true MI of a sparse table lies
between what these estimates say: measured coverage over classes 2 to 1,000 and n 200 to 20,000
is in docs/questions.md (``python benchmarks/bench_categorical.py``). The standard error of the
first estimate combines the delta method's sd(log r̂)/√n with the spread of :math:`\hat I` over
random re-pairings of the rows (its exact sd under independence, which the delta method misses
when the cells are sparse).

References:
    Miller (1955), "Note on the bias of information estimates". Paninski (2003), "Estimation of
    entropy and mutual information", Neural Computation 15. Vinh, Epps & Bailey (2010),
    "Information theoretic measures for clusterings comparison", JMLR 11 (the expected MI under
    the permutation model). Krichevsky & Trofimov (1981) for the smoothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from mibounds.estimation.uncertainty import Interval, crossfit_interval, student_t_quantile

__all__ = ["ContingencyEstimate", "contingency_estimate", "expected_plugin_mi", "heldout_count_values", "plugin_mi"]

#: Rows a cell, on average, below which the table counts as sparse (the chi-square rule of thumb).
SPARSE_ROWS_PER_CELL = 5
#: Re-pairings of the rows that measure the plug-in's spread under independence.
NULL_PERMUTATIONS = 200
# Smoothing strengths tried by the held-out count classifier (plus infinity: the class frequencies).
_ALPHAS = np.logspace(-2, 4, 25)


@dataclass(frozen=True)
class ContingencyEstimate:
    """The MI of two categorical variables (nats) and how it was made.

    Attributes:
        interval: The estimate, its standard error and its interval.
        lower_bound: The one-sided lower confidence limit at ``interval.confidence``.
        plugin: The plug-in MI :math:`\\hat I`.
        expected_null: :math:`E_0`, its expected value under independence given the margins.
        heldout: The held-out count classifier's mean value.
        ceiling: The smaller plug-in entropy of the two sides (the most I can be).
        notes: Warnings (a sparse table).
    """

    interval: Interval
    lower_bound: float
    plugin: float
    expected_null: float
    heldout: float
    ceiling: float
    notes: list[str] = field(default_factory=list)


def plugin_mi(x_codes: np.ndarray, y_codes: np.ndarray) -> tuple[float, np.ndarray]:
    """The plug-in MI of two label arrays (codes from 0) and each row's :math:`\\log \\hat r(x_i, y_i)`.

    Example:
        >>> import numpy as np
        >>> mi, log_ratio = plugin_mi(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]))
        >>> round(mi, 4), log_ratio.shape
        (0.6931, (4,))
    """
    n = len(x_codes)
    a, b = np.bincount(x_codes), np.bincount(y_codes)
    _, cell, joint = np.unique(x_codes.astype(np.int64) * len(b) + y_codes, return_inverse=True, return_counts=True)
    log_ratio = np.log(n * joint[cell.ravel()] / (a[x_codes] * b[y_codes]))
    return float(log_ratio.mean()), log_ratio


def expected_plugin_mi(row_counts: np.ndarray, column_counts: np.ndarray) -> float:
    """The expected plug-in MI of a table with these margins when the rows are paired at random.

    .. math::
        E_0 = \\sum_{i,j} \\sum_{k} \\frac{k}{n} \\log \\frac{n k}{a_i b_j}
            \\binom{a_i}{k} \\binom{n - a_i}{b_j - k} \\Big/ \\binom{n}{b_j},

    k over :math:`\\max(1, a_i + b_j - n) \\dots \\min(a_i, b_j)` (a cell's count is
    hypergeometric). Margins that repeat are summed once, so the cost is the number of distinct
    row counts times distinct column counts times the largest cell.

    Args:
        row_counts: ``[Kx]`` rows of each x class (all positive).
        column_counts: ``[Ky]`` rows of each y class; the same total n.

    Returns:
        :math:`E_0` in nats.

    Example:
        >>> import numpy as np
        >>> round(expected_plugin_mi(np.array([50, 50]), np.array([50, 50])), 5)  # about 1 / (2n)
        0.00508
    """
    n = int(row_counts.sum())
    ub, weight_b = np.unique(column_counts, return_counts=True)
    b = torch.as_tensor(ub, dtype=torch.float64)[:, None]
    total = 0.0
    for a_value, weight_a in zip(*np.unique(row_counts, return_counts=True), strict=True):
        a = float(a_value)
        k = torch.arange(1, int(min(a_value, ub.max())) + 1, dtype=torch.float64)[None, :]
        valid = (k <= b) & (k >= a + b - n)
        k_safe = torch.where(valid, k, torch.ones_like(k))
        log_pmf = (
            _log_binomial(a, k_safe) + _log_binomial(n - a, b - k_safe) - _log_binomial(float(n), b)
        )  # log P(cell = k)
        terms = k_safe / n * torch.log(n * k_safe / (a * b)) * torch.exp(log_pmf)
        per_column = torch.where(valid, terms, torch.zeros_like(terms)).sum(1).numpy()
        total += float(weight_a) * float((per_column * weight_b).sum())
    return total


def _log_binomial(top: float | torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    top = torch.as_tensor(top, dtype=torch.float64)
    rest = torch.clamp(top - k, min=0.0)
    return torch.lgamma(top + 1) - torch.lgamma(k + 1) - torch.lgamma(rest + 1)


def null_spread(x_codes: np.ndarray, y_codes: np.ndarray, permutations: int, rng: np.random.Generator) -> float:
    """The standard deviation of the plug-in MI over random re-pairings of the rows (its exact
    sampling sd under independence given the margins, estimated from ``permutations`` draws)."""
    values = [plugin_mi(x_codes, rng.permutation(y_codes))[0] for _ in range(permutations)]
    return float(np.std(values, ddof=1))


def heldout_count_values(
    x_codes: np.ndarray, y_codes: np.ndarray, num_folds: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row held-out values :math:`\\log q_m(y_i \\mid x_i) - \\log \\hat p_m(y_i)` of the smoothed
    count classifier (module docstring), and each row's fold.

    Example:
        >>> import numpy as np
        >>> x = np.repeat(np.arange(4), 50)
        >>> values, folds = heldout_count_values(x, x, 5, np.random.default_rng(0))  # y = x: log 4
        >>> bool(1.3 < values.mean() < 1.5), sorted(set(folds.tolist()))
        (True, [0, 1, 2, 3, 4])
    """
    n, kx, ky = len(x_codes), int(x_codes.max()) + 1, int(y_codes.max()) + 1
    folds = np.empty(n, dtype=np.int64)
    folds[rng.permutation(n)] = np.arange(n) % num_folds
    values = np.empty(n)
    for m in range(num_folds):
        train, test = folds != m, folds == m
        x_train, y_train = x_codes[train], y_codes[train]
        prior = (np.bincount(y_train, minlength=ky) + 0.5) / (len(y_train) + ky / 2)
        row_totals = np.bincount(x_train, minlength=kx)
        cells, cell_counts = np.unique(x_train.astype(np.int64) * ky + y_train, return_counts=True)
        own = cell_counts[np.searchsorted(cells, x_train.astype(np.int64) * ky + y_train)]
        alpha = _loo_alpha(own, row_totals[x_train], prior[y_train])
        test_cells = x_codes[test].astype(np.int64) * ky + y_codes[test]
        where = np.minimum(np.searchsorted(cells, test_cells), len(cells) - 1)
        counts = np.where(cells[where] == test_cells, cell_counts[where], 0)
        p = prior[y_codes[test]]
        if math.isinf(alpha):
            values[test] = 0.0
        else:
            values[test] = np.log((counts + alpha * p) / (row_totals[x_codes[test]] + alpha)) - np.log(p)
    return values, folds


def _loo_alpha(cell: np.ndarray, row: np.ndarray, prior: np.ndarray) -> float:
    """The smoothing strength whose leave-one-out log likelihood of the training rows is largest
    (infinity: the class frequencies alone)."""
    best, chosen = float(np.log(prior).mean()), math.inf
    for alpha in _ALPHAS:
        score = float(np.log((cell - 1 + alpha * prior) / (row - 1 + alpha)).mean())
        if score > best:
            best, chosen = score, float(alpha)
    return chosen


def contingency_estimate(
    x_codes: np.ndarray, y_codes: np.ndarray, confidence: float, seed: int, num_folds: int = 5
) -> ContingencyEstimate:
    """The MI of two categorical variables with its interval and lower bound (module docstring).

    Args:
        x_codes: ``[n]`` class codes of x, from 0 (:func:`~mibounds.estimation.discrete.as_labels`).
        y_codes: ``[n]`` class codes of y.
        confidence: Coverage of the interval (two-sided) and of the lower bound (one-sided).
        seed: Seed of the folds and of the re-pairings.
        num_folds: Folds of the held-out count classifier.

    Returns:
        The :class:`ContingencyEstimate`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.integers(0, 100, 600), rng.integers(0, 100, 600)  # independent, 10,000 cells
        >>> result = contingency_estimate(x, y, 0.95, seed=0)
        >>> round(result.plugin, 1), abs(result.interval.estimate) < 0.1, result.lower_bound <= 0
        (2.7, True, True)
    """
    n = len(x_codes)
    plugin, log_ratio = plugin_mi(x_codes, y_codes)
    a, b = np.bincount(x_codes), np.bincount(y_codes)
    a, b = a[a > 0], b[b > 0]
    expected = expected_plugin_mi(a, b)
    rng = np.random.default_rng(seed)
    spread = null_spread(x_codes, y_codes, NULL_PERMUTATIONS, rng)
    stderr = math.hypot(float(log_ratio.std(ddof=1)) / math.sqrt(n), spread)
    features, target = (x_codes, y_codes) if len(b) <= len(a) else (y_codes, x_codes)  # predict fewer classes
    values, folds = heldout_count_values(features, target, num_folds, rng)
    held = crossfit_interval(values, folds, confidence)
    adjusted = plugin - expected
    estimate = max(adjusted, held.estimate)

    def lower(level: float) -> float:  # both one-sided limits at 1 - (1 - level), so both hold at `level`
        z_adjusted = student_t_quantile(level, n - 1)
        z_held = student_t_quantile(level, num_folds - 1)
        return max(adjusted - z_adjusted * stderr, held.estimate - z_held * held.stderr)

    occupied = int(np.unique(x_codes.astype(np.int64) * len(b) + y_codes).size)
    miller_madow = plugin - (occupied - len(a) - len(b) + 1) / (2 * n)
    high = max(plugin, miller_madow, estimate) + student_t_quantile((1 + confidence) / 2, n - 1) * stderr
    # The standard error of the estimate that was chosen; a classifier that learned nothing (all
    # values 0) has none, and then the plug-in's sampling noise is the one to report.
    chosen_stderr = held.stderr if held.estimate > adjusted and held.stderr > 0 else stderr
    interval = Interval(estimate, chosen_stderr, lower(1 - (1 - confidence) / 4), high, confidence, n)
    entropies = [float(-(c / n * np.log(c / n)).sum()) for c in (a, b)]
    notes = _sparse_notes(len(a), len(b), n, plugin, expected)
    return ContingencyEstimate(
        interval, lower(1 - (1 - confidence) / 2), plugin, expected, held.estimate, min(entropies), notes
    )


def _sparse_notes(kx: int, ky: int, n: int, plugin: float, expected: float) -> list[str]:
    """A warning when the table has fewer than :data:`SPARSE_ROWS_PER_CELL` rows a cell."""
    if n >= SPARSE_ROWS_PER_CELL * kx * ky:
        return []
    return [
        f"the contingency table is sparse: {kx} x {ky} = {kx * ky} cells for {n} rows (under "
        f"{SPARSE_ROWS_PER_CELL} a cell), so the plug-in MI ({plugin:.3f} nats) is mostly bias: independent labels "
        f"with these margins give {expected:.3f} on average. The estimate is the larger of the plug-in less that "
        "value and a held-out classifier of the counts, both low when the labels are dependent; the interval "
        "reaches up to the plug-in value. More rows, or fewer classes (merge rare ones), narrow it"
    ]
