"""Sequence InfoNCE, MMI and pseudo-label MMI against enumeration of every label sequence."""

from __future__ import annotations

import itertools
import math

import pytest
import sequence_brute_force as brute
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.sequence import (
    MMI,
    LabelGraph,
    PseudoLabelMMI,
    SequenceInfoNCE,
    fully_connected_graph,
    mmi,
    pseudo_label_mmi,
    sequence_infonce,
)

K, T, L = 4, 4, 3


def _emissions(batch: int = K, seed: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (1.5 * torch.randn(batch, T, L, generator=g, dtype=torch.float64)).requires_grad_()


def _brute_scores(phi: torch.Tensor, graph: LabelGraph) -> torch.Tensor:
    return torch.stack(
        [torch.stack([brute.log_partition(phi[k] + phi[j], graph) for j in range(len(phi))]) for k in range(len(phi))]
    )


def test_joint_objective_and_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi = _emissions()
    got = sequence_infonce(phi, graph)
    scores = _brute_scores(phi, graph)
    # The form of Wiesner's "Variational Bounds on Mutual Information": mean over k of
    # E(k, k) - logsumexp_j E(k, j), plus log K.
    want = math.log(K) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert float(got.detach()) <= math.log(K)
    (grad_got,) = torch.autograd.grad(got, phi)
    (grad_want,) = torch.autograd.grad(want, phi)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-10, atol=1e-12)


def test_fixed_posterior_value_and_the_seeds_gradient(graph: LabelGraph) -> None:
    phi = _emissions()
    got = sequence_infonce(phi, graph, posterior="fixed")
    detached = phi.detach()
    scores = _brute_scores(detached, graph)
    gamma = torch.stack([brute.label_occupancy(p, graph) for p in detached])
    log_z = torch.stack([brute.log_partition(p, graph) for p in detached])
    per_k = (gamma * detached).sum((1, 2)) + log_z - torch.logsumexp(scores, dim=1)
    torch.testing.assert_close(got, math.log(K) + per_k.mean(), rtol=1e-12, atol=1e-12)
    assert float(got.detach()) <= float(sequence_infonce(detached, graph)) + 1e-12  # Jensen: below the joint form
    (grad,) = torch.autograd.grad(got, phi)
    # Wiesner's closed form: (1/K) [gamma_j - sum_k softmax_j(E(k, .)) gamma_{X_k, X_j}].
    weights = torch.softmax(scores, dim=1)
    want = (
        torch.stack(
            [
                gamma[j]
                - sum(weights[k, j] * brute.label_occupancy(detached[k] + detached[j], graph) for k in range(K))
                for j in range(K)
            ]
        )
        / K
    )
    torch.testing.assert_close(grad, want, rtol=1e-10, atol=1e-12)


def test_two_views_equal_enumeration_and_the_fixed_gradient_reaches_only_the_candidates() -> None:
    graph = brute.tiny_graphs()["random"]
    phi, psi = _emissions(seed=12), _emissions(seed=13)
    scores = torch.stack(
        [torch.stack([brute.log_partition(phi[k] + psi[j], graph) for j in range(K)]) for k in range(K)]
    )
    got = sequence_infonce(phi, graph, other=psi)
    want = math.log(K) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    grads_got = torch.autograd.grad(got, (phi, psi))
    grads_want = torch.autograd.grad(want, (phi, psi))
    for g_got, g_want in zip(grads_got, grads_want, strict=True):
        torch.testing.assert_close(g_got, g_want, rtol=1e-10, atol=1e-12)
    fixed = sequence_infonce(phi, graph, other=psi, posterior="fixed")
    d_phi, d_psi = torch.autograd.grad(fixed, (phi, psi), allow_unused=True)
    assert d_phi is None or bool((d_phi == 0).all())  # the posterior side is held fixed
    gamma = torch.stack([brute.label_occupancy(p, graph) for p in phi.detach()])
    log_z = torch.stack([brute.log_partition(p, graph) for p in phi.detach()])
    value = math.log(K) + ((gamma * psi).sum((1, 2)) + log_z - torch.logsumexp(scores, 1)).mean()
    torch.testing.assert_close(fixed, value, rtol=1e-12, atol=1e-12)
    weights = torch.softmax(scores.detach(), dim=1)
    want_psi = (
        torch.stack(
            [
                gamma[j]
                - sum(weights[k, j] * brute.label_occupancy(phi[k].detach() + psi[j].detach(), graph) for k in range(K))
                for j in range(K)
            ]
        )
        / K
    )
    torch.testing.assert_close(d_psi, want_psi, rtol=1e-10, atol=1e-12)


def _brute_learned(phi: torch.Tensor, graph: LabelGraph, psi: torch.Tensor | None = None) -> torch.Tensor:
    """The "learned" value by enumeration, differentiable in both sides: log K + mean_k of
    E_{p(Y|X_k)} f(X'_k, Y) - log sum_j E_{p(Y|X_k)} e^{f(X'_j, Y)}, p(Y|X_k) a softmax over paths."""
    psi = phi if psi is None else psi
    paths = brute.enumerate_paths(graph, phi.shape[1])
    frames = torch.arange(paths.shape[1])
    per_k = []
    for k in range(len(phi)):
        _, prob = brute.posterior(phi[k], graph)
        f = torch.stack([psi[j][frames, graph.label[paths]].sum(-1) for j in range(len(psi))])  # [K, N]
        per_k.append((prob * f[k]).sum() - torch.logsumexp(torch.log(prob)[None, :] + f, dim=(0, 1)))
    return math.log(len(phi)) + torch.stack(per_k).mean()


def test_learned_posterior_value_and_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi = _emissions()
    got = sequence_infonce(phi, graph, posterior="learned")
    want = _brute_learned(phi, graph)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # The value of "fixed"; the gradient differs by the posterior's own term.
    torch.testing.assert_close(got, sequence_infonce(phi, graph, posterior="fixed"), rtol=1e-12, atol=1e-12)
    (grad_got,) = torch.autograd.grad(got, phi)
    (grad_want,) = torch.autograd.grad(want, phi)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-10, atol=1e-12)
    (grad_fixed,) = torch.autograd.grad(sequence_infonce(phi, graph, posterior="fixed"), phi)
    if len(brute.enumerate_paths(graph, T)) > 1:  # one path (sparse-bigram): nothing to learn in p(Y|X)
        assert float((grad_got - grad_fixed).abs().max()) > 1e-3


def test_learned_posterior_gradient_is_the_seeds_posterior_term() -> None:
    # Wiesner's derivative of the posterior, d p(Y|X_k) / d phi_k = p (1[Y_t = s] - gamma_k): the
    # gradient on the posterior side is (1/K)[Cov_p(f_k, 1[Y_t = s]) - sum_j w_kj (gamma_kj - gamma_k)],
    # with w = softmax_j E(k, .). Two views keep the posterior side (phi) apart from the candidates (psi).
    graph = brute.tiny_graphs()["bigram"]
    phi, psi = _emissions(seed=21), _emissions(seed=22)
    got = sequence_infonce(phi, graph, other=psi, posterior="learned")
    d_phi, d_psi = torch.autograd.grad(got, (phi, psi))
    phi, psi = phi.detach(), psi.detach()
    paths = brute.enumerate_paths(graph, T)
    frames = torch.arange(T)
    onehot = torch.nn.functional.one_hot(graph.label[paths], L).to(phi.dtype)  # [N, T, L]
    scores = torch.stack(
        [torch.stack([brute.log_partition(phi[k] + psi[j], graph) for j in range(K)]) for k in range(K)]
    )
    weights = torch.softmax(scores, dim=1)
    want = []
    for k in range(K):
        _, prob = brute.posterior(phi[k], graph)
        gamma = brute.label_occupancy(phi[k], graph)
        f = psi[k][frames, graph.label[paths]].sum(-1)  # f(X'_k, Y) of every path
        covariance = torch.einsum("n,ntl->tl", prob * (f - (prob * f).sum()), onehot)
        partition = sum(weights[k, j] * (brute.label_occupancy(phi[k] + psi[j], graph) - gamma) for j in range(K))
        want.append((covariance - partition) / K)
    torch.testing.assert_close(d_phi, torch.stack(want), rtol=1e-10, atol=1e-12)
    (d_psi_want,) = torch.autograd.grad(_brute_learned(phi, graph, psi.requires_grad_()), psi)
    torch.testing.assert_close(d_psi, d_psi_want, rtol=1e-10, atol=1e-12)


def test_learned_posterior_gradient_equals_finite_differences() -> None:
    graph = brute.tiny_graphs()["random"]
    lengths = torch.tensor([3, 2, 3])
    phi = _emissions(batch=3, seed=5)[:, :3].detach()
    value = lambda p: float(sequence_infonce(p, graph, lengths, posterior="learned"))  # noqa: E731
    (grad,) = torch.autograd.grad(sequence_infonce(phi.requires_grad_(), graph, lengths, posterior="learned"), phi)
    # Central differences, one entry at a time (error O(eps^2) ~ 1e-12 here, rounding ~ 1e-16 / eps).
    eps = 1e-5
    numerical = torch.zeros_like(phi)
    for index in itertools.product(*map(range, phi.shape)):
        step = torch.zeros_like(phi)
        step[index] = eps
        numerical[index] = (value(phi.detach() + step) - value(phi.detach() - step)) / (2 * eps)
    torch.testing.assert_close(grad, numerical, rtol=1e-6, atol=1e-8)
    assert float(numerical.abs().max()) > 1e-2  # not a vacuous match of zeros


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), scale=st.floats(0.0, 30.0))
def test_never_above_log_k_and_fixed_below_joint(seed: int, k: int, scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    graph = brute.random_graph(gen, num_states=3, num_labels=3, num_arcs=8)
    phi = scale * torch.randn(k, 5, 3, generator=gen, dtype=torch.float64)
    joint = float(sequence_infonce(phi, graph))
    fixed = float(sequence_infonce(phi, graph, posterior="fixed"))
    assert joint <= math.log(k) + 1e-12
    assert fixed <= joint + 1e-9
    assert math.isclose(float(sequence_infonce(phi, graph, posterior="learned")), fixed, rel_tol=1e-12, abs_tol=1e-9)


def test_identical_sequences_give_zero_and_lengths_are_respected() -> None:
    graph = fully_connected_graph(L, dtype=torch.float64)
    same = torch.randn(1, T, L, dtype=torch.float64).expand(K, -1, -1)
    # Every E(k, j) is equal: the classifier is at chance, the readout is log K - log K = 0.
    assert float(sequence_infonce(same, graph)) == pytest.approx(0.0, abs=1e-12)
    phi = _emissions().detach()
    lengths = torch.tensor([4, 2, 3, 4])
    padded = phi.clone()
    padded[torch.arange(T)[None, :] >= lengths[:, None]] = math.nan
    scores = torch.stack(
        [
            torch.stack(
                [
                    brute.log_partition(
                        phi[a, : min(lengths[a], lengths[b])] + phi[b, : min(lengths[a], lengths[b])], graph
                    )
                    for b in range(K)
                ]
            )
            for a in range(K)
        ]
    )
    want = math.log(K) + (scores.diagonal() - torch.logsumexp(scores, 1)).mean()
    torch.testing.assert_close(sequence_infonce(padded, graph, lengths), want, rtol=1e-12, atol=1e-12)
    assert bool(torch.isfinite(sequence_infonce(padded, graph, lengths, posterior="fixed")))


def test_mmi_value_and_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi = _emissions(batch=3)
    paths = brute.enumerate_paths(graph, T)
    spelled = graph.label[paths].unique(dim=0)  # label sequences the graph accepts
    labels = spelled[torch.tensor([0, len(spelled) // 2, len(spelled) - 1])]
    log_z = torch.stack([brute.log_partition(p, graph) for p in phi])
    f = phi.gather(-1, labels[..., None]).squeeze(-1).sum(-1)
    log_g = torch.stack([brute.sequence_log_weight(graph, y.tolist()) for y in labels])
    torch.testing.assert_close(mmi(phi, graph, labels), (f - log_z).mean(), rtol=1e-12, atol=1e-12)
    with_prior = mmi(phi, graph, labels, include_prior=True)
    torch.testing.assert_close(with_prior, (f + log_g - log_z).mean(), rtol=1e-12, atol=1e-12)
    assert float(with_prior.detach()) <= 1e-12  # a log-posterior (0 up to rounding where one path remains)
    (grad,) = torch.autograd.grad(mmi(phi, graph, labels), phi)
    (grad_prior,) = torch.autograd.grad(with_prior, phi)
    gamma = torch.stack([brute.label_occupancy(p, graph) for p in phi.detach()])
    want = (torch.nn.functional.one_hot(labels, L).double() - gamma) / 3
    torch.testing.assert_close(grad, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad_prior, want, rtol=1e-10, atol=1e-12)


def test_mmi_refuses_transcripts_the_graph_cannot_spell() -> None:
    from mibounds.sequence import bigram_graph

    cycle = bigram_graph([[0, 1, 2, 0]], smoothing=0.0)  # only 0 -> 1 -> 2 -> 0 ...
    phi = torch.zeros(2, 3, 3)
    assert float(mmi(phi, cycle, torch.tensor([[0, 1, 2], [0, 1, 2]]), include_prior=True)) == pytest.approx(
        0.0, abs=1e-6
    )
    with pytest.raises(ValueError, match=r"does not accept the transcripts of sequence\(s\) \[1\]"):
        mmi(phi, cycle, torch.tensor([[0, 1, 2], [0, 2, 1]]), include_prior=True)


def test_pseudo_label_value_and_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi, teacher = _emissions(batch=3, seed=8), _emissions(batch=3, seed=9).detach()
    got = pseudo_label_mmi(phi, graph, posterior_emissions=teacher)
    q = torch.stack([brute.label_occupancy(p, graph) for p in teacher])
    log_z = torch.stack([brute.log_partition(p, graph) for p in phi])
    torch.testing.assert_close(got, ((q * phi).sum((1, 2)) - log_z).mean(), rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(got, phi)
    gamma = torch.stack([brute.label_occupancy(p, graph) for p in phi.detach()])
    torch.testing.assert_close(grad, (q - gamma) / 3, rtol=1e-10, atol=1e-12)
    # With its own posterior as the teacher the gradient vanishes (the score has mean zero).
    (own,) = torch.autograd.grad(pseudo_label_mmi(phi, graph, posterior_emissions=phi.detach()), phi)
    torch.testing.assert_close(own, torch.zeros_like(own), rtol=0, atol=1e-12)


def test_pseudo_label_with_a_separate_posterior_graph() -> None:
    model_graph = fully_connected_graph(L, dtype=torch.float64)
    teacher_graph = brute.random_graph(torch.Generator().manual_seed(11))
    phi, teacher = _emissions(batch=2), _emissions(batch=2, seed=3).detach()
    got = pseudo_label_mmi(phi, model_graph, posterior_emissions=teacher, posterior_graph=teacher_graph)
    q = torch.stack([brute.label_occupancy(p, teacher_graph) for p in teacher])
    log_z = torch.stack([brute.log_partition(p, model_graph) for p in phi])
    torch.testing.assert_close(got, ((q * phi).sum((1, 2)) - log_z).mean(), rtol=1e-12, atol=1e-12)


def test_modules_return_what_the_functions_return() -> None:
    graph = brute.random_graph(torch.Generator().manual_seed(1)).to(dtype=torch.float32)
    phi = torch.randn(K, T, L)
    labels = torch.randint(0, L, (K, T))
    lengths = torch.tensor([4, 3, 4, 2])
    assert torch.equal(SequenceInfoNCE(graph)(phi, lengths), sequence_infonce(phi, graph, lengths))
    assert torch.equal(SequenceInfoNCE(graph, "fixed")(phi), sequence_infonce(phi, graph, posterior="fixed"))
    assert torch.equal(SequenceInfoNCE(graph, "learned")(phi), sequence_infonce(phi, graph, posterior="learned"))
    assert torch.equal(SequenceInfoNCE(graph)(phi, other=2 * phi), sequence_infonce(phi, graph, other=2 * phi))
    assert torch.equal(MMI(graph)(phi, labels), mmi(phi, graph, labels))
    assert torch.equal(PseudoLabelMMI(graph)(phi, 2 * phi), pseudo_label_mmi(phi, graph, posterior_emissions=2 * phi))
    module = SequenceInfoNCE(graph.to(dtype=torch.float64))  # follows the inputs' dtype
    assert module(phi).dtype == torch.float32
    assert "num_states=3" in repr(module)


def test_messages() -> None:
    graph = fully_connected_graph(L)
    with pytest.raises(ValueError, match="K >= 2 sequences"):
        sequence_infonce(torch.zeros(1, T, L), graph)
    with pytest.raises(ValueError, match="unknown posterior 'fix'. Did you mean 'fixed'"):
        sequence_infonce(torch.zeros(2, T, L), graph, posterior="fix")
    with pytest.raises(ValueError, match="other \\(the second view\\) must have the shape"):
        sequence_infonce(torch.zeros(2, T, L), graph, other=torch.zeros(3, T, L))
    with pytest.raises(ValueError, match="posterior_emissions must have the shape of emissions"):
        pseudo_label_mmi(torch.zeros(2, T, L), graph, posterior_emissions=torch.zeros(2, T + 1, L))
    with pytest.raises(TypeError, match="graph must be a LabelGraph"):
        SequenceInfoNCE("graph")  # type: ignore[arg-type]
