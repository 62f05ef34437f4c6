"""Label graph construction, builders (counts, smoothing, normalization) and messages."""

from __future__ import annotations

import itertools
import math

import pytest
import sequence_brute_force as brute
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.sequence import LabelGraph, bigram_graph, fully_connected_graph, log_partition


def _arc_weights(graph: LabelGraph) -> dict[tuple[int, int, int], float]:
    return {
        (s, d, lab): w
        for s, d, lab, w in zip(
            graph.src.tolist(), graph.dst.tolist(), graph.label.tolist(), graph.weight.tolist(), strict=True
        )
    }


def test_bigram_weights_are_smoothed_relative_counts() -> None:
    # Transitions: start->0 twice, start->1 once; 0->0, 0->1 (x2), 1->1 (x2), 1->2.
    seqs = [[0, 0, 1], [1, 1, 1, 2], [0, 1]]
    g = bigram_graph(seqs, smoothing=0.5, dtype=torch.float64)
    arcs = _arc_weights(g)
    assert g.num_states == 4 and g.num_labels == 3 and g.num_arcs == 12
    assert arcs[(0, 1, 0)] == pytest.approx(math.log((2 + 0.5) / (3 + 1.5)))
    assert arcs[(0, 3, 2)] == pytest.approx(math.log((0 + 0.5) / (3 + 1.5)))
    assert arcs[(1, 2, 1)] == pytest.approx(math.log((2 + 0.5) / (3 + 1.5)))
    assert arcs[(2, 3, 2)] == pytest.approx(math.log((1 + 0.5) / (3 + 1.5)))
    assert arcs[(3, 1, 0)] == pytest.approx(math.log(1 / 3))  # label 2 never left: uniform
    assert g.start.tolist() == [0.0, -math.inf, -math.inf, -math.inf]
    assert g.final.tolist() == [-math.inf, 0.0, 0.0, 0.0]


def test_bigram_with_end_weights_counts_the_end_once_per_sequence() -> None:
    g = bigram_graph([[0, 0, 1], [1, 1, 1, 2], [0, 1]], smoothing=0.5, end_weights=True, dtype=torch.float64)
    arcs = _arc_weights(g)
    # From label 1: 1->1 twice, 1->2 once, end twice (sequences 1 and 3 end in 1); V = 4 outcomes.
    assert arcs[(2, 2, 1)] == pytest.approx(math.log(2.5 / (5 + 2.0)))
    assert float(g.final[2]) == pytest.approx(math.log(2.5 / 7.0))
    assert arcs[(0, 1, 0)] == pytest.approx(math.log(2.5 / 4.5))  # the start state never ends
    assert float(g.final[0]) == -math.inf


@pytest.mark.parametrize("frames", [1, 2, 3, 4])
def test_normalized_builders_are_distributions_over_each_length(frames: int) -> None:
    # sum_Y G(Y) = 1 for every length T: the log-partition of zero scores is 0.
    zero = torch.zeros(1, frames, 4, dtype=torch.float64)
    for graph in (
        fully_connected_graph(4, dtype=torch.float64),
        bigram_graph([[0, 3, 3, 1], [2, 2]], num_labels=4, smoothing=0.3, dtype=torch.float64),
        bigram_graph([[0, 1, 2, 3, 0]], smoothing=0.0, dtype=torch.float64),
    ):
        assert float(log_partition(zero, graph)[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(
        log_partition(zero, fully_connected_graph(4, normalized=False, dtype=torch.float64))[0]
    ) == pytest.approx(frames * math.log(4))


def test_bigram_with_end_weights_sums_to_one_over_all_lengths() -> None:
    g = bigram_graph([[0, 1], [1, 1, 0]], smoothing=1.0, end_weights=True, dtype=torch.float64)
    # The end probability is at least 1/3 from every state, so lengths above 80 weigh < (2/3)^80 < 1e-14.
    lengths = torch.arange(1, 81)
    log_z = log_partition(torch.zeros(80, 80, 2, dtype=torch.float64), g, lengths)
    assert float(torch.logsumexp(log_z, 0)) == pytest.approx(0.0, abs=1e-12)


def test_unsmoothed_bigram_keeps_only_seen_transitions() -> None:
    g = bigram_graph([[0, 1, 2, 0]], smoothing=0.0)
    assert sorted(_arc_weights(g)) == [(0, 1, 0), (1, 2, 1), (2, 3, 2), (3, 1, 0)]
    assert all(w == 0.0 for w in g.weight.tolist())  # each seen state has one successor


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 4))
def test_with_single_start_keeps_every_sequence_weight(seed: int, frames: int) -> None:
    graph = brute.random_graph(torch.Generator().manual_seed(seed))
    single = graph.with_single_start()
    assert len(single.start_states()) == 1 and single.num_states == graph.num_states + 1
    for labels in itertools.product(range(3), repeat=frames):
        torch.testing.assert_close(
            brute.sequence_log_weight(single, list(labels)),
            brute.sequence_log_weight(graph, list(labels)),
            rtol=1e-12,
            atol=1e-12,
        )
    assert single.with_single_start() is single


def test_to_moves_and_casts_and_is_a_no_op_otherwise() -> None:
    g = fully_connected_graph(3)
    assert g.to() is g and g.to("cpu", torch.float32) is g
    g64 = g.to(dtype=torch.float64)
    assert g64.weight.dtype == g64.start.dtype == g64.final.dtype == torch.float64
    assert g64.src.dtype == torch.long


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: LabelGraph.from_arcs([(0, 1, 0, 0.0)], start=0, final=[]), "no final state"),
        (lambda: LabelGraph.from_arcs([(0, 1, 0, 0.0)], start={0: -math.inf}, final=[1]), "no start state"),
        (lambda: LabelGraph.from_arcs([(0, 1, 0, math.nan)], start=0, final=[1]), "NaN or \\+inf"),
        (
            lambda: LabelGraph.from_arcs([(0, 1, 0, 0.0)], start=0, final=[5], num_states=2),
            r"state 5 is outside \[0, 2\)",
        ),
        (
            lambda: LabelGraph.from_arcs([(0, 1, 2, 0.0)], start=0, final=[1], num_labels=2),
            r"label holds values outside \[0, 2\)",
        ),
        (lambda: bigram_graph([[0, 1], [2, -1]]), "negative label"),
        (lambda: bigram_graph([[0, 1], []]), "non-empty 1-d sequence"),
        (lambda: bigram_graph([[0.5, 1.0]]), "integer labels"),
        (lambda: bigram_graph([]), "at least one label sequence"),
        (lambda: bigram_graph([[0, 4]], num_labels=3), "num_labels >= 5"),
        (lambda: bigram_graph([[0, 1]], smoothing=-1.0), "smoothing must be a finite number >= 0"),
        (lambda: fully_connected_graph(0), "num_labels must be >= 1"),
    ],
)
def test_messages(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()
