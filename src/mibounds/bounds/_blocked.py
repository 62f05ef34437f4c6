r"""The partition terms of a separable score matrix ``S = a bᵀ``, in row blocks, with a fused gradient.

A bound of a separable or bilinear critic needs only a few reductions of ``S`` (``[N, M]``,
``S[i, j] = a_i · b_j``): per-row and per-column log-sum-exps, the off-diagonal log-sum-exp, the
off-diagonal softplus sum. Each is computed here one block of ``block`` rows at a time, so the
``[N, M]`` matrix never exists: memory is O((N + M) d + block · M).

The gradient is computed in the forward pass itself (the output is a scalar, so the incoming
gradient is one number that only scales it): for each block, ``dS`` is formed from the block's
scores and the finished statistics, then ``grad_a[block] = dS @ b`` and ``grad_b += dSᵀ @ a[block]``.
Terms whose ``dS`` needs a statistic over all rows (a column log-sum-exp, the global off-diagonal
one) first take a statistics pass; row-local terms (row log-sum-exp, softplus) need none. So one
direction of InfoNCE costs exactly the three matmuls of the materialized path, and no block is
kept for the backward.

All loops run on the tensors' device with no host synchronization (block bounds are Python ints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mibounds.bounds._reductions import softplus

__all__ = ["BLOCK_ELEMENTS", "STAT_NAMES", "PartitionSpec", "block_rows", "partition_terms"]

#: Default block: about this many score entries (4 MiB in float32); fits the caches of a CPU and
#: keeps each matmul large enough to run at full speed.
BLOCK_ELEMENTS = 2**20

#: Order of the statistics returned by :func:`partition_terms` (NaN where not requested).
STAT_NAMES = ("row_lse_sum", "col_lse_sum", "off_lse", "off_softplus_sum", "clipped_off_lse")


@dataclass(frozen=True)
class PartitionSpec:
    """Which terms the objective holds, with their weights (0 = absent), and value-only statistics.

    The objective is ``row_lse * sum_i lse_j S_ij + col_lse * sum_j lse_i S_ij
    + off_lse * lse_{i != j} S_ij + off_softplus * sum_{i != j} softplus(S_ij)``.

    Attributes:
        row_lse: Weight of the row log-sum-exp sum.
        col_lse: Weight of the column log-sum-exp sum.
        off_lse: Weight of the off-diagonal log-sum-exp (square ``S`` only).
        off_softplus: Weight of the off-diagonal softplus sum (square ``S`` only).
        want_off_lse: Also report the off-diagonal log-sum-exp (value only).
        clip: If set, also report the off-diagonal log-sum-exp of ``clip(S, -clip, clip)``.
    """

    row_lse: float = 0.0
    col_lse: float = 0.0
    off_lse: float = 0.0
    off_softplus: float = 0.0
    want_off_lse: bool = False
    clip: float | None = None


def block_rows(num_rows: int, num_cols: int, block_size: int | None) -> int:
    """Rows per block: ``block_size``, or about :data:`BLOCK_ELEMENTS` entries per block."""
    if block_size is None:
        block_size = BLOCK_ELEMENTS // max(num_cols, 1)
    return max(1, min(num_rows, int(block_size)))


def _exp_nonpositive_(t: Tensor) -> Tensor:
    """``exp(t)`` in place for ``t <= 0``, with ``t`` floored where ``exp`` would be subnormal.

    Why: on CPUs ``exp`` of arguments below the normal range (about -87 in float32) is ~10x slower
    (subnormal results), and a contrastive score matrix at a low temperature is mostly such
    entries. Flooring them changes each by less than the smallest normal number, far below the
    rounding of the sums they enter (which hold a 1 from the maximum).
    """
    return t.clamp_(min=math.log(torch.finfo(t.dtype).tiny)).exp_()


def _offdiag(scores: Tensor, start: int, fill: float) -> Tensor:
    """The block of rows ``start:`` of a square matrix, its diagonal entries set to ``fill`` (in place)."""
    if start < scores.shape[1]:
        scores.diagonal(start).fill_(fill)
    return scores


def _lse_all(scores: Tensor) -> Tensor:
    return torch.logsumexp(scores.reshape(-1), dim=0)


def _statistics_pass(a: Tensor, b: Tensor, spec: PartitionSpec, rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """Column log-sum-exps ``[M]``, the off-diagonal and the clipped off-diagonal log-sum-exp."""
    neg_inf = torch.full((), -math.inf, dtype=a.dtype, device=a.device)
    col = torch.full((b.shape[0],), -math.inf, dtype=a.dtype, device=a.device)
    off, clipped = neg_inf, neg_inf
    need_off = spec.off_lse != 0.0 or spec.want_off_lse
    for start in range(0, a.shape[0], rows):
        s = a[start : start + rows] @ b.T
        if spec.clip is not None:
            clipped = torch.logaddexp(clipped, _lse_all(_offdiag(s.clamp(-spec.clip, spec.clip), start, -math.inf)))
        if need_off:
            diagonal = s.diagonal(start).clone() if start < s.shape[1] else None
            off = torch.logaddexp(off, _lse_all(_offdiag(s, start, -math.inf)))
            if diagonal is not None:  # the column statistics include the diagonal
                s.diagonal(start).copy_(diagonal)
        col = torch.logaddexp(col, torch.logsumexp(s, dim=0))
    return col, off, clipped


def _forward(
    a: Tensor, b: Tensor, spec: PartitionSpec, block_size: int | None, with_grad: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    n, m = a.shape[0], b.shape[0]
    rows = block_rows(n, m, block_size)
    square_terms = spec.off_lse != 0.0 or spec.off_softplus != 0.0 or spec.want_off_lse or spec.clip is not None
    if square_terms and n != m:
        raise ValueError(f"off-diagonal terms need a square score matrix, got {n} rows and {m} columns")
    # A statistics pass first when a gradient needs a statistic over all rows.
    prepass = with_grad and (spec.col_lse != 0.0 or spec.off_lse != 0.0)
    nan = torch.full((), math.nan, dtype=a.dtype, device=a.device)
    if prepass:
        col_lse, off_lse, clipped = _statistics_pass(a, b, spec, rows)
    else:
        col_lse = torch.full((m,), -math.inf, dtype=a.dtype, device=a.device)
        off_lse = clipped = torch.full((), -math.inf, dtype=a.dtype, device=a.device)
    row_lse_sum = torch.zeros((), dtype=a.dtype, device=a.device)
    softplus_sum = torch.zeros((), dtype=a.dtype, device=a.device)
    grad_a = torch.empty_like(a) if with_grad else None
    grad_b = torch.zeros_like(b) if with_grad else None
    for start in range(0, n, rows):
        a_block = a[start : start + rows]
        s = a_block @ b.T
        if not prepass:  # value-only statistics, streamed
            if spec.clip is not None:
                clipped = torch.logaddexp(clipped, _lse_all(_offdiag(s.clamp(-spec.clip, spec.clip), start, -math.inf)))
            if spec.want_off_lse or spec.off_lse != 0.0:
                off_lse = torch.logaddexp(off_lse, _lse_all(_offdiag(s.clone(), start, -math.inf)))
            if spec.col_lse != 0.0:
                col_lse = torch.logaddexp(col_lse, torch.logsumexp(s, dim=0))
        if spec.off_softplus != 0.0:
            softplus_sum = softplus_sum + _offdiag(softplus(s), start, 0.0).sum()
        grad_s = None
        if with_grad:
            if spec.col_lse != 0.0:
                grad_s = _exp_nonpositive_(s - col_lse).mul_(spec.col_lse)
            if spec.off_lse != 0.0:
                term = _offdiag(_exp_nonpositive_(s - off_lse), start, 0.0).mul_(spec.off_lse)
                grad_s = term if grad_s is None else grad_s.add_(term)
            if spec.off_softplus != 0.0:
                term = _offdiag(torch.sigmoid(s), start, 0.0).mul_(spec.off_softplus)
                grad_s = term if grad_s is None else grad_s.add_(term)
        if spec.row_lse != 0.0:
            # Softmax over the row in place: the block buffer becomes dS (one exp per entry).
            # (s is not read after this term, so it is overwritten.)
            shift = s.amax(dim=1, keepdim=True)
            probs = _exp_nonpositive_(s.sub_(shift))
            total = probs.sum(dim=1, keepdim=True)
            row_lse_sum = row_lse_sum + (shift + total.log()).sum()
            if with_grad:
                probs.mul_(spec.row_lse / total)
                grad_s = probs if grad_s is None else grad_s.add_(probs)
        if grad_a is not None and grad_b is not None:  # with_grad
            if grad_s is None:
                grad_a[start : start + rows].zero_()
            else:
                torch.mm(grad_s, b, out=grad_a[start : start + rows])
                grad_b.addmm_(grad_s.T, a_block)
    objective = torch.zeros((), dtype=a.dtype, device=a.device)
    col_lse_sum = col_lse.sum()
    for weight, value in (
        (spec.row_lse, row_lse_sum),
        (spec.col_lse, col_lse_sum),
        (spec.off_lse, off_lse),
        (spec.off_softplus, softplus_sum),
    ):
        if weight != 0.0:
            objective = objective + weight * value
    stats = torch.stack(
        [
            row_lse_sum if spec.row_lse != 0.0 else nan,
            col_lse_sum if spec.col_lse != 0.0 else nan,
            off_lse if (spec.off_lse != 0.0 or spec.want_off_lse) else nan,
            softplus_sum if spec.off_softplus != 0.0 else nan,
            clipped if spec.clip is not None else nan,
        ]
    )
    return objective, stats, grad_a, grad_b


class _PartitionTerms(torch.autograd.Function):
    """Objective and statistics of :class:`PartitionSpec`; the gradient is computed in the forward."""

    @staticmethod
    def forward(
        ctx: Any,
        a: Tensor,
        b: Tensor,
        spec: PartitionSpec,
        block_size: int | None,
        with_grad: bool,
    ) -> tuple[Tensor, Tensor]:
        objective, stats, grad_a, grad_b = _forward(a, b, spec, block_size, with_grad)
        ctx.mark_non_differentiable(stats)
        if with_grad:
            ctx.save_for_backward(grad_a, grad_b)
        return objective, stats

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_objective: Tensor, grad_stats: Tensor) -> tuple[Tensor | None, ...]:
        grad_a, grad_b = ctx.saved_tensors
        return grad_a * grad_objective, grad_b * grad_objective, None, None, None


def partition_terms(
    a: Tensor, b: Tensor, spec: PartitionSpec, block_size: int | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """The objective of ``spec`` on ``S = a bᵀ`` (differentiable) and the requested statistics.

    Args:
        a: ``[N, d]`` row factors.
        b: ``[M, d]`` column factors.
        spec: Terms and weights.
        block_size: Rows of ``S`` per block (default: about :data:`BLOCK_ELEMENTS` entries).

    Returns:
        The 0-d objective and a dict from :data:`STAT_NAMES` to 0-d detached values (NaN where
        not requested).
    """
    with_grad = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    objective, stats = _PartitionTerms.apply(a, b, spec, block_size, with_grad)
    return objective, dict(zip(STAT_NAMES, stats.unbind(), strict=True))
