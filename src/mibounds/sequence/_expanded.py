r"""The expanded graph, the log-space recursions over it, and the graph quantities (private).

A graph is rewritten so that each state has one incoming label ("expanded states" = distinct
(destination, label) pairs of the arcs, P of them), and the forward and backward recursions run
on it as dense ``[B, P] @ [P, P]`` products of shifted exponentials (see the module docstring of
:mod:`~mibounds.sequence.forward_backward`). The log-partition without graph gradients goes to the
hand-written backward of :mod:`~mibounds.sequence._recursion`.

Shared by :mod:`~mibounds.sequence.forward_backward`, :mod:`~mibounds.sequence._pairs` and
:mod:`~mibounds.sequence.objectives`. Nothing here checks its inputs: the public functions check
them once (:func:`~mibounds.sequence._checks.check_emissions`, whose ``lengths`` every function
here takes) and call the ``*_unchecked`` functions, which return what the public function of the
same name returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from mibounds.sequence._checks import frame_mask, masked_emissions
from mibounds.sequence._recursion import log_partition_frames
from mibounds.sequence.graph import LabelGraph

__all__ = [
    "ExpandedGraph",
    "backward_scores",
    "expand",
    "expanded_frames",
    "forward_backward_unchecked",
    "forward_scores",
    "graph_needs_grad",
    "log_partition_expanded",
    "log_partition_unchecked",
    "no_path_error",
    "path_score_unchecked",
    "scatter_logsumexp",
    "sequence_score_unchecked",
]


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


# The public functions of forward_backward.py on inputs they checked (``lengths`` a long tensor
# in [1, T], ``labels`` from check_labels): the objectives call these after their own one check.


def log_partition_unchecked(emissions: Tensor, graph: LabelGraph, lengths: Tensor) -> Tensor:
    """:func:`~mibounds.sequence.forward_backward.log_partition` of checked inputs."""
    graph = graph.to(emissions.device, emissions.dtype)
    expanded = expand(graph)
    log_z = log_partition_expanded(expanded_frames(emissions, expanded, lengths), expanded, lengths)
    if bool(torch.isneginf(log_z).any()):
        raise no_path_error(log_z, lengths, "log_partition")
    return log_z


def sequence_score_unchecked(emissions: Tensor, labels: Tensor, lengths: Tensor) -> Tensor:
    """:func:`~mibounds.sequence.forward_backward.sequence_score` of checked inputs (no graph)."""
    return masked_emissions(emissions, lengths).gather(-1, labels.unsqueeze(-1)).squeeze(-1).sum(-1)


def path_score_unchecked(emissions: Tensor, graph: LabelGraph, labels: Tensor, lengths: Tensor) -> Tensor:
    """:func:`~mibounds.sequence.forward_backward.path_score` of checked inputs."""
    graph = graph.to(emissions.device, emissions.dtype)
    expanded = expand(graph)
    e = expanded_frames(emissions, expanded, lengths)
    allowed = labels.unsqueeze(-1) == expanded.labels  # [B, T, P]
    # Padded frames never reach the result (the recursion freezes), so any label there is fine.
    e = torch.where(allowed | ~frame_mask(lengths, e.shape[1]).unsqueeze(-1), e, -math.inf)
    return log_partition_expanded(e, expanded, lengths)


def forward_backward_unchecked(emissions: Tensor, graph: LabelGraph, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`~mibounds.sequence.forward_backward.forward_backward` of checked inputs, as the tuple
    ``(log_partition [B], label_occupancy [B, T, L], state_occupancy [B, T, S])``."""
    graph = graph.to(emissions.device, emissions.dtype)
    expanded = expand(graph)
    e = expanded_frames(emissions, expanded, lengths).unbind(1)
    n_frames = len(e)
    log_z, alphas = forward_scores(e.__getitem__, n_frames, expanded, lengths, keep_all=True)
    if bool(torch.isneginf(log_z).any()):
        raise no_path_error(log_z, lengths, "forward_backward")
    betas = backward_scores(e.__getitem__, n_frames, expanded, lengths)
    log_gamma = torch.stack(alphas, dim=1) + torch.stack(betas, dim=1) - log_z[:, None, None]
    gamma = torch.exp(log_gamma) * frame_mask(lengths, n_frames).unsqueeze(-1).to(log_gamma.dtype)
    zeros = gamma.new_zeros
    return (
        log_z,
        zeros(gamma.shape[:2] + (graph.num_labels,)).index_add(2, expanded.labels, gamma),
        zeros(gamma.shape[:2] + (graph.num_states,)).index_add(2, expanded.states, gamma),
    )
