r"""Sequence-level MI objectives over a label graph: contrastive (unlabeled), MMI, pseudo-label.

The critic scores a whole label sequence, :math:`f(X, Y) = \sum_t \phi(X)_t[Y_t]`, and the graph
G supplies the prior over label sequences, :math:`G(Y)` (a normalized G, e.g.
:func:`~mibounds.sequence.graph.bigram_graph`, makes it a distribution p(Y)). Every function returns
a 0-d tensor whose value is the readout in nats and whose gradient is the training gradient;
training minimizes its negative (the package's convention, docs/design.md §2).

- :func:`sequence_infonce`: unlabeled contrastive training over a batch of K sequences,
  :math:`\log K + \frac1K \sum_k \big(E(k, k) - \log\sum_j e^{E(k, j)}\big)` with
  :math:`E(k, j) = [\![(\phi(X_k) + \phi(X_j)) \circ G]\!]`.
- :func:`mmi`: supervised maximum mutual information with transcripts,
  :math:`f(X, Y) - [\![\phi \circ G]\!]`.
- :func:`pseudo_label_mmi`: MMI with the posterior over the graph (from teacher scores) in place of
  the transcript, :math:`\mathbb{E}_{q(Y \mid X)} f(X, Y) - [\![\phi \circ G]\!]`.

Reference:
    Wiesner, "Variational Bounds on Mutual Information" (blog post; sections "Maximum Mutual
    Information and Pseudo-Labeling" to "Alternative Approximation"); Poole et al. (2019);
    Bahl et al. (1986) and Povey et al. (2016) for MMI.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from mibounds.bounds import infonce, uba
from mibounds.sequence._checks import (
    check_emissions,
    check_graph_labels,
    check_labels,
    check_like_emissions,
    masked_emissions,
)
from mibounds.sequence._expanded import (
    forward_backward_unchecked,
    log_partition_unchecked,
    path_score_unchecked,
    sequence_score_unchecked,
)
from mibounds.sequence._pairs import pairwise_log_partition_unchecked
from mibounds.sequence.graph import LabelGraph
from mibounds.validation import unknown_name_error

__all__ = ["mmi", "pseudo_label_mmi", "sequence_infonce"]

Posterior = Literal["joint", "fixed", "learned"]


def sequence_infonce(
    emissions: Tensor,
    graph: LabelGraph,
    lengths: Tensor | None = None,
    *,
    other: Tensor | None = None,
    posterior: Posterior = "joint",
) -> Tensor:
    r"""Sequence-level InfoNCE over a label graph, for unlabeled (lattice-free) contrastive training.

    ``posterior="joint"`` (default) is the form of the last section ("Alternative Approximation") of
    Wiesner's "Variational Bounds on Mutual Information":

    .. math::
        \hat I = \log K + \frac1K \sum_{k=1}^K \Big(E(k, k) - \log \sum_{j=1}^K e^{E(k, j)}\Big),
        \qquad E(k, j) = [\![(\phi(X_k) + \phi(X_j)) \circ G]\!],

    with gradients through both sides of every E(k, j). Here
    :math:`E(k, j) - [\![\phi(X_k) \circ G]\!] = \log \mathbb{E}_{p(Y \mid X_k)} e^{f(X_j, Y)}` under the
    posterior over the graph :math:`p(Y \mid X_k) \propto G(Y) e^{f(X_k, Y)}`: the labels are
    marginalized instead of observed. Wiesner obtains it by Jensen's inequality applied to the
    numerator and the denominator of InfoNCE separately, so it only approximates the InfoNCE
    with observed labels; it never exceeds :math:`\log K`.

    What it bounds: E(k, j) is a function of X_k and of the candidate X'_j alone, so over batches of
    K independent sequences the value is the InfoNCE of the critic :math:`g(x, x') = E`, whatever
    the emissions and the graph. With two views (``other``) its expectation is therefore a lower
    bound on I(X; X'), and, when the views are independent given the label sequence
    (X - Y - X'), on :math:`I(X; X') \le I(X; Y)` (data processing). With one view the pairs are
    (X, X): the bound is on I(X; X) = H(X), not on I(X; Y), which it can exceed even with the true
    model as critic. Exactly, on a tiny hidden Markov model (2 labels, 3 frames, K = 8;
    ``tests/sequence/test_hmm_bounds.py``): two views 0.139 <= I(X; X') = 0.209 <= I(X; Y) = 0.527
    nats; one view 0.634 > I(X; Y).

    ``posterior="fixed"`` is Wiesner's "Tractable Alternative Factorization", a lower bound
    (Jensen's inequality once) on the InfoNCE integrand averaged over :math:`p(Y \mid X_k)`, with that
    posterior held fixed when differentiating (Wiesner's section "Gradient of the alternative
    factorization"):

    .. math::
        \hat I = \log K + \frac1K \sum_k \Big(\sum_t \langle \gamma_{X_k, t}, \phi(X_k)_t \rangle
        + [\![\phi(X_k) \circ G]\!] - \log \sum_j e^{E(k, j)}\Big),

    whose gradient with respect to :math:`\phi(X_j)_t[s]` is
    :math:`\frac1K\big(\gamma_{X_j}(s, t) - \sum_k \gamma_{X_k, X_j}(s, t)\, \mathrm{softmax}_j E(k, \cdot)\big)`,
    with :math:`\gamma_{X_k, X_j}` the occupancy of the summed scores. Its value is at most the
    ``"joint"`` value (Jensen), and also at most :math:`\log K`.

    ``posterior="learned"`` has the value of ``"fixed"`` and its exact gradient: the posterior
    :math:`p(Y \mid X_k) = G(Y) e^{f(X_k, Y)} / Z(X_k)` is differentiated too (Wiesner's section
    "Updating p(Y | X)"), so the model can improve the posterior it is scored with, which ``"fixed"``
    cannot.
    With :math:`\partial p(Y \mid X_k) / \partial \phi(X_k)_t[s] = p(Y \mid X_k)(\mathbb{1}[Y_t = s] -
    \gamma_{X_k}(s, t))`, the gradient with respect to the posterior side :math:`\phi(X_k)_t[s]` adds
    to the ``"fixed"`` gradient

    .. math::
        \frac1K\Big(\mathrm{Cov}_{p(Y \mid X_k)}\big(f(X_k, Y), \mathbb{1}[Y_t = s]\big)
        - \sum_j \mathrm{softmax}_j E(k, \cdot)\, \big(\gamma_{X_k, X_j}(s, t) - \gamma_{X_k}(s, t)\big)\Big),

    the first term from the expected score, the second from the partition (the term Wiesner calls
    "acoustic confidence"). Wiesner estimates the covariance by sampling frames; here it is
    exact: f is a sum over frames, so :math:`\mathbb{E}_{p(Y \mid X_k)} f(X_k, Y) =
    \sum_t \langle \gamma_{X_k, t}, \phi(X_k)_t \rangle`, and autograd through the forward-backward
    recursions differentiates the occupancy :math:`\gamma_{X_k}` (the covariance is the Hessian of
    :math:`[\![\phi(X_k) \circ G]\!]` applied to :math:`\phi(X_k)`). Equivalently, it is ``"joint"`` with
    the positive term :math:`\log \mathbb{E}_{p(Y \mid X_k)} e^{f(X_k, Y)}` replaced by its Jensen lower
    bound :math:`\mathbb{E}_{p(Y \mid X_k)} f(X_k, Y)`, every gradient kept. It costs one
    differentiable forward-backward pass more than ``"joint"``.

    Two views (``other``): with ``other`` = the scores :math:`\phi(X'_j)` of a second view of
    each sequence (same labels frame by frame, e.g. another noisy recording or augmentation),
    :math:`E(k, j) = [\![(\phi(X_k) + \phi(X'_j)) \circ G]\!]`: the posterior over the graph from view 1
    of sequence k scores every candidate of view 2, and the positive is the other view of the same
    sequence. With one view the positive is the sequence itself, which any frame feature
    distinguishing sequences identifies, label-related or not; with two views only what the views
    share (the labels) does, and only then is the value a lower bound on I(X; Y) (see "What it
    bounds" above; ``"fixed"`` and ``"learned"`` are below ``"joint"``). All forms above apply, with
    :math:`\phi(X'_j)` in place of :math:`\phi(X_j)` on the candidate side (in ``"fixed"`` and
    ``"learned"``, also in the expected score, whose posterior comes from the first view).

    Orientation: row k of E is the posterior's sequence, column j the candidate, and the
    partition is ``logsumexp_j E(k, j)`` as Wiesner writes it: the package's partition over x (the
    candidates) per y (the posterior), computed by :func:`mibounds.bounds.infonce` on
    :math:`E^\top` (one view: E is symmetric, so it is E itself).

    Args:
        emissions: ``[K, T, L]`` per-frame label scores of a batch of K >= 2 sequences.
        graph: The label graph G.
        lengths: ``[K]`` valid frames (pairs use the shorter length, see
            :func:`~mibounds.sequence.pairwise.pairwise_log_partition`).
        other: Optional ``[K, T, L]`` scores of a second view (the candidate side).
        posterior: ``"joint"``, ``"fixed"`` or ``"learned"``.

    Returns:
        0-d tensor: the readout in nats (at most log K); maximize it (minimize its negative).

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph
        >>> phi = torch.randn(8, 20, 3, requires_grad=True)
        >>> value = sequence_infonce(phi, fully_connected_graph(3))
        >>> bool(value <= torch.log(torch.tensor(8.0)))
        True
        >>> (-value).backward()
    """
    lengths = check_emissions(emissions, graph, lengths)
    if emissions.shape[0] < 2:
        raise ValueError(
            f"sequence_infonce needs a batch of K >= 2 sequences (the others are the negatives), got K = {emissions.shape[0]}"
        )
    if other is not None:
        check_like_emissions(other, emissions, "other (the second view)")
    # Checked once above; the computations below check nothing again.
    if posterior == "joint":
        if other is None:
            return infonce(pairwise_log_partition_unchecked(emissions, graph, lengths))
        return infonce(pairwise_log_partition_unchecked(emissions, graph, lengths, other).T)
    if posterior not in ("fixed", "learned"):
        raise unknown_name_error("posterior", posterior, ["joint", "fixed", "learned"])
    candidates = emissions if other is None else other
    if posterior == "fixed":  # the posterior side (rows) held fixed
        log_z, occupancy, _ = forward_backward_unchecked(emissions.detach(), graph, lengths)
        scores = pairwise_log_partition_unchecked(emissions.detach(), graph, lengths, candidates)
    else:  # "learned": the joint form's E, and an occupancy autograd differentiates
        log_z, occupancy, _ = forward_backward_unchecked(emissions, graph, lengths)
        scores = pairwise_log_partition_unchecked(emissions, graph, lengths, other)
    expected_score = (occupancy * masked_emissions(candidates, lengths)).sum(dim=(1, 2))
    per_k = expected_score + log_z - torch.logsumexp(scores, dim=1)
    return math.log(emissions.shape[0]) + per_k.mean()


def mmi(
    emissions: Tensor,
    graph: LabelGraph,
    labels: Tensor,
    lengths: Tensor | None = None,
    *,
    include_prior: bool = False,
) -> Tensor:
    r"""Supervised maximum mutual information (MMI) with transcripts, averaged over the batch.

    ``include_prior=False`` (default) gives the MI readout of Wiesner's "Variational Bounds on Mutual
    Information",

    .. math::
        I_\mathrm{UBA} \approx \frac1B \sum_b \Big(f(X_b, Y_b) - [\![\phi(X_b) \circ G]\!]\Big),

    :func:`mibounds.bounds.uba` with the partition over label sequences for each input (computed
    exactly by the forward recursion), a lower bound on I(X; Y) in expectation when G is the true
    prior p(Y) over label sequences of each length (e.g. a fitted :func:`~mibounds.sequence.graph.bigram_graph`); the optimal critic is
    :math:`\log p(Y \mid X) / p(Y)` up to a constant per X. ``include_prior=True`` gives the classic
    MMI criterion, the log-posterior of the transcript,
    :math:`\log \frac{G(Y) e^{f(X, Y)}}{\sum_{Y'} G(Y') e^{f(X, Y')}} \le 0`, which differs by
    :math:`\log G(Y_b)` (constant in the emissions): Wiesner's :math:`I_\mathrm{UBA} = F_\mathrm{MMI} + H(Y)`.
    Both have the same gradient with respect to the emissions,
    :math:`\mathbb{1}[Y_t = l] - \gamma_t(l)` per sequence (divided by B).

    Args:
        emissions: ``[B, T, L]`` per-frame label scores.
        graph: The label graph (the "denominator graph").
        labels: ``[B, T]`` transcripts (one label per frame; padded entries ignored).
        lengths: ``[B]`` valid frames per sequence (default: all T).
        include_prior: Report the log-posterior (adds :math:`\log G(Y_b)`).

    Returns:
        0-d tensor in nats.

    Raises:
        ValueError: With ``include_prior=True``, if the graph does not accept some transcript.

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph
        >>> phi, y = torch.randn(2, 6, 3), torch.randint(0, 3, (2, 6))
        >>> bool(mmi(phi, fully_connected_graph(3), y, include_prior=True) <= 0)
        True
    """
    lengths = check_emissions(emissions, graph, lengths)
    labels = check_labels(labels, emissions, lengths)
    log_z = log_partition_unchecked(emissions, graph, lengths)
    if not include_prior:
        return uba(sequence_score_unchecked(emissions, labels, lengths), log_z)
    numerator = path_score_unchecked(emissions, graph, labels, lengths)
    if bool(torch.isneginf(numerator).any()):
        bad = torch.nonzero(torch.isneginf(numerator)).flatten().tolist()
        raise ValueError(
            f"the graph does not accept the transcripts of sequence(s) {bad[:5]}: no path spells them, so "
            "their log-posterior is -inf; use a graph that allows them (e.g. bigram_graph with smoothing > 0)"
        )
    return (numerator - log_z).mean()


def pseudo_label_mmi(
    emissions: Tensor,
    graph: LabelGraph,
    lengths: Tensor | None = None,
    *,
    posterior_emissions: Tensor,
    posterior_graph: LabelGraph | None = None,
) -> Tensor:
    r"""MMI with the posterior over the graph in place of a transcript (pseudo-labeling).

    .. math::
        \frac1B \sum_b \Big(\mathbb{E}_{q(Y \mid X_b)} f(X_b, Y) - [\![\phi(X_b) \circ G]\!]\Big)
        = \frac1B \sum_b \Big(\sum_{t, l} q_{b,t}(l)\, \phi(X_b)_t[l] - [\![\phi(X_b) \circ G]\!]\Big),

    where :math:`q(Y \mid X) \propto G_q(Y) e^{f_q(X, Y)}` is the posterior over ``posterior_graph``
    (default: ``graph``) of the teacher scores ``posterior_emissions``, held fixed (no gradient),
    and :math:`q_{b,t}(l)` its label occupancy: the expectation over the whole lattice is exact,
    because f is a sum over frames. The gradient is :math:`q_{b,t}(l) - \gamma_{b,t}(l)` (divided by
    B): the model's occupancy is pulled towards the teacher's. If the teacher is the model itself
    (``posterior_emissions = emissions.detach()``), that gradient is exactly zero (the score has
    mean zero under its own posterior): use an earlier checkpoint, another model, or sharpened
    scores (e.g. ``2 * emissions.detach()``).

    Args:
        emissions: ``[B, T, L]`` per-frame label scores of the model.
        graph: The label graph of the model's partition function.
        lengths: ``[B]`` valid frames per sequence (default: all T).
        posterior_emissions: ``[B, T, L]`` teacher scores defining the posterior.
        posterior_graph: Graph of the posterior (default: ``graph``); same labels.

    Returns:
        0-d tensor in nats.
    """
    lengths = check_emissions(emissions, graph, lengths)
    check_like_emissions(posterior_emissions, emissions, "posterior_emissions")
    if posterior_graph is None:
        posterior_graph = graph
    else:
        check_graph_labels(emissions.shape[2], posterior_graph, "posterior_emissions", "posterior_graph")
    with torch.no_grad():
        _, teacher, _ = forward_backward_unchecked(posterior_emissions.to(emissions.dtype), posterior_graph, lengths)
    expected_score = (teacher * masked_emissions(emissions, lengths)).sum(dim=(1, 2))
    return (expected_score - log_partition_unchecked(emissions, graph, lengths)).mean()
