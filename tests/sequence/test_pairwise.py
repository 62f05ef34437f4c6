"""E(k, j) = [[(phi_k + phi_j) o G]] against enumeration, symmetry, the `other` side, lengths."""

from __future__ import annotations

import pytest
import sequence_brute_force as brute
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.sequence import LabelGraph, log_partition, pairwise_log_partition


def _emissions(batch: int = 4, frames: int = 5, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, generator=g, dtype=torch.float64).requires_grad_()


def _brute_pairwise(
    phi: torch.Tensor, graph: LabelGraph, lengths: list[int], other: torch.Tensor | None = None
) -> torch.Tensor:
    other = phi if other is None else other
    k = phi.shape[0]
    return torch.stack(
        [
            torch.stack(
                [
                    brute.log_partition(
                        phi[a, : min(lengths[a], lengths[b])] + other[b, : min(lengths[a], lengths[b])], graph
                    )
                    for b in range(k)
                ]
            )
            for a in range(k)
        ]
    )


def test_pairwise_and_its_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi = _emissions()
    got = pairwise_log_partition(phi, graph)
    want = _brute_pairwise(phi, graph, [5] * 4)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.equal(got, got.T)  # symmetric, exactly
    torch.testing.assert_close(got.diagonal(), log_partition(2 * phi, graph), rtol=1e-12, atol=1e-12)
    weights = torch.randn(4, 4, dtype=torch.float64)  # an asymmetric weighting reaches every entry
    (grad_got,) = torch.autograd.grad((weights * got).sum(), phi)
    (grad_want,) = torch.autograd.grad((weights * want).sum(), phi)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-10, atol=1e-12)


def test_other_side_equals_enumeration_and_only_it_gets_gradient(graph: LabelGraph) -> None:
    phi, psi = _emissions(seed=4), _emissions(seed=5)
    got = pairwise_log_partition(phi.detach(), graph, other=psi)
    torch.testing.assert_close(got, _brute_pairwise(phi, graph, [5] * 4, other=psi), rtol=1e-12, atol=1e-12)
    # Same values as the symmetric matrix when both sides are the same scores.
    torch.testing.assert_close(
        pairwise_log_partition(phi.detach(), graph, other=phi), pairwise_log_partition(phi, graph)
    )
    weights = torch.randn(4, 4, dtype=torch.float64)
    (grad,) = torch.autograd.grad((weights * got).sum(), psi)
    # d E(k, j) / d psi_j is the occupancy of the summed scores (gamma_{X_k, X_j} in Wiesner's
    # "Variational Bounds on Mutual Information").
    want = torch.zeros_like(grad)
    for k in range(4):
        for j in range(4):
            want[j] += weights[k, j] * brute.label_occupancy(phi[k].detach() + psi[j].detach(), graph)
    torch.testing.assert_close(grad, want, rtol=1e-10, atol=1e-12)


def test_variable_lengths_use_the_shorter_sequence_and_match_unpadded_runs(graph: LabelGraph) -> None:
    lengths = [5, 3, 1, 4]
    phi = _emissions().detach()
    padded = phi.clone()
    padded[torch.arange(5)[None, :] >= torch.tensor(lengths)[:, None]] = float("nan")
    got = pairwise_log_partition(padded, graph, torch.tensor(lengths))
    torch.testing.assert_close(got, _brute_pairwise(phi, graph, lengths), rtol=1e-12, atol=1e-12)
    for a in range(4):
        for b in range(4):
            n = min(lengths[a], lengths[b])
            alone = log_partition(phi[a : a + 1, :n] + phi[b : b + 1, :n], graph)[0]
            torch.testing.assert_close(got[a, b], alone, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 5), frames=st.integers(1, 6))
def test_symmetric_and_batched_like_single_pairs(seed: int, k: int, frames: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    graph = brute.random_graph(gen, num_states=4, num_labels=3, num_arcs=9)
    phi = 4.0 * torch.randn(k, frames, 3, generator=gen, dtype=torch.float64)
    got = pairwise_log_partition(phi, graph)
    assert torch.equal(got, got.T)
    singles = log_partition((phi[:, None] + phi[None, :]).reshape(k * k, frames, 3), graph).reshape(k, k)
    torch.testing.assert_close(got, singles, rtol=1e-12, atol=1e-10)


def test_other_with_another_shape_is_refused() -> None:
    phi = torch.zeros(3, 4, 3)
    with pytest.raises(ValueError, match=r"other must have the shape of emissions, \(3, 4, 3\)"):
        pairwise_log_partition(
            phi,
            brute.random_graph(torch.Generator().manual_seed(0)).to(dtype=torch.float32),
            other=torch.zeros(3, 5, 3),
        )
