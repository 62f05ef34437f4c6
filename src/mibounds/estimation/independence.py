"""Is there any dependence between X and Y? A permutation test with an exact p-value:
:func:`independence_test`.

Procedure (one training, then cheap held-out evaluations):

1. Split the rows at random into a training part and a test part (``test_size``).
2. Fit the estimator (:func:`~mibounds.estimation.pipeline.run`) on the training part only (its cross-fitted
   estimate is reported too). The critic of the test is the average of its fold critics,
   :math:`f = \\frac1F \\sum_m f_m`: a fixed function of the training rows.
3. On the m test rows, the statistic is how much higher f scores the observed pairs than all
   pairs,

   .. math::
       T = \\frac1m \\sum_i f(x_i, y_i) - \\frac1{m^2} \\sum_{i,j} f(x_i, y_j),

   and its null distribution is that of :math:`T_\\pi` for random permutations :math:`\\pi` of
   the test rows of y (the second term does not change under a permutation).
4. ``p = (1 + #{b: T_b >= T}) / (B + 1)`` over B permutations (ties, which only a critic that
   scores every pairing alike produces, are broken at random so that the size stays exact).

Why the p-value is exact for any critic, trained well or not: f depends on the training rows
only, and under independence the test rows' pairs :math:`(x_i, y_{\\pi(i)})` have the same joint
law as :math:`(x_i, y_i)`, so T is exchangeable with the :math:`T_b` and
:math:`P(p \\le \\alpha) \\le \\alpha` at every level (Phipson & Smyth 2010 for the +1). The
critic only decides the power. The smallest p-value B permutations can give is 1 / (B + 1)
(``resolution``).

References:
    Permutation tests on a held-out split: Lopez-Paz & Oquab (2017), "Revisiting classifier
    two-sample tests", ICLR. The +1: Phipson & Smyth (2010), "Permutation p-values should never
    be zero", Stat. Appl. Genet. Mol. Biol. 9(1).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mibounds._progress import progress_bar
from mibounds.estimation._runtime import issue_warnings, resolve_seed
from mibounds.estimation.data import as_array, check_pair, pair_rows
from mibounds.estimation.diagnostics import MIN_FOLD_ROWS
from mibounds.estimation.discrete import as_labels, categorical_sides, plugin_estimate
from mibounds.estimation.pipeline import run
from mibounds.estimation.result import EstimateResult, ResultBase
from mibounds.estimation.settings import make_settings
from mibounds.validation import check_int

__all__ = ["IndependenceResult", "independence_test"]

#: Fewest test rows: below this the permutation distribution has too few distinct values to matter.
MIN_TEST_ROWS = 20
#: Permutations scored per pass (bounds the memory of the ``[chunk, m, D]`` products).
_ELEMENTS_PER_PASS = 1 << 24
#: The test's critic unless ``critic`` is given: a separable one, whose score of any pairing is an
#: inner product of stored embeddings, so B permutations cost O(B n D) instead of B n network
#: calls. Any critic gives an exact p-value; the critic only decides the power.
TEST_CRITIC = "separable"
#: Rows per block when a critic has no separable form and each pairing needs a network call.
_PAIR_BLOCK = 256


@dataclass(repr=False)
class IndependenceResult(ResultBase):
    """The outcome of :func:`independence_test`.

    Attributes:
        p_value: ``(1 + #{T_b >= T}) / (B + 1)`` (ties broken at random); small means the observed pairing scores higher
            than shuffled ones, i.e. evidence of dependence. Exact under independence.
        statistic: T (nats-like units of the critic: observed-pair mean minus all-pair mean).
        null_mean, null_std: Mean and standard deviation of the B permuted statistics.
        num_permutations: B (``resolution``, the smallest possible p-value, is 1 / (B + 1)).
        n_train, n_test: Rows used to train the critic and rows the test is computed on.
        estimate: The estimator's result on the training rows (cross-fitted there), for the
            size of the dependence; ``mibounds.estimate`` on all rows gives a tighter one.
        random_state: Seed of the split, the permutations and the estimator.
        seconds: Wall time.
        warnings: The estimator's warnings (they concern the estimate, not the p-value's validity).
    """

    p_value: float
    statistic: float
    null_mean: float
    null_std: float
    num_permutations: int
    n_train: int
    n_test: int
    estimate: EstimateResult
    random_state: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def resolution(self) -> float:
        """The smallest p-value B permutations can give: 1 / (B + 1)."""
        return 1 / (self.num_permutations + 1)

    def rejects(self, level: float = 0.05) -> bool:
        """Whether independence is rejected at ``level`` (``p_value <= level``)."""
        return self.p_value <= level

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-serializable values (the estimate without its learning curves)."""
        return {**super().to_dict(), "resolution": self.resolution}

    def summary(self) -> str:
        """Lines for people: the p-value with its resolution, the statistic, the estimate."""
        z = (self.statistic - self.null_mean) / self.null_std if self.null_std > 0 else math.nan
        return (
            f"p = {self.p_value:.4g} ({self.num_permutations} permutations; the smallest possible p is "
            f"{self.resolution:.2g})\n"
            f"statistic {self.statistic:.4f} against permutations {self.null_mean:.4f} +- {self.null_std:.4f} "
            f"(z = {z:.1f}); critic trained on {self.n_train} rows, tested on {self.n_test}\n"
            f"estimate on the training rows: I(X;Y) = {self.estimate.estimate:.3f} nats, "
            f"{100 * self.estimate.confidence:g}% CI [{self.estimate.ci_low:.3f}, {self.estimate.ci_high:.3f}]"
        )

    def _repr_items(self) -> list[str]:
        return [
            f"p_value={self.p_value:.4g}",
            f"statistic={self.statistic:.4f}",
            f"num_permutations={self.num_permutations}",
            f"n_train={self.n_train}",
            f"n_test={self.n_test}",
            f"estimate={self.estimate.estimate:.4f}",
        ]


def independence_test(
    x: Any,
    y: Any,
    *,
    num_permutations: int = 1000,
    test_size: float = 0.5,
    random_state: int | None = None,
    progress: bool = True,
    **estimator_params: Any,
) -> IndependenceResult:
    """Test H0: X and Y are independent, with a p-value that is exact for any critic.

    A critic is trained on part of the rows (:func:`mibounds.estimate`'s pipeline, every option at
    its default unless given in ``estimator_params``, but for the critic: :data:`TEST_CRITIC`, the
    separable one, whose permuted pairings are cheap); on the other rows its score of the observed pairs is
    compared with its scores of permuted pairs. See the module docstring for the maths.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.
        num_permutations: B, permutations of the test rows (p-values are multiples of 1 / (B + 1)).
        test_size: Share of the rows the test is computed on (the rest train the critic).
        random_state: Seed of the split, the permutations and the estimator (None: random).
        progress: Show progress bars on a terminal.
        **estimator_params: Options of :class:`~mibounds.estimation.settings.EstimatorSettings`
            (``max_steps``, ``critic``, ...).

    Returns:
        The :class:`IndependenceResult` (``p_value``, ``statistic``, ``estimate``, ...).

    Raises:
        ValueError / TypeError: For bad inputs or settings, naming the fix.

    Example:
        >>> import numpy as np, mibounds
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(1000, 2))
        >>> y = 0.3 * x + rng.normal(size=(1000, 2))
        >>> result = mibounds.independence_test(x, y, max_steps=100, random_state=0, progress=False)
        >>> result.p_value < 0.01, result.p_value >= result.resolution
        (True, True)
    """
    start = time.perf_counter()
    num_permutations = check_int(num_permutations, "num_permutations", minimum=1)
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a share of the rows strictly between 0 and 1, got {test_size!r}")
    # refused before reading the data; the critic defaults to one whose pairings cost O(D) each
    settings = make_settings({"critic": TEST_CRITIC, **estimator_params, "progress": progress})
    (x, y), pairing = pair_rows([x, y], ["x", "y"])
    issue_warnings(pairing)
    sides = categorical_sides(x, y, settings.discrete)
    xa = as_labels(x, "x")[0] if sides[0] else as_array(x, "x")[0]
    ya = as_labels(y, "y")[0] if sides[1] else as_array(y, "y")[0]
    n = len(xa) if any(sides) else check_pair(xa, ya)
    if len(ya) != n:
        raise ValueError(f"x has {n} rows and y has {len(ya)}; pass one row of y per row of x")
    if all(sides):  # nothing to train: the plug-in MI of all rows against re-pairings
        tested = _categorical_test(xa, ya, num_permutations, random_state, progress, start, **estimator_params)
        tested.warnings[:0] = pairing
        return tested
    n_test = _check_split(n, test_size, settings.num_folds)
    seed = resolve_seed(random_state)
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[n_test:], order[:n_test]

    if any(sides):  # the labels as codes, so the training part's classes are named alike
        settings = settings.replace(discrete="x" if sides[0] else "y")
    estimator = run(xa[train], ya[train], settings.replace(random_state=seed))
    issue_warnings(estimator.result.warnings)
    device = estimator.device
    generator = torch.Generator().manual_seed(seed)
    permutations = torch.stack([torch.randperm(n_test, generator=generator) for _ in range(num_permutations)]).to(
        device
    )
    if any(sides):
        codes, features = (xa[test], ya[test]) if sides[0] else (ya[test], xa[test])
        seen = np.unique((xa if sides[0] else ya)[train])  # the classifier's classes, in code order
        if not np.isin(codes, seen).all():
            raise ValueError(
                "a class has rows in the test part but none in the training part; pass more rows or merge rare classes"
            )
        codes = np.searchsorted(seen, codes)
        scaler = estimator.y_scaler if sides[0] else estimator.x_scaler
        features_t = torch.as_tensor(
            scaler(features) if scaler is not None else features, dtype=torch.float32, device=device
        )
        observed, null = _classifier_statistics(
            estimator.model, features_t, torch.as_tensor(codes, device=device), permutations
        )
    else:
        xt = torch.as_tensor(estimator.x_scaler(xa[test]), dtype=torch.float32, device=device)
        yt = torch.as_tensor(estimator.y_scaler(ya[test]), dtype=torch.float32, device=device)
        with torch.no_grad():
            observed, null = _statistics(estimator.model, xt, yt, permutations, progress)
    tested = _result(observed, null, len(train), n_test, estimator.result, seed, start)
    tested.warnings[:0] = pairing
    return tested


def _check_split(n: int, test_size: float, num_folds: int) -> int:
    """The test rows of ``n``; both parts must be large enough: the test part for the statistic,
    the training part for the cross-fitted critic (``MIN_FOLD_ROWS`` a fold).

    Raises:
        ValueError: Naming the fewest rows that do (for this ``test_size``), as the sum of its parts.
    """
    train_rows = max(MIN_TEST_ROWS, MIN_FOLD_ROWS * num_folds)

    def fits(rows: int) -> bool:
        return round(rows * test_size) >= MIN_TEST_ROWS and rows - round(rows * test_size) >= train_rows

    n_test = round(n * test_size)
    if not fits(n):
        need = next(rows for rows in itertools.count(n) if fits(rows))
        raise ValueError(
            f"too few rows: {n} rows split into {n - n_test} training and {n_test} test rows with "
            f"test_size = {test_size}; the test needs at least {MIN_TEST_ROWS} test rows and {train_rows} training "
            f"rows ({MIN_FOLD_ROWS} per fold with num_folds = {num_folds}), so pass at least {need} rows"
        )
    return n_test


@torch.no_grad()
def _classifier_statistics(
    model: Any, features: Tensor, codes: Tensor, permutations: Tensor
) -> tuple[float, np.ndarray]:
    """Observed and permuted ``mean_i log q(c_i | f_i) - mean_{i,j} log q(c_j | f_i)`` for the
    average of the fold classifiers (a mixture of their class probabilities)."""
    if model is None:  # the classifiers never trained (no rows for them): nothing to test with
        raise ValueError("the training part left no classifier to test with; pass more rows")
    log_q = torch.logsumexp(model.log_q(features).double(), dim=0) - math.log(model.num_members)  # [m, C]
    frequencies = torch.bincount(codes, minlength=log_q.shape[1]).double() / len(codes)
    all_pairs = float((log_q @ frequencies).mean())
    observed = float(log_q.gather(1, codes[:, None]).mean()) - all_pairs
    null = log_q.gather(1, codes[permutations].T).mean(0) - all_pairs  # [B]
    return observed, null.cpu().numpy()


def _categorical_test(
    x_codes: np.ndarray,
    y_codes: np.ndarray,
    num_permutations: int,
    random_state: int | None,
    progress: bool,
    start: float,
    **estimator_params: Any,
) -> IndependenceResult:
    """Both categorical: the plug-in MI of all rows against B re-pairings (a permutation G-test)."""
    seed = resolve_seed(random_state)
    settings = make_settings({**estimator_params, "random_state": seed, "progress": progress, "discrete": "both"})
    estimator = run(x_codes, y_codes, settings)
    rng = np.random.default_rng(seed)
    observed = plugin_estimate(x_codes, y_codes, 0.95)[0].estimate
    null = np.array(
        [plugin_estimate(x_codes, rng.permutation(y_codes), 0.95)[0].estimate for _ in range(num_permutations)]
    )
    return _result(observed, null, 0, len(x_codes), estimator.result, seed, start)


def _result(
    observed: float, null: np.ndarray, n_train: int, n_test: int, estimate: EstimateResult, seed: int, start: float
) -> IndependenceResult:
    """The exact permutation p-value and its summary.

    ``p = (1 + #{null > observed} + V) / (B + 1)`` with V uniform on ``0 ... #{null == observed}``:
    the observed statistic's rank among the B + 1, ties broken at random. Without ties this is
    ``(1 + #{null >= observed}) / (B + 1)``; with them (a critic or classifier that learned nothing
    scores every pairing alike) it keeps the size exact instead of returning p = 1. Values within
    1e-12 (relative) are ties: the same statistic summed in another order.
    """
    num_permutations = len(null)
    tolerance = 1e-12 * (1.0 + abs(observed))
    above = int((null > observed + tolerance).sum())
    ties = int((np.abs(null - observed) <= tolerance).sum())
    rank = above + int(np.random.default_rng([seed, 1]).integers(0, ties + 1))
    return IndependenceResult(
        p_value=(1 + rank) / (num_permutations + 1),
        statistic=observed,
        null_mean=float(null.mean()),
        null_std=float(null.std(ddof=1)) if num_permutations > 1 else math.nan,
        num_permutations=num_permutations,
        n_train=n_train,
        n_test=n_test,
        estimate=estimate,
        random_state=seed,
        seconds=time.perf_counter() - start,
        warnings=list(estimate.warnings),
    )


@torch.no_grad()
def _statistics(model: Any, x: Tensor, y: Tensor, permutations: Tensor, progress: bool) -> tuple[float, np.ndarray]:
    """The observed statistic and the ``[B]`` permuted ones, for the average of the fold critics."""
    with torch.random.fork_rng(devices=[]):  # exporting a stacked member initializes a fresh module
        members = [model.member(m) for m in range(model.num_members)]
    embedded = [member.embeddings(x, y) for member in members]
    pairs = [p for p in embedded if p is not None]
    if len(pairs) == len(embedded):  # f(x_i, y_j) = a_i . b_j: O(D) per pairing
        a = torch.cat([p[0] for p in pairs], dim=-1).double() / len(members)
        b = torch.cat([p[1] for p in pairs], dim=-1).double()
        all_pairs = float(a.mean(0) @ b.mean(0))
        per_pass = max(1, _ELEMENTS_PER_PASS // (a.shape[0] * a.shape[1]))

        def paired(rows: Tensor) -> Tensor:  # rows [P, m] -> [P]
            return (a * b[rows]).sum(-1).mean(-1)

    else:  # a network per pair: the diagonals of blocks of the pairing
        all_pairs = sum(float(_matrix_sum(member, x, y)) for member in members) / (len(members) * len(x) ** 2)
        per_pass = 1

        def paired(rows: Tensor) -> Tensor:
            return torch.stack([_paired_mean(members, x, y[r]) for r in rows])

    observed = float(paired(torch.arange(len(x), device=x.device)[None])[0]) - all_pairs
    null = []
    bar = progress_bar(len(permutations), progress, desc="permutations", unit="perm", leave=False)
    for rows in torch.split(permutations, per_pass):
        null.append(paired(rows).cpu())
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return observed, torch.cat(null).numpy() - all_pairs


def _matrix_sum(critic: torch.nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """``sum_{i,j} f(x_i, y_j)`` over square blocks (critics score paired batches of one size)."""
    blocks = torch.split(torch.arange(len(x), device=x.device), _PAIR_BLOCK)
    total = x.new_zeros((), dtype=torch.float64)
    for rows in blocks:
        for cols in blocks:
            size = max(len(rows), len(cols))  # pad the shorter block with its first row, then drop it
            scores = critic(x[_padded(rows, size)], y[_padded(cols, size)])
            total = total + scores[: len(rows), : len(cols)].double().sum()
    return total


def _padded(rows: Tensor, size: int) -> Tensor:
    return torch.cat([rows, rows[:1].expand(size - len(rows))])


def _paired_mean(members: Sequence[torch.nn.Module], x: Tensor, y: Tensor) -> Tensor:
    """``mean_i f(x_i, y_i)`` for the average critic, from the diagonals of row blocks."""
    total = x.new_zeros((), dtype=torch.float64)
    for rows in torch.split(torch.arange(len(x), device=x.device), _PAIR_BLOCK):
        for member in members:
            total = total + member(x[rows], y[rows]).double().diagonal().sum()
    return total / (len(members) * len(x))
