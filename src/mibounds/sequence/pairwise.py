r"""Pairwise log-partitions of a batch: :math:`E(k, j) = [\![(\phi(X_k) + \phi(X_j)) \circ G]\!]`.

:math:`E(k, j) = \log \sum_Y G(Y)\, e^{f(X_k, Y) + f(X_j, Y)}`, the forward score of the graph
with the summed emissions of two sequences: the log of the (unnormalized) expectation of
:math:`e^{f(X_j, Y)}` under the posterior over the graph given :math:`X_k`. It is the score matrix of
the sequence-level contrastive objective (:func:`~mibounds.sequence.objectives.sequence_infonce`).

All K^2 pairs run as one batch through the forward recursion of
:mod:`~mibounds.sequence.forward_backward` (no Python loop over pairs), one autograd node with a
hand-written backward. ``E`` is symmetric, so only the K(K + 1)/2 pairs ``k <= j`` are computed;
their summed emissions on expanded states, ``[K(K + 1)/2, T, P]``, are formed once (memory: about
twice that tensor, the forward scores being kept for the backward).

Lengths: a pair is scored over the frames the two sequences share, ``min(T_k, T_j)`` (the longer
one is cropped). Train on equal-length crops (as CPC does) if sequence length should carry no
information into E.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mibounds.sequence._checks import check_emissions, check_like_emissions
from mibounds.sequence.forward_backward import (
    expand,
    expanded_frames,
    log_partition_expanded,
    no_path_error,
)
from mibounds.sequence.graph import LabelGraph

__all__ = ["pairwise_log_partition"]


def pairwise_log_partition(
    emissions: Tensor,
    graph: LabelGraph,
    lengths: Tensor | None = None,
    *,
    other: Tensor | None = None,
) -> Tensor:
    r"""The matrix :math:`E(k, j) = [\![(\phi(X_k) + \phi'(X_j)) \circ G]\!]` over a batch, ``[K, K]``.

    With ``other=None``, :math:`\phi' = \phi` and E is symmetric (computed on the upper triangle).
    With ``other`` (same shape as ``emissions``), row k takes its emissions from ``emissions`` and
    column j from ``other``: e.g. ``emissions.detach()`` and ``emissions`` to hold one side fixed.

    Args:
        emissions: ``[K, T, L]`` per-frame label scores of the batch.
        graph: The label graph.
        lengths: ``[K]`` valid frames per sequence (default: all T); pair (k, j) uses
            ``min(lengths[k], lengths[j])`` frames.
        other: Optional ``[K, T, L]`` scores for the column side.

    Returns:
        ``[K, K]`` log-partitions in nats.

    Raises:
        ValueError: If ``other`` has another shape, or the graph has no path of a pair's length.

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph, log_partition
        >>> g = fully_connected_graph(3)
        >>> phi = torch.randn(4, 5, 3)
        >>> E = pairwise_log_partition(phi, g)
        >>> torch.allclose(E.diagonal(), log_partition(2 * phi, g))
        True
    """
    lengths = check_emissions(emissions, graph, lengths)
    symmetric = other is None
    if not symmetric:
        check_like_emissions(other, emissions, "other")
    graph = graph.to(emissions.device, emissions.dtype)
    expanded = expand(graph)
    k = emissions.shape[0]
    # [K, T * P]: the pairs' summed emissions [pairs, T, P] are two gathers of whole rows (memcpy).
    rows_e = expanded_frames(emissions, expanded, lengths).flatten(1)
    cols_e = rows_e if other is None else expanded_frames(other, expanded, lengths).flatten(1)
    if symmetric:
        rows, cols = torch.triu_indices(k, k, device=emissions.device)
    else:
        rows, cols = (
            idx.flatten()
            for idx in torch.meshgrid(
                torch.arange(k, device=emissions.device), torch.arange(k, device=emissions.device), indexing="ij"
            )
        )
    pair_lengths = torch.minimum(lengths[rows], lengths[cols])
    pair_frames = rows_e.index_select(0, rows) + cols_e.index_select(0, cols)
    pair_frames = pair_frames.unflatten(1, (-1, expanded.labels.shape[0]))
    log_z = log_partition_expanded(pair_frames, expanded, pair_lengths)
    if bool(torch.isneginf(log_z).any()):
        raise no_path_error(log_z, pair_lengths, "pairwise_log_partition (indices are pairs)")
    if not symmetric:
        return log_z.reshape(k, k)
    pair_index = torch.zeros(k, k, dtype=torch.long, device=emissions.device)
    ids = torch.arange(rows.shape[0], device=emissions.device)
    pair_index[rows, cols] = ids
    pair_index[cols, rows] = ids
    return log_z[pair_index]
