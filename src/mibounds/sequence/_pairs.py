r"""Pairwise log-partitions of a batch on checked inputs (private): the computation behind
:func:`~mibounds.sequence.pairwise.pairwise_log_partition`, whose module docstring describes it.

:func:`pairwise_log_partition_unchecked` takes ``lengths`` as
:func:`~mibounds.sequence._checks.check_emissions` returns them and checks nothing: the public
function and :func:`~mibounds.sequence.objectives.sequence_infonce` check their inputs once and
call it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mibounds.sequence._expanded import (
    ExpandedGraph,
    expand,
    expanded_frames,
    graph_needs_grad,
    log_partition_expanded,
    no_path_error,
)
from mibounds.sequence._recursion import (
    frame_range,
    redo_lost_rows,
    scaled_backward,
    scaled_forward,
    scaled_weights,
    spread_limit,
    weight_first_frame,
)
from mibounds.sequence.graph import LabelGraph

__all__ = ["pairwise_log_partition_unchecked"]


def pairwise_log_partition_unchecked(
    emissions: Tensor, graph: LabelGraph, lengths: Tensor, other: Tensor | None = None
) -> Tensor:
    """``[K, K]`` :math:`E(k, j)` of checked inputs (``other``, if given, of the shape of ``emissions``)."""
    symmetric = other is None
    graph = graph.to(emissions.device, emissions.dtype)
    expanded = expand(graph)
    k = emissions.shape[0]
    rows, cols = _pair_indices(k, symmetric, emissions.device)
    pair_lengths = torch.minimum(lengths[rows], lengths[cols])
    # Frame-major [T, K, P]: each frame of the recursion is then one contiguous slab.
    rows_e = expanded_frames(emissions, expanded, lengths).transpose(0, 1).contiguous()
    cols_e = rows_e if other is None else expanded_frames(other, expanded, lengths).transpose(0, 1).contiguous()
    log_z = _pair_log_partition(rows_e, cols_e, rows, cols, symmetric, expanded, pair_lengths)
    if bool(torch.isneginf(log_z).any()):
        raise no_path_error(log_z, pair_lengths, "pairwise_log_partition (indices are pairs)")
    if not symmetric:
        return log_z.reshape(k, k)
    pair_index = torch.zeros(k, k, dtype=torch.long, device=emissions.device)
    ids = torch.arange(rows.shape[0], device=emissions.device)
    pair_index[rows, cols] = ids
    pair_index[cols, rows] = ids
    return log_z[pair_index]


def _pair_indices(k: int, symmetric: bool, device: torch.device) -> tuple[Tensor, Tensor]:
    """Row and column of each pair, row-major: ``k <= j`` if symmetric, else all ``K^2``."""
    if symmetric:
        rows, cols = torch.triu_indices(k, k, device=device)
        return rows, cols
    grid = torch.arange(k, device=device)
    return grid.repeat_interleave(k), grid.repeat(k)


def _pair_log_partition(
    rows_e: Tensor,
    cols_e: Tensor,
    rows: Tensor,
    cols: Tensor,
    symmetric: bool,
    expanded: ExpandedGraph,
    pair_lengths: Tensor,
) -> Tensor:
    """log Z ``[pairs]`` of the summed frame-major emissions ``rows_e[:, r] + cols_e[:, c]``."""

    def pair_frames(which: Tensor) -> Tensor:  # [T, len(which), P], with their gradient
        return rows_e[:, rows[which]] + cols_e[:, cols[which]]

    num_frames = rows_e.shape[0]
    ragged = bool((pair_lengths < num_frames).any())
    weights = (expanded.initial.detach(), expanded.transition.detach(), expanded.final.detach())
    scaled = None if graph_needs_grad(expanded) else scaled_weights(*weights)
    if scaled is None:
        everything = torch.arange(rows.shape[0], device=rows.device)
        return log_partition_expanded(pair_frames(everything).transpose(0, 1), expanded, pair_lengths)
    with torch.no_grad():  # a pair's frame spreads at most as far as its two sequences' together
        row_shifts, row_spread = frame_range(rows_e)
        col_shifts, col_spread = (row_shifts, row_spread) if cols_e is rows_e else frame_range(cols_e)
        wide = row_spread[rows] + col_spread[cols] > spread_limit(rows_e.dtype)
    log_z = _ScaledPairLogPartition.apply(
        rows_e, cols_e, row_shifts, col_shifts, symmetric, weights[0], scaled[0], weights[2], pair_lengths, ragged
    )
    log_z = log_z + (pair_lengths - 1).to(log_z.dtype) * scaled[1]
    return redo_lost_rows(log_z, wide, pair_frames, weights, pair_lengths, ragged)


class _ScaledPairLogPartition(torch.autograd.Function):
    """log Z of every pair's summed emissions by the scaled recursion, the pairs never formed in log space.

    A pair's shifted probabilities are the product of its two sequences' own,
    :math:`e^{e^r_t + e^c_t - m^r_t - m^c_t} = e^{e^r_t - m^r_t} e^{e^c_t - m^c_t}` (each side shifted by
    its frame maxima): K broadcast products written in place, row r's pairs being one contiguous
    block (columns r..K-1, or 0..K-1), and no exponential of the pairs' tensor. The backward sums
    each pair's γ back onto its two sequences with ``index_add``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        rows_e: Tensor,
        cols_e: Tensor,
        row_shifts: Tensor,
        col_shifts: Tensor,
        symmetric: bool,
        initial: Tensor,
        exp_transition: Tensor,
        final: Tensor,
        pair_lengths: Tensor,
        ragged: bool,
    ) -> Tensor:
        num_frames, k, p = rows_e.shape
        row_probs = torch.sub(rows_e, row_shifts).exp_()
        col_probs = row_probs if cols_e is rows_e else torch.sub(cols_e, col_shifts).exp_()
        rows, cols = _pair_indices(k, symmetric, rows_e.device)
        probs = rows_e.new_empty(num_frames, rows.shape[0], p)
        start = 0
        for r in range(k):
            first = r if symmetric else 0
            torch.mul(row_probs[:, r : r + 1], col_probs[:, first:], out=probs[:, start : start + k - first])
            start += k - first
        shifts = row_shifts[:, rows] + col_shifts[:, cols]
        weight_first_frame(probs, shifts, rows_e[0, rows] + cols_e[0, cols], initial)
        log_z, alphas, exp_final = scaled_forward(probs, shifts, exp_transition, final, pair_lengths, ragged)
        ctx.save_for_backward(probs, alphas, exp_transition, exp_final, pair_lengths, log_z)
        ctx.k, ctx.symmetric, ctx.ragged = k, symmetric, ragged
        return log_z

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_log_z: Tensor) -> tuple[Tensor | None, ...]:
        probs, alphas, exp_transition, exp_final, lengths, log_z = ctx.saved_tensors
        gamma = scaled_backward(probs, alphas, exp_transition, exp_final, lengths, log_z, grad_log_z, ctx.ragged)
        rows, cols = _pair_indices(ctx.k, ctx.symmetric, gamma.device)
        shape = (gamma.shape[0], ctx.k, gamma.shape[2])
        grad_rows = gamma.new_zeros(shape).index_add_(1, rows, gamma) if ctx.needs_input_grad[0] else None
        grad_cols = gamma.new_zeros(shape).index_add_(1, cols, gamma) if ctx.needs_input_grad[1] else None
        return grad_rows, grad_cols, None, None, None, None, None, None, None, None
