"""What sequence InfoNCE bounds, computed exactly on a tiny hidden Markov model (float64).

Labels: a symmetric 2-state Markov chain over T = 3 frames (uniform start, stay with probability
0.8). Observations: binary, the label flipped with probability 0.2 at each frame, independently.
Each label sequence Y is observed twice, X and X', the two views independent given Y. With the true
model as the critic (emission scores log p(x_t | l), graph weights the chain's log-probabilities,
so that G(Y) = p(Y)), the pairwise score is E(k, j) = log p(X_k, X'_j): the sequence InfoNCE is the
InfoNCE of the critic log p(x, x'). Its expectation over batches of K = 8 sequences is computed
exactly: for a row k only X_k, its positive and the K - 1 other candidates matter, the candidates
are i.i.d., and their counts over the 8 possible sequences are enumerated (3,432 multisets with
their multinomial probabilities).

Exact values (nats):

- two views: E[sequence InfoNCE] = 0.139 <= I(X; X') = 0.209 <= I(X; Y) = 0.527, the lower bound of
  any InfoNCE on the MI of its pairs, then data processing along X - Y - X';
- one view: E[sequence InfoNCE] = 0.634 > I(X; Y) = 0.527 (< log K = 2.079): the positive of a row
  is the sequence itself, so the pairs are (X, X) and the bound is on I(X; X) = H(X), which says
  nothing about I(X; Y).
"""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import torch
from torch import Tensor

from mibounds.bounds import infonce
from mibounds.sequence import LabelGraph, pairwise_log_partition, sequence_infonce

T, K, STAY, FLIP = 3, 8, 0.8, 0.2
LABELS = torch.tensor(list(itertools.product(range(2), repeat=T)))  # every label sequence
SEQUENCES = LABELS.clone()  # every observation sequence (binary, same length)


def _chain_graph() -> LabelGraph:
    """State 0 starts; state l + 1 means "the last label was l"; weights are the chain's log-probabilities."""
    arcs = [(0, b + 1, b, math.log(0.5)) for b in range(2)]
    arcs += [(a + 1, b + 1, b, math.log(STAY if a == b else 1 - STAY)) for a in range(2) for b in range(2)]
    return LabelGraph.from_arcs(arcs, start=0, final=[1, 2], dtype=torch.float64)


def _log_emission(agree: Tensor) -> Tensor:
    """log p(x_t | y_t) where the observation agrees with the label (True) or is flipped (False)."""
    keep, flip = (torch.tensor(math.log(p), dtype=torch.float64) for p in (1 - FLIP, FLIP))
    return torch.where(agree, keep, flip)


def _emissions(x: Tensor) -> Tensor:
    """``[N, T, 2]`` scores log p(x_t | label l) of observation sequences ``x`` ``[N, T]``."""
    return _log_emission(x[..., None] == torch.arange(2))


@functools.cache
def _model() -> dict[str, Tensor]:
    """p(Y), p(X | Y) by enumeration, the joint of the two views, and the package's E on all pairs."""
    log_prior = torch.tensor(
        [math.log(0.5) + sum(math.log(STAY if y[t - 1] == y[t] else 1 - STAY) for t in range(1, T)) for y in LABELS],
        dtype=torch.float64,
    )
    agree = SEQUENCES[None, :, :] == LABELS[:, None, :]  # [Y, X, T]
    log_likelihood = _log_emission(agree).sum(-1)  # [Y, X]
    joint_views = torch.logsumexp(log_prior[:, None, None] + log_likelihood[:, :, None] + log_likelihood[:, None, :], 0)
    phi = _emissions(SEQUENCES)
    scores = pairwise_log_partition(phi, _chain_graph(), other=phi)  # [k, j]: X_k's posterior, X'_j's scores
    return {"log_prior": log_prior, "log_likelihood": log_likelihood, "log_joint_views": joint_views, "E": scores}


def _mutual_information(log_joint: Tensor) -> float:
    log_a, log_b = torch.logsumexp(log_joint, 1), torch.logsumexp(log_joint, 0)
    return float((log_joint.exp() * (log_joint - log_a[:, None] - log_b[None, :])).sum())


def _compositions(total: int, bins: int) -> list[tuple[int, ...]]:
    if bins == 1:
        return [(total,)]
    return [(first, *rest) for first in range(total + 1) for rest in _compositions(total - first, bins - 1)]


@functools.cache
def _negative_multisets() -> tuple[Tensor, Tensor]:
    """Counts ``[M, N]`` of the K - 1 i.i.d. candidates over the N sequences, and log multinomial coefficients."""
    counts = torch.tensor(_compositions(K - 1, len(SEQUENCES)), dtype=torch.float64)
    log_coefficient = math.lgamma(K) - torch.lgamma(counts + 1).sum(1)
    return counts, log_coefficient


def _expected_infonce(log_pair: Tensor, scores: Tensor, log_candidate: Tensor) -> float:
    """E[InfoNCE] = log K + E[E(x, x+) - log(e^{E(x, x+)} + sum of e^{E(x, c)} over K - 1 candidates c)],
    with (x, x+) drawn from ``log_pair`` [N, N] and the candidates i.i.d. from ``log_candidate`` [N]."""
    counts, log_coefficient = _negative_multisets()
    log_weight = log_coefficient + counts @ log_candidate  # [M]
    negatives = counts @ scores.exp().T  # [M, N]: sum over the candidates of e^{E(x, c)}, per anchor x
    positive = scores[:, :, None]  # [x, x+, 1]
    per_batch = positive - torch.log(positive.exp() + negatives.T[:, None, :])  # [x, x+, M]
    expected = (log_pair.exp()[:, :, None] * log_weight.exp() * per_batch).sum()
    return math.log(K) + float(expected)


def test_the_pairwise_score_of_the_true_model_is_the_log_joint_of_the_two_views() -> None:
    model = _model()
    torch.testing.assert_close(model["E"], model["log_joint_views"], rtol=1e-12, atol=1e-12)


def test_two_view_sequence_infonce_is_below_the_mi_of_the_views_and_of_the_labels() -> None:
    model = _model()
    log_x = torch.logsumexp(model["log_joint_views"], 1)
    info_views = _mutual_information(model["log_joint_views"])
    info_labels = _mutual_information(model["log_prior"][:, None] + model["log_likelihood"])
    two_view = _expected_infonce(model["log_joint_views"], model["E"], log_x)
    assert (round(two_view, 3), round(info_views, 3), round(info_labels, 3)) == (0.139, 0.209, 0.527)
    assert two_view <= info_views <= info_labels


def test_single_view_sequence_infonce_exceeds_the_mi_of_the_labels() -> None:
    model = _model()
    log_x = torch.logsumexp(model["log_joint_views"], 1)
    info_labels = _mutual_information(model["log_prior"][:, None] + model["log_likelihood"])
    # The positive of a row is the sequence itself: pairs (x, x) with probability p(x).
    log_self = torch.full((len(SEQUENCES), len(SEQUENCES)), -math.inf, dtype=torch.float64)
    log_self.diagonal().copy_(log_x)
    one_view = _expected_infonce(log_self, model["E"], log_x)
    assert round(one_view, 3) == 0.634
    assert info_labels < one_view < math.log(K)


@pytest.mark.parametrize("two_views", [True, False])
def test_the_exact_expectation_is_of_what_sequence_infonce_returns(two_views: bool) -> None:
    # A batch's value is InfoNCE on the rows of E it selects, so the expectation above is the
    # expectation of sequence_infonce's value.
    model, phi = _model(), _emissions(SEQUENCES)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        first = torch.randint(len(SEQUENCES), (K,), generator=generator)
        second = torch.randint(len(SEQUENCES), (K,), generator=generator) if two_views else first
        other = phi[second] if two_views else None
        value = sequence_infonce(phi[first], _chain_graph(), other=other)
        expected = infonce(model["E"][first][:, second].T)
        assert math.isclose(float(value), float(expected), rel_tol=1e-12, abs_tol=1e-12)
