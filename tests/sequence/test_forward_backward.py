"""Forward-backward against enumeration of every path (float64, tiny graphs), masks and messages."""

from __future__ import annotations

import itertools
import math

import pytest
import sequence_brute_force as brute
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.sequence import (
    LabelGraph,
    bigram_graph,
    forward_backward,
    fully_connected_graph,
    log_partition,
    path_score,
    sequence_score,
)

T = 5


def _emissions(batch: int = 3, frames: int = T, labels: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (2.0 * torch.randn(batch, frames, labels, generator=g, dtype=torch.float64)).requires_grad_()


def test_log_partition_and_its_gradient_equal_enumeration(graph: LabelGraph) -> None:
    phi = _emissions()
    got = log_partition(phi, graph)
    want = torch.stack([brute.log_partition(p, graph) for p in phi])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    weights = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    (grad_got,) = torch.autograd.grad((weights * got).sum(), phi)
    (grad_want,) = torch.autograd.grad((weights * want).sum(), phi)
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-10, atol=1e-12)


def test_gradient_in_the_graph_weights_equals_enumeration() -> None:
    base = brute.random_graph(torch.Generator().manual_seed(5))
    weight, start, final = (t.clone().requires_grad_() for t in (base.weight, base.start, base.final))
    graph = LabelGraph(base.num_states, base.num_labels, base.src, base.dst, base.label, weight, start, final)
    phi = _emissions(batch=2, frames=4).detach()
    got = log_partition(phi, graph).sum()
    want = sum(brute.log_partition(p, graph) for p in phi)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    grads_got = torch.autograd.grad(got, (weight, start, final), allow_unused=True)
    grads_want = torch.autograd.grad(want, (weight, start, final), allow_unused=True)
    for g_got, g_want in zip(grads_got, grads_want, strict=True):
        # Exact comparison includes the -inf start/final entries: gradient 0, not NaN.
        torch.testing.assert_close(g_got, g_want, rtol=1e-10, atol=1e-12)
    assert float(grads_got[1][2]) == 0.0 and float(grads_got[2][2]) == 0.0


def test_occupancies_equal_enumeration_and_the_gradient_of_the_log_partition(graph: LabelGraph) -> None:
    phi = _emissions()
    fb = forward_backward(phi, graph)
    torch.testing.assert_close(fb.log_partition, log_partition(phi, graph), rtol=1e-12, atol=1e-12)
    for b in range(phi.shape[0]):
        torch.testing.assert_close(fb.label_occupancy[b], brute.label_occupancy(phi[b], graph), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(fb.state_occupancy[b], brute.state_occupancy(phi[b], graph), rtol=1e-10, atol=1e-12)
    (grad,) = torch.autograd.grad(log_partition(phi, graph).sum(), phi)
    torch.testing.assert_close(fb.label_occupancy, grad, rtol=1e-10, atol=1e-12)
    ones = torch.ones(phi.shape[:2], dtype=phi.dtype)
    torch.testing.assert_close(fb.label_occupancy.sum(-1), ones, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fb.state_occupancy.sum(-1), ones, rtol=1e-12, atol=1e-12)


def test_path_score_is_sequence_score_plus_log_graph_weight(graph: LabelGraph) -> None:
    phi = _emissions(batch=1, frames=4)[0].detach()
    for labels in itertools.product(range(3), repeat=4):
        y = torch.tensor([labels])
        want = float(phi[torch.arange(4), y[0]].sum() + brute.sequence_log_weight(graph, list(labels)))
        got = float(path_score(phi[None], graph, y)[0])
        assert float(sequence_score(phi[None], y)[0]) == pytest.approx(
            float(phi[torch.arange(4), y[0]].sum()), abs=1e-12
        )
        if math.isinf(want):
            assert got == -math.inf
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_path_scores_sum_to_the_partition(graph: LabelGraph) -> None:
    # Summing the score of every label sequence is the partition: the two recursions agree.
    phi = _emissions(batch=1, frames=4).detach()
    ys = torch.tensor(list(itertools.product(range(3), repeat=4)))
    scores = path_score(phi.expand(len(ys), -1, -1), graph, ys)
    torch.testing.assert_close(torch.logsumexp(scores, 0), log_partition(phi, graph)[0], rtol=1e-12, atol=1e-12)


def test_padded_batch_equals_separate_unpadded_runs(graph: LabelGraph) -> None:
    lengths = torch.tensor([5, 2, 4, 1])
    phi = _emissions(batch=4).detach()
    padded = phi.clone()
    padded[torch.arange(T)[None, :] >= lengths[:, None]] = math.nan  # padding must not leak
    padded.requires_grad_()
    labels = torch.randint(0, 3, (4, T))
    fb = forward_backward(padded, graph, lengths)
    (grad,) = torch.autograd.grad(log_partition(padded, graph, lengths).sum(), padded)
    for b, n in enumerate(lengths.tolist()):
        one = phi[b : b + 1, :n]
        alone = forward_backward(one, graph)
        torch.testing.assert_close(fb.log_partition[b], alone.log_partition[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fb.label_occupancy[b, :n], alone.label_occupancy[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fb.state_occupancy[b, :n], alone.state_occupancy[0], rtol=1e-12, atol=1e-12)
        assert bool((fb.label_occupancy[b, n:] == 0).all()) and bool((grad[b, n:] == 0).all())
        torch.testing.assert_close(grad[b, :n], alone.label_occupancy[0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(
            path_score(padded.detach(), graph, labels, lengths)[b], path_score(one, graph, labels[b : b + 1, :n])[0]
        )
        torch.testing.assert_close(
            sequence_score(padded.detach(), labels, lengths)[b], sequence_score(one, labels[b : b + 1, :n])[0]
        )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 4), shift=st.floats(-50, 50))
def test_random_graphs_match_enumeration_and_shift_equivariance(seed: int, frames: int, shift: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    graph = brute.random_graph(gen, num_states=3, num_labels=3, num_arcs=7)
    phi = 3.0 * torch.randn(2, frames, 3, generator=gen, dtype=torch.float64)
    got = forward_backward(phi, graph)
    want = torch.stack([brute.log_partition(p, graph) for p in phi])
    torch.testing.assert_close(got.log_partition, want, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(got.label_occupancy.sum(-1), torch.ones(2, frames, dtype=torch.float64))
    # Adding c to every label score of one frame adds c to the log-partition and leaves gamma.
    moved = phi.clone()
    moved[:, 0] += shift
    after = forward_backward(moved, graph)
    torch.testing.assert_close(after.log_partition, got.log_partition + shift, rtol=1e-11, atol=1e-9)
    torch.testing.assert_close(after.label_occupancy, got.label_occupancy, rtol=1e-9, atol=1e-11)


def test_float32_stays_finite_and_close_for_scores_of_1e4() -> None:
    graph64 = bigram_graph([[0, 1, 2, 2, 1, 0]], num_labels=3, dtype=torch.float64)
    phi = 1e4 * torch.randn(2, 6, 3, dtype=torch.float64)
    phi32 = phi.float().requires_grad_()
    got = log_partition(phi32, graph64.to(dtype=torch.float32))
    assert bool(torch.isfinite(got).all())
    # float32 spacing at 6e4 is about 4e-3: allow a few ulps of the summed magnitude.
    torch.testing.assert_close(got.double(), log_partition(phi, graph64), rtol=1e-6, atol=0.05)
    (grad,) = torch.autograd.grad(got.sum(), phi32)
    # Rounding of a few ulps moves a near-tie's posterior by at most exp(0.05) - 1 relative.
    torch.testing.assert_close(grad.double(), forward_backward(phi, graph64).label_occupancy, rtol=0, atol=0.06)


def test_no_path_of_the_length_is_an_error() -> None:
    # Two frames exactly: 0 -a-> 1 -b-> 2 (final); 1 and 3 frames have no path.
    chain = LabelGraph.from_arcs([(0, 1, 0, 0.0), (1, 2, 1, 0.0)], start=0, final=[2], dtype=torch.float64)
    assert float(log_partition(torch.zeros(1, 2, 2, dtype=torch.float64), chain)[0]) == 0.0
    with pytest.raises(ValueError, match=r"no path of the sequence's length.*sequence\(s\) 0 \(length 3\)"):
        log_partition(torch.zeros(1, 3, 2), chain)
    with pytest.raises(ValueError, match="no path"):
        forward_backward(torch.zeros(2, 3, 2), chain, torch.tensor([2, 1]))
    no_arcs = LabelGraph.from_arcs([], start=0, final=[0], num_labels=2)
    with pytest.raises(ValueError, match="no arc with a finite weight"):
        log_partition(torch.zeros(1, 3, 2), no_arcs)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda g: log_partition(torch.zeros(2, 4, 5), g), ValueError, "5 label scores per frame but the graph has 3"),
        (lambda g: log_partition(torch.zeros(4, 3), g), ValueError, r"\[B, T, L\]"),
        (lambda g: log_partition(torch.zeros(2, 4, 3, dtype=torch.long), g), TypeError, "floating point"),
        (lambda g: log_partition(torch.zeros(2, 4, 3), g, torch.tensor([4, 0])), ValueError, r"\[1, T\] = \[1, 4\]"),
        (lambda g: log_partition(torch.zeros(2, 4, 3), g, torch.tensor([4.0, 2.0])), TypeError, "integers"),
        (lambda g: log_partition(torch.zeros(2, 4, 3), g, torch.tensor([4])), ValueError, "one entry per sequence"),
        (lambda g: path_score(torch.zeros(1, 2, 3), g, torch.tensor([[0, 3]])), ValueError, r"outside \[0, 3\)"),
        (
            lambda g: path_score(torch.zeros(1, 2, 3), g, torch.tensor([[0, 1, 2]])),
            ValueError,
            r"labels must be \[B, T\]",
        ),
    ],
)
def test_messages_name_the_problem(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(fully_connected_graph(3))
