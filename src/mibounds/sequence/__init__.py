r"""Sequence-level MI objectives over label graphs (lattice-free contrastive training and MMI).

The critic scores a whole label sequence, :math:`f(X, Y) = \sum_t \phi(X)_t[Y_t]`, from per-frame
emission scores ``emissions`` ``[B, T, L]``, and partition functions sum over every label sequence a
weighted graph allows (forward-backward in log space, batched and length-masked).

- :mod:`~mibounds.sequence.graph`: :class:`LabelGraph` and the builders
  :func:`fully_connected_graph`, :func:`bigram_graph`.
- :mod:`~mibounds.sequence.openfst`: :func:`read_openfst`, :func:`write_openfst` (text format).
- :mod:`~mibounds.sequence.forward_backward`: :func:`log_partition`, :func:`path_score`,
  :func:`sequence_score`, :func:`forward_backward` (occupancies).
- :mod:`~mibounds.sequence.pairwise`: :func:`pairwise_log_partition`, the batch matrix
  :math:`E(k, j) = [\![(\phi(X_k) + \phi(X_j)) \circ G]\!]`.
- :mod:`~mibounds.sequence.objectives`: :func:`sequence_infonce` (unlabeled), :func:`mmi`
  (transcripts), :func:`pseudo_label_mmi` (teacher posterior); modules :class:`SequenceInfoNCE`,
  :class:`MMI`, :class:`PseudoLabelMMI`.

All values are in nats; objectives return a 0-d tensor whose value is the readout and whose
gradient trains (minimize its negative). See ``docs/sequence.md``.

Example:
    Zero emissions on the normalized fully connected graph: every label sequence has weight
    :math:`L^{-T}` and there are :math:`L^T` of them, so the log-partition is 0; sequence InfoNCE
    on a batch of B sequences never exceeds :math:`\log B`.

    >>> import math, torch
    >>> from mibounds import sequence
    >>> graph = sequence.fully_connected_graph(3)
    >>> sequence.log_partition(torch.zeros(2, 5, 3), graph)
    tensor([0., 0.])
    >>> float(sequence.sequence_infonce(torch.randn(4, 5, 3), graph)) <= math.log(4)
    True
"""

from mibounds.sequence.forward_backward import (
    ForwardBackward,
    forward_backward,
    log_partition,
    path_score,
    sequence_score,
)
from mibounds.sequence.graph import LabelGraph, bigram_graph, fully_connected_graph
from mibounds.sequence.modules import MMI, PseudoLabelMMI, SequenceInfoNCE
from mibounds.sequence.objectives import mmi, pseudo_label_mmi, sequence_infonce
from mibounds.sequence.openfst import read_openfst, write_openfst
from mibounds.sequence.pairwise import pairwise_log_partition

__all__ = [
    "MMI",
    "ForwardBackward",
    "LabelGraph",
    "PseudoLabelMMI",
    "SequenceInfoNCE",
    "bigram_graph",
    "forward_backward",
    "fully_connected_graph",
    "log_partition",
    "mmi",
    "pairwise_log_partition",
    "path_score",
    "pseudo_label_mmi",
    "read_openfst",
    "sequence_infonce",
    "sequence_score",
    "write_openfst",
]
