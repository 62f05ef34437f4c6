r"""The expanded graph and the log-space recursions over it (private).

Shared by :mod:`~mibounds.sequence.forward_backward` and :mod:`~mibounds.sequence.pairwise`, which
check their inputs; nothing here checks them again. A graph is rewritten so that each state has one
incoming label ("expanded states" = distinct (destination, label) pairs of the arcs, P of them), and
the forward and backward recursions run on it as dense ``[B, P] @ [P, P]`` products of shifted
exponentials (see the module docstring of :mod:`~mibounds.sequence.forward_backward`). The
log-partition without graph gradients goes to the hand-written backward of
:mod:`~mibounds.sequence._recursion`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from mibounds.sequence._checks import masked_emissions
from mibounds.sequence._recursion import log_partition_frames
from mibounds.sequence.graph import LabelGraph


class ExpandedGraph(NamedTuple):
    """A graph rewritten over (state, incoming label) pairs: what the recursion runs on.

    Attributes:
        labels: ``[P]`` label of each expanded state.
        states: ``[P]`` graph state of each expanded state.
        initial: ``[P]`` log-weight of reaching it with the first frame (start weight + arc).
        transition: ``[P, P]`` log-weight of going from one to the other with one frame.
        final: ``[P]`` final log-weight of its graph state.
    """

    labels: Tensor
    states: Tensor
    initial: Tensor
    transition: Tensor
    final: Tensor


def _safe_log(x: Tensor) -> Tensor:
    """``log(x)`` for ``x >= 0`` with ``-inf`` at 0 and a zero (not NaN) gradient there."""
    positive = x > 0
    return torch.where(positive, torch.log(torch.where(positive, x, 1.0)), -math.inf)


def _finite_or_zero(x: Tensor) -> Tensor:
    """``x`` with ``-inf`` (a row or column with no path) replaced by 0, for use as a shift."""
    return torch.nan_to_num(x, neginf=0.0)


def scatter_logsumexp(values: Tensor, index: Tensor, size: int) -> Tensor:
    """``out[i] = log sum_{a: index[a] = i} exp(values[a])`` (``-inf`` where nothing lands)."""
    shift = torch.full((size,), -math.inf, dtype=values.dtype, device=values.device)
    shift = _finite_or_zero(shift.scatter_reduce(0, index, values.detach(), "amax"))
    total = torch.zeros(size, dtype=values.dtype, device=values.device)
    total = total.scatter_add(0, index, torch.exp(values - shift[index]))
    return _safe_log(total) + shift


def expand(graph: LabelGraph) -> ExpandedGraph:
    """Rewrite ``graph`` over the distinct (destination, label) pairs of its arcs.

    A forward score over expanded states sums to the graph's forward score per state, so every
    quantity of this module is unchanged. Differentiable in the graph's weights.
    """
    present = torch.isfinite(graph.weight)
    src, dst, lab, w = graph.src[present], graph.dst[present], graph.label[present], graph.weight[present]
    pairs, pair_of_arc = torch.unique(dst * graph.num_labels + lab, return_inverse=True)
    n = pairs.shape[0]
    if n == 0:
        raise ValueError(
            "the graph has no arc with a finite weight, so it spells no label sequence of length >= 1; add arcs"
        )
    # state_to_pair[s, p]: log-weight of every arc from graph state s into expanded state p.
    state_to_pair = scatter_logsumexp(w, src * n + pair_of_arc, graph.num_states * n).reshape(graph.num_states, n)
    states = pairs // graph.num_labels
    return ExpandedGraph(
        labels=pairs % graph.num_labels,
        states=states,
        initial=torch.logsumexp(graph.start[:, None] + state_to_pair, dim=0),
        transition=state_to_pair[states],
        final=graph.final[states],
    )


Frames = Callable[[int], Tensor]


def _log_matmul(alpha: Tensor, exp_weights: Tensor, weight_shift: Tensor) -> Tensor:
    """``log(exp(alpha) @ exp(W))`` given ``exp(W - weight_shift)``: ``[B, P] x [P, Q] -> [B, Q]``."""
    shift = _finite_or_zero(alpha.detach().amax(dim=-1, keepdim=True))
    return _safe_log(torch.exp(alpha - shift) @ exp_weights) + shift + weight_shift


def forward_scores(
    frames: Frames, num_frames: int, expanded: ExpandedGraph, lengths: Tensor, keep_all: bool = False
) -> tuple[Tensor, list[Tensor]]:
    """Run the forward recursion; return the log-partition ``[B]`` and (if asked) every alpha.

    Args:
        frames: ``frames(t)`` gives the emission scores of frame t on the expanded states, ``[B, P]``
            (slices from ``unbind``, not ``e[:, t]``: each ``select`` would back-propagate a
            zero-filled copy of the whole tensor).
        num_frames: T, the padded length.
        expanded: The expanded graph.
        lengths: ``[B]`` number of valid frames (``1 <= lengths <= T``).
        keep_all: Also return the list of ``alpha_t`` ``[B, P]`` for ``t < T`` (frozen after a
            sequence ends).
    """
    column_shift = _finite_or_zero(expanded.transition.detach().amax(dim=0))
    exp_transition = torch.exp(expanded.transition - column_shift)
    alpha = expanded.initial + frames(0)
    alphas = [alpha]
    ragged = bool((lengths < num_frames).any())
    for t in range(1, num_frames):
        new = _log_matmul(alpha, exp_transition, column_shift) + frames(t)
        alpha = torch.where((lengths > t)[:, None], new, alpha) if ragged else new
        if keep_all:
            alphas.append(alpha)
    return torch.logsumexp(alpha + expanded.final, dim=-1), alphas


def backward_scores(frames: Frames, num_frames: int, expanded: ExpandedGraph, lengths: Tensor) -> list[Tensor]:
    """The backward recursion: ``beta_t`` ``[B, P]`` for ``t < T``, the log-weight of finishing a
    path from each expanded state after frame t (``beta`` at the last valid frame is the final
    weight)."""
    row_shift = _finite_or_zero(expanded.transition.detach().amax(dim=1))
    exp_transition_t = torch.exp(expanded.transition - row_shift[:, None]).T
    final = expanded.final.expand(lengths.shape[0], -1)
    beta = final
    betas = [beta]
    for t in range(num_frames - 2, -1, -1):
        new = _log_matmul(frames(t + 1) + beta, exp_transition_t, row_shift)
        beta = torch.where((lengths - 1 > t)[:, None], new, final)
        betas.append(beta)
    return betas[::-1]


def no_path_error(log_z: Tensor, lengths: Tensor, what: str) -> ValueError:
    bad = torch.nonzero(torch.isneginf(log_z)).flatten().tolist()
    shown = ", ".join(f"{b} (length {int(lengths[b])})" for b in bad[:5]) + (", ..." if len(bad) > 5 else "")
    return ValueError(
        f"{what}: no path of the sequence's length through the graph for sequence(s) {shown}; the graph "
        "must spell a label sequence of every length it is used with (check its final states, and that "
        "states can be left)"
    )


def expanded_frames(emissions: Tensor, expanded: ExpandedGraph, lengths: Tensor) -> Tensor:
    """Emission scores on the expanded states, padding zeroed: ``[B, T, P]``."""
    return masked_emissions(emissions, lengths).index_select(-1, expanded.labels)


def log_partition_expanded(frames: Tensor, expanded: ExpandedGraph, lengths: Tensor) -> Tensor:
    """Log-partition ``[B]`` of emissions on expanded states ``[B, T, P]``.

    The hand-written backward of :mod:`~mibounds.sequence._recursion`, unless the graph's weights
    need a gradient (then autograd through :func:`forward_scores`).
    """
    if graph_needs_grad(expanded):
        slabs = frames.unbind(1)
        return forward_scores(slabs.__getitem__, len(slabs), expanded, lengths)[0]
    return log_partition_frames(frames, expanded.initial, expanded.transition, expanded.final, lengths)


def graph_needs_grad(expanded: ExpandedGraph) -> bool:
    """Whether the graph's weights need a gradient (then the recursions run through autograd)."""
    weights = (expanded.initial, expanded.transition, expanded.final)
    return torch.is_grad_enabled() and any(t.requires_grad for t in weights)
