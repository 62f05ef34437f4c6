r"""Pairwise log-partitions of a batch: :math:`E(k, j) = [\![(\phi(X_k) + \phi(X_j)) \circ G]\!]`.

:math:`E(k, j) = \log \sum_Y G(Y)\, e^{f(X_k, Y) + f(X_j, Y)}`, the forward score of the graph
with the summed emissions of two sequences: the log of the (unnormalized) expectation of
:math:`e^{f(X_j, Y)}` under the posterior over the graph given :math:`X_k`. It is the score matrix of
the sequence-level contrastive objective (:func:`~mibounds.sequence.objectives.sequence_infonce`).

All K^2 pairs run as one batch through the scaled forward recursion of
:mod:`~mibounds.sequence._recursion` (no Python loop over pairs), one autograd node with a
hand-written backward. ``E`` is symmetric, so only the K(K + 1)/2 pairs ``k <= j`` are computed.
A pair's shifted probabilities are the product of its two sequences' own, so the pairs are formed
once, ``[T, K(K + 1)/2, P]``, by products (memory: about twice that tensor, the forward's α being
kept for the backward), and the backward sums each pair's occupancies back onto its two sequences.

Lengths: a pair is scored over the frames the two sequences share, ``min(T_k, T_j)`` (the longer
one is cropped). Train on equal-length crops (as CPC does) if sequence length should carry no
information into E.
"""

from __future__ import annotations

from torch import Tensor

from mibounds.sequence._checks import check_emissions, check_like_emissions
from mibounds.sequence._pairs import pairwise_log_partition_unchecked
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
    if other is not None:
        check_like_emissions(other, emissions, "other")
    return pairwise_log_partition_unchecked(emissions, graph, lengths, other)
