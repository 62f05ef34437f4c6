r"""What the trained critics say on rows they never saw: the numbers behind an estimate.

Every row is evaluated once, by the member of the :class:`~mibounds.estimation.training.FoldCritic`
that did not train on it (its fold's member). Per member, on its evaluation fold:

- **log-ratio values** :math:`f_m(x_i, y_i) - c`, where :math:`c` is the bound's optimal offset
  (the critic that maximizes JS is :math:`\log r`, NWJ's is :math:`1 + \log r`). Their mean
  over all rows is the plug-in estimate :math:`\hat I = \frac1n \sum_i \log \hat r(x_i, y_i)`
  of :math:`I = \mathbb E_{p(x,y)} \log r(x, y)`.
- **InfoNCE terms** over blocks of up to :data:`EVALUATION_BLOCK` rows: for each column j of a
  block of B pairs, :math:`\log B + f(x_j, y_j) - \log\sum_i e^{f(x_i, y_j)}`. Their mean is
  InfoNCE with B - 1 negatives per positive, a lower bound on I in expectation for *any* critic
  (never above :math:`\log B`): the certified part of the estimate. These terms and the
  normalizer's independent pairs come from the first :data:`PAIRWISE_ROWS` rows of each fold (a
  random subset: the folds are a random permutation); their cost per row grows with B while the
  log-ratio values' does not, so a million rows cost no more pairs than 80,000 do.
- **bound values** on disjoint batches of K pairs: the trained bound's own value at K, reported
  for bounds whose critic is not a log ratio (DV, InfoNCE, MINE, TUBA, I_α).

The same quantities on as many of the member's *training* rows give the generalization gap (how
much better the critic scores its own rows).

Example:
    >>> import math
    >>> import numpy as np
    >>> import torch
    >>> from mibounds import bounds, critics
    >>> from mibounds.estimation.heldout import evaluate
    >>> from mibounds.estimation.training import FoldCritic, fold_plan
    >>> plan = fold_plan(60, 3, np.random.default_rng(0))
    >>> members = critics.StackedSeparableCritic(3, 2, 2, 4, 8, 1)
    >>> model = FoldCritic(members, None, [bounds.make("js") for _ in range(3)], None).eval()
    >>> x = torch.randn(60, 2)
    >>> held = evaluate(model, x, x + torch.randn(60, 2), plan, batch_size=10)
    >>> held.log_ratio.shape, held.infonce_ceiling == math.log(20)  # blocks of one fold's 20 rows
    ((60,), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from mibounds.estimation.member_groups import map_members
from mibounds.estimation.model_check import ModelCheck
from mibounds.estimation.training import FoldCritic, FoldPlan
from mibounds.estimation.uncertainty import Interval, batch_means_interval, one_sided_lower

__all__ = [
    "EVALUATION_BLOCK",
    "PAIRWISE_ROWS",
    "HeldoutEstimate",
    "HeldoutValues",
    "evaluate",
    "normalized_interval",
    "off_diagonal_log_sums",
]

#: Largest block of rows whose B x B score matrix is formed at once (B - 1 negatives per positive
#: for the certified lower bound; 1024^2 float64 scores are 8 MB).
EVALUATION_BLOCK = 1024
#: Most rows of a fold whose pairs are scored (InfoNCE terms, the normalizer's independent pairs):
#: 16 blocks, about 17 million independent pairs a fold. Rows beyond it give their log-ratio value
#: alone, at the cost of one network evaluation.
PAIRWISE_ROWS = 16 * EVALUATION_BLOCK
#: Rows per block when only the positive pairs' scores are needed from a critic that scores
#: squares alone (the ones with a ``paired`` method score the pairs directly, in chunks of
#: ``_PAIRED_CHUNK`` rows: a chunk's activations are tens of MB for each group of members that
#: evaluates at once, and no fold of up to 80,000 rows is cut).
_DIAGONAL_BLOCK = 64
_PAIRED_CHUNK = 16 * EVALUATION_BLOCK


@dataclass
class HeldoutValues:
    r"""Per-row and per-batch values of the members on their evaluation folds.

    Attributes:
        log_ratio: ``[n]`` :math:`f_m(x_i, y_i) - c` for every row i (member m = the row's fold),
            or None when the bound has no optimal offset.
        log_ratio_fold: ``[n]`` the fold of each entry of ``log_ratio``.
        infonce: ``[r]`` InfoNCE terms (one per row scored in pairs, as a column of its block;
            r = n up to :data:`PAIRWISE_ROWS` rows a fold).
        infonce_ceiling: ``log B`` of the smallest block: no InfoNCE term average exceeds it.
        batch_values: ``[B]`` the bound on disjoint batches of K held-out pairs.
        train_log_ratio: Mean of the log-ratio values on as many training rows per member.
        train_batch_value: Mean bound on disjoint training batches of K.
        log_normalizer: ``[F]`` per member, :math:`\log \hat E_q \hat r`: the log of the mean of
            :math:`\hat r = e^{f_m - c}` over the off-diagonal (independent) pairs of its held-out
            blocks. 0 for a density ratio; None when the bound has no optimal offset.
        normalizer_ess: ``[F]`` the effective number of negative pairs behind each
            ``log_normalizer``, :math:`(\sum w)^2 / \sum w^2` with :math:`w = \hat r`: a few dominant
            pairs (heavy tails, high MI) make the mean unreliable.
        infonce_fold: ``[r]`` the fold of each entry of ``infonce`` (``log_ratio_fold`` when every
            row was scored in pairs).
    """

    log_ratio: np.ndarray | None
    log_ratio_fold: np.ndarray
    infonce: np.ndarray
    infonce_ceiling: float
    batch_values: np.ndarray
    train_log_ratio: float | None
    train_batch_value: float
    log_normalizer: np.ndarray | None = None
    normalizer_ess: np.ndarray | None = None
    infonce_fold: np.ndarray | None = None

    @property
    def infonce_folds(self) -> np.ndarray:
        """``[r]`` the fold of each entry of ``infonce``."""
        return self.log_ratio_fold if self.infonce_fold is None else self.infonce_fold


@dataclass(frozen=True)
class HeldoutEstimate:
    """What the held-out values say: the estimate with its interval, and the certified lower bound.

    Attributes:
        values: The per-row and per-batch :class:`HeldoutValues` it was computed from.
        interval: The estimate and its interval (nats).
        method: ``"log-ratio"`` (mean held-out log density ratio) or ``"bound"`` (the bound's
            held-out value on batches of K).
        certified: The held-out InfoNCE value and its interval (a lower bound on I in expectation).
        ceiling: Largest value a ``"bound"`` estimate can take at this K, or None.
        correction: Nats added to the log ratios for the Gaussian critic's fitting penalty.
        check: The checks of the critic against bounds that hold for any critic
            (:func:`~mibounds.estimation.model_check.check_model`); ``interval`` is its widened
            interval. None for bounds without a log-ratio estimate.
    """

    values: HeldoutValues
    interval: Interval
    method: str
    certified: Interval
    ceiling: float | None = None
    correction: float = 0.0
    check: ModelCheck | None = None

    @property
    def lower_bound(self) -> float:
        """The one-sided lower confidence limit of the certified lower bound (nats)."""
        return one_sided_lower(self.certified)


def normalized_interval(held: HeldoutValues, confidence: float) -> Interval | None:
    r"""The held-out Donsker–Varadhan value of each member, with its interval over the members.

    .. math::
        \mathrm{DV}_m = \frac{1}{|F_m|} \sum_{i \in F_m} \log \hat r_m(x_i, y_i)
            - \log \hat E_q \hat r_m, \qquad \mathrm{DV}_m \le I

    for any critic (up to the error of the log-mean on finitely many independent pairs; see
    :attr:`HeldoutValues.normalizer_ess`): :math:`\hat r q / E_q \hat r` is a normalized density,
    so the first term can exceed I by at most :math:`\log E_q \hat r`. It equals the plug-in
    estimate when the critic is normalized.

    Returns:
        The interval of the F fold values (t with F - 1 degrees of freedom), or None for bounds
        without a log-ratio estimate.
    """
    if held.log_ratio is None or held.log_normalizer is None:
        return None
    members = len(held.log_normalizer)
    values = [held.log_ratio[held.log_ratio_fold == m].mean() - held.log_normalizer[m] for m in range(members)]
    return batch_means_interval(values, confidence)


@torch.no_grad()
def evaluate(
    model: FoldCritic,
    x: Tensor,
    y: Tensor,
    plan: FoldPlan,
    batch_size: int,
    block: int = EVALUATION_BLOCK,
    groups: int = 1,
) -> HeldoutValues:
    """Evaluate each member on its fold (and, for the gap, on as many of its training rows).

    Args:
        model: The trained :class:`FoldCritic`, in eval mode.
        x: All rows ``[n, dx]`` on the model's device.
        y: All rows ``[n, dy]``.
        plan: The fold plan the model was trained with.
        batch_size: K of the bound's batch values.
        block: Most rows per block of the log-ratio and InfoNCE values (smaller for critics
            that evaluate a network on every pair).
        groups: Groups of members evaluated at once, on a thread each
            (:mod:`~mibounds.estimation.member_groups`; each member is scored alone, so the values do not
            depend on it).

    Returns:
        The :class:`HeldoutValues` (float64 NumPy arrays).
    """
    offset = model.bound.info.optimal_offset
    # Members are exported first, on this thread: a stacked member is built as a fresh module,
    # whose initialization draws from torch's global generator.
    critics = [model.member(m) for m in range(plan.num_folds)]

    def evaluate_member(m: int) -> _MemberValues:
        with torch.no_grad():  # grad mode is per thread
            return _evaluate_member(model, critics[m], m, x, y, plan, batch_size, block)

    values = map_members(evaluate_member, plan.num_folds, groups)
    batch = [v.batch for v in values if v.batch is not None]
    train_batch = [v.train_batch for v in values if v.train_batch is not None]
    return HeldoutValues(
        log_ratio=None if offset is None else np.concatenate([v.ratio for v in values]),
        log_ratio_fold=np.concatenate([np.full(len(v.ratio), m) for m, v in enumerate(values)]),
        infonce=np.concatenate([v.held.infonce for v in values]),
        infonce_ceiling=math.log(min(v.held.smallest for v in values)),
        batch_values=np.concatenate(batch) if batch else np.empty(0),
        train_log_ratio=None if offset is None else float(np.concatenate([v.train_ratio for v in values]).mean()),
        train_batch_value=float(np.concatenate(train_batch).mean()) if train_batch else math.nan,
        log_normalizer=None if offset is None else np.array([v.normalizer for v in values]),
        normalizer_ess=np.array([v.held.effective_pairs for v in values]),
        infonce_fold=np.concatenate([np.full(len(v.held.infonce), m) for m, v in enumerate(values)]),
    )


@dataclass(frozen=True)
class _MemberValues:
    held: _BlockScores  # the first PAIRWISE_ROWS rows of the fold, in blocks
    ratio: np.ndarray  # [fold rows] the positive pairs' log ratios (less the bound's offset)
    normalizer: float  # the log mean ratio over the blocks' off-diagonal pairs (less the offset)
    train_ratio: np.ndarray  # as ratio, on as many of the member's training rows
    batch: np.ndarray | None  # the bound on batches of K of the fold (bounds without a log ratio)
    train_batch: np.ndarray | None  # the same on the training rows


def _evaluate_member(
    model: FoldCritic, critic: nn.Module, m: int, x: Tensor, y: Tensor, plan: FoldPlan, batch_size: int, block: int
) -> _MemberValues:
    """Member m's values on its fold (and on as many of its training rows)."""
    offset = model.bound.info.optimal_offset
    rows = torch.as_tensor(plan.evaluation(m), device=x.device)
    own = torch.as_tensor(plan.training(m)[: len(rows)], device=x.device)
    held = _blocks(critic, x, y, rows[:PAIRWISE_ROWS], block)
    rest = _positive_scores(critic, x, y, rows[PAIRWISE_ROWS:])
    batch = train_batch = None
    if offset is None:  # the estimate is the bound's value on batches of K
        baseline = None if model.baselines is None else model.baselines[m]
        batch = _batch_values(critic, model.bounds[m], baseline, x, y, rows, batch_size)
        train_batch = _batch_values(critic, model.bounds[m], baseline, x, y, own, batch_size)
    return _MemberValues(
        held=held,
        ratio=np.concatenate([held.diagonal, rest]) - (offset or 0.0),
        normalizer=held.log_mean_off - (offset or 0.0),
        train_ratio=_positive_scores(critic, x, y, own) - (offset or 0.0),
        batch=batch,
        train_batch=train_batch,
    )


@dataclass(frozen=True)
class _BlockScores:
    diagonal: np.ndarray  # [rows] the positive pairs' scores
    infonce: np.ndarray  # [rows] InfoNCE terms, each row a column of its block
    smallest: int  # rows of the smallest block
    log_mean_off: float  # log of the mean of exp(score) over the off-diagonal pairs
    effective_pairs: float  # (sum w)^2 / sum w^2 of w = exp(score) over those pairs


def off_diagonal_log_sums(scores: Tensor) -> tuple[Tensor, Tensor, int]:
    """Over the off-diagonal (independent) pairs of a ``[K, K]`` score matrix:
    :math:`\\log \\sum_{i \ne j} e^{s_{ij}}`, :math:`\\log \\sum_{i \ne j} e^{2 s_{ij}}` and their number.

    Example:
        >>> import math, torch
        >>> log_sum, _, pairs = off_diagonal_log_sums(torch.zeros(3, 3))
        >>> round(float(log_sum), 4) == round(math.log(6), 4), pairs
        (True, 6)
    """
    size = scores.shape[-1]
    off = scores.masked_fill(torch.eye(size, dtype=torch.bool, device=scores.device), -math.inf).flatten()
    return torch.logsumexp(off, 0), torch.logsumexp(2 * off, 0), size * (size - 1)


def _blocks(critic: nn.Module, x: Tensor, y: Tensor, rows: Tensor, block: int, pairs: bool = True) -> _BlockScores:
    """The critic's scores of ``rows`` over blocks of at most ``block`` rows; with ``pairs=False``
    only the diagonal (the training rows' values need nothing else)."""
    if not len(rows):
        return _BlockScores(np.empty(0), np.empty(0), 0, math.nan, 0.0)
    diagonals, infonce, sizes, sums, squares, count = [], [], [], [], [], 0
    for part in torch.tensor_split(rows, math.ceil(len(rows) / block)):
        scores = critic(x[part], y[part]).double()
        diagonal = scores.diagonal().clone()  # a view would keep the whole B x B block alive
        diagonals.append(diagonal)
        sizes.append(len(part))
        if not pairs:
            continue
        infonce.append(math.log(len(part)) + diagonal - torch.logsumexp(scores, dim=0))
        log_sum, log_square, number = off_diagonal_log_sums(scores)
        sums.append(log_sum)
        squares.append(log_square)
        count += number
    if not count:
        return _BlockScores(torch.cat(diagonals).cpu().numpy(), np.empty(0), min(sizes), math.nan, 0.0)
    log_sum, log_squares = torch.logsumexp(torch.stack(sums), 0), torch.logsumexp(torch.stack(squares), 0)
    return _BlockScores(
        diagonal=torch.cat(diagonals).cpu().numpy(),
        infonce=torch.cat(infonce).cpu().numpy(),
        smallest=min(sizes),
        log_mean_off=float(log_sum) - math.log(count),
        effective_pairs=math.exp(float(2 * log_sum - log_squares)),
    )


def _positive_scores(critic: nn.Module, x: Tensor, y: Tensor, rows: Tensor) -> np.ndarray:
    """The positive pairs' scores ``f(x_i, y_i)`` of ``rows``, float64, at O(1) pairs a row."""
    paired = getattr(critic, "paired", None)
    if not len(rows) or paired is None or paired(x[rows[:1]], y[rows[:1]]) is None:
        return _blocks(critic, x, y, rows, _DIAGONAL_BLOCK, pairs=False).diagonal
    values = [paired(x[part], y[part]).double() for part in torch.split(rows, _PAIRED_CHUNK)]
    return torch.cat(values).cpu().numpy()


def _batch_values(
    critic: nn.Module, bound: nn.Module, baseline: nn.Module | None, x: Tensor, y: Tensor, rows: Tensor, batch_size: int
) -> np.ndarray:
    """The bound on consecutive disjoint batches of ``batch_size`` of ``rows`` (a partial one is left out)."""
    values = []
    for start in range(0, len(rows) - batch_size + 1, batch_size):
        batch = rows[start : start + batch_size]
        values.append(bound(critic(x[batch], y[batch]), *(() if baseline is None else (baseline(y[batch]),))))
    return torch.stack(values).double().cpu().numpy() if values else np.empty(0)


def gaussian_fit_penalty(dim_x: int, dim_y: int, rows: int, rank: int | None = None) -> float:
    r"""How far below I a Gaussian critic fitted on ``rows`` rows scores new rows, to first order.

    The Gaussian critic estimates the :math:`d_x d_y` cross-covariances of X and Y by maximum
    likelihood (the marginal parameters cancel in the log ratio). On rows it was not fitted to,
    its mean log ratio is below I by

    .. math::
        \frac{d_x d_y}{2 n} + O(n^{-2})

    nats, and above I by as much on its own rows (Akaike 1974; Takeuchi 1976): the penalty of the
    parameters it had to estimate. Adding it to the held-out values makes the plug-in estimate
    unbiased to first order (e.g. 0.025 nats for 20 + 20 columns fitted on 8,000 rows, measured
    as the bias of the uncorrected estimate at every MI level of the accuracy suite).

    A critic that keeps ``rank`` = k canonical pairs (:mod:`~mibounds.estimation.gaussian_fits`)
    estimates :math:`k (d_x + d_y - k)` parameters instead (:math:`d_x d_y` at full rank).

    Example:
        >>> gaussian_fit_penalty(20, 20, 8000), gaussian_fit_penalty(1000, 1000, 8000, rank=2)
        (0.025, 0.24975)
    """
    parameters = dim_x * dim_y if rank is None else rank * (dim_x + dim_y - rank)
    return parameters / (2 * rows)
