r"""Batched, length-masked forward-backward over a label graph, in log space.

The critic scores a whole label sequence with per-frame emission scores
``emissions[b, t, l]`` :math:`= \phi(X_b)_t[l]`:

.. math::
    f(X, Y) = \sum_{t=1}^{T} \phi(X)_t[Y_t],

and a graph G (:class:`~mibounds.sequence.graph.LabelGraph`) weights the label sequences. This
module computes, for every sequence of a batch:

- :func:`log_partition`: :math:`[\![\phi \circ G]\!] = \log \sum_Y G(Y)\, e^{f(X, Y)}`, the sum over every
  path of the sequence's length (log semiring);
- :func:`path_score`: :math:`f(X, Y) + \log G(Y)` for a given label sequence Y (the paths that spell Y);
- :func:`sequence_score`: :math:`f(X, Y)` alone (no graph);
- :func:`forward_backward`: the log-partition and the occupancies
  :math:`\gamma_t(l) = P(Y_t = l \mid X)` (labels; :math:`\gamma(s, \tau)` in Wiesner's "Variational
  Bounds on Mutual Information") and :math:`P(\text{state after frame } t = s \mid X)` (graph states)
  under the posterior
  :math:`p(Y \mid X) = G(Y) e^{f(X, Y)} / \sum_{Y'} G(Y') e^{f(X, Y')}`. The label occupancy is the
  gradient of the log-partition with respect to the emissions.

Shapes: ``emissions`` ``[B, T, L]``, ``lengths`` ``[B]`` (frames ``t >= lengths[b]`` are padding and
ignored, whatever they hold), ``labels`` ``[B, T]``. Everything is in nats (natural logs).

Algorithm: the graph is first rewritten so that each state has one incoming label ("expanded
states" = distinct (destination, label) pairs of the arcs, P of them; P = L for the builders of
:mod:`~mibounds.sequence.graph`). The recursion per frame is then one dense ``[B, P] @ [P, P]``
product of shifted exponentials, :math:`\alpha_t = e_t + m + c + \log(e^{\alpha_{t-1} - m} \, e^{W - c})`
with m the per-sequence max of :math:`\alpha_{t-1}` and c the column max of the transition
log-weights W, which is the log-semiring product up to float rounding. The log-partition is one
autograd node with a hand-written backward (the β recursion, :mod:`~mibounds.sequence._recursion`)
when only the emissions need a gradient; with learned graph weights, autograd runs through the
recursion. Precision note: a state whose forward score falls more than about 87 nats
(float32; 708 in float64) below the best state of the same frame underflows to zero in that frame's
product. This is harmless when every state can reach the others (the builders' graphs), but on
graphs with dead ends and emission ranges of hundreds of nats per frame use float64.

Reference:
    Rabiner (1989), A tutorial on hidden Markov models; Povey et al. (2016), lattice-free MMI.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from mibounds.sequence._checks import check_emissions, check_labels
from mibounds.sequence._expanded import (
    forward_backward_unchecked,
    log_partition_unchecked,
    path_score_unchecked,
    sequence_score_unchecked,
)
from mibounds.sequence.graph import LabelGraph

__all__ = ["ForwardBackward", "forward_backward", "log_partition", "path_score", "sequence_score"]


def log_partition(emissions: Tensor, graph: LabelGraph, lengths: Tensor | None = None) -> Tensor:
    r"""The log-partition :math:`[\![\phi \circ G]\!] = \log \sum_Y G(Y) \exp \sum_t \phi_t[Y_t]` per sequence.

    The sum runs over every path of the graph of the sequence's length (start and final weights
    included). Its gradient with respect to ``emissions`` is the label occupancy (see
    :func:`forward_backward`).

    Args:
        emissions: ``[B, T, L]`` per-frame label scores :math:`\phi(X_b)_t[l]`, L = ``graph.num_labels``.
        graph: The label graph (moved to the emissions' device and dtype).
        lengths: ``[B]`` valid frames per sequence (default: all T).

    Returns:
        ``[B]`` log-partitions in nats.

    Raises:
        ValueError: If the graph has no path of some sequence's length.

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph
        >>> g = fully_connected_graph(3, normalized=False)  # every sequence, weight 1
        >>> float(log_partition(torch.zeros(1, 4, 3), g)[0])  # log 3^4
        4.394...
    """
    lengths = check_emissions(emissions, graph, lengths)
    return log_partition_unchecked(emissions, graph, lengths)


def sequence_score(emissions: Tensor, labels: Tensor, lengths: Tensor | None = None) -> Tensor:
    r"""The critic of a label sequence, :math:`f(X, Y) = \sum_{t < T_b} \phi(X)_t[Y_t]`: ``[B]``.

    Args:
        emissions: ``[B, T, L]`` per-frame label scores.
        labels: ``[B, T]`` long label sequences (entries at padded frames are ignored).
        lengths: ``[B]`` valid frames per sequence (default: all T).

    Returns:
        ``[B]`` scores in nats.
    """
    lengths = check_emissions(emissions, None, lengths)
    return sequence_score_unchecked(emissions, check_labels(labels, emissions, lengths), lengths)


def path_score(emissions: Tensor, graph: LabelGraph, labels: Tensor, lengths: Tensor | None = None) -> Tensor:
    r"""The score of the paths that spell a given label sequence: :math:`f(X, Y) + \log G(Y)`.

    This is the forward recursion restricted, at frame t, to the arcs labelled :math:`Y_t` (the
    graph composed with the linear acceptor of Y). :math:`G(Y)` sums every path that spells Y;
    ``-inf`` where the graph does not accept Y.

    Args:
        emissions: ``[B, T, L]`` per-frame label scores.
        graph: The label graph.
        labels: ``[B, T]`` long label sequences (entries at padded frames are ignored).
        lengths: ``[B]`` valid frames per sequence (default: all T).

    Returns:
        ``[B]`` path scores in nats (``-inf`` for sequences the graph does not accept).
    """
    lengths = check_emissions(emissions, graph, lengths)
    return path_score_unchecked(emissions, graph, check_labels(labels, emissions, lengths), lengths)


class ForwardBackward(NamedTuple):
    """What :func:`forward_backward` returns.

    Attributes:
        log_partition: ``[B]`` log-partition :math:`[\\![\\phi \\circ G]\\!]` in nats.
        label_occupancy: ``[B, T, L]``, :math:`P(Y_t = l \\mid X_b)`; sums to 1 over labels at each
            valid frame, 0 at padded frames. Equals the gradient of ``log_partition[b]`` with
            respect to ``emissions[b]``.
        state_occupancy: ``[B, T, S]``, the posterior probability of being in graph state s after
            frame t; sums to 1 over states at each valid frame, 0 at padded frames.
    """

    log_partition: Tensor
    label_occupancy: Tensor
    state_occupancy: Tensor


def forward_backward(emissions: Tensor, graph: LabelGraph, lengths: Tensor | None = None) -> ForwardBackward:
    r"""Forward-backward: the log-partition and the label and state occupancies.

    .. math::
        \gamma_t(p) = \exp\big(\alpha_t(p) + \beta_t(p) - [\![\phi \circ G]\!]\big)

    on expanded states p, summed into labels and graph states. Differentiable (autograd runs
    through both recursions).

    Args:
        emissions: ``[B, T, L]`` per-frame label scores.
        graph: The label graph.
        lengths: ``[B]`` valid frames per sequence (default: all T).

    Returns:
        A :class:`ForwardBackward`.

    Raises:
        ValueError: If the graph has no path of some sequence's length.

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph
        >>> fb = forward_backward(torch.zeros(1, 2, 4), fully_connected_graph(4))
        >>> fb.label_occupancy[0, 0]
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    lengths = check_emissions(emissions, graph, lengths)
    return ForwardBackward(*forward_backward_unchecked(emissions, graph, lengths))
