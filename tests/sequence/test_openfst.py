"""OpenFst text format: round trips, the weight sign and label conventions, and messages."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import sequence_brute_force as brute
import torch

from mibounds.sequence import LabelGraph, bigram_graph, log_partition, read_openfst, write_openfst


def _assert_same_graph(a: LabelGraph, b: LabelGraph) -> None:
    assert (a.num_states, a.num_labels) == (b.num_states, b.num_labels)
    for name in ("src", "dst", "label", "weight", "start", "final"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_through_text_and_file_is_exact(dtype: torch.dtype, tmp_path: Path) -> None:
    graph = bigram_graph([[0, 1, 1, 2], [2, 0]], num_labels=4, smoothing=0.3, end_weights=True, dtype=dtype)
    text = write_openfst(graph)
    _assert_same_graph(read_openfst(io.StringIO(text), num_labels=4, dtype=dtype), graph)
    path = tmp_path / "G.txt"
    assert write_openfst(graph, path) == text
    _assert_same_graph(read_openfst(path, num_labels=4, dtype=dtype), graph)
    stream = io.StringIO()
    write_openfst(graph, stream, acceptor=True, label_offset=5)
    _assert_same_graph(
        read_openfst(io.StringIO(stream.getvalue()), num_labels=4, acceptor=True, label_offset=5, dtype=dtype), graph
    )


def test_several_start_states_round_trip_to_an_equivalent_graph() -> None:
    graph = brute.random_graph(torch.Generator().manual_seed(4))  # two weighted start states
    back = read_openfst(io.StringIO(write_openfst(graph)), num_labels=3, dtype=torch.float64)
    assert back.num_states == graph.num_states + 1 and back.start_states() == [graph.num_states]
    phi = torch.randn(3, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(log_partition(phi, back), log_partition(phi, graph), rtol=1e-12, atol=1e-12)


def test_reading_negates_costs_and_shifts_labels() -> None:
    text = "0\t1\t1\t7\t0.5\n1 1 3 9\n1 2 2 2 Infinity\n\n1 0.25\n2\n"
    g = read_openfst(io.StringIO(text))
    assert g.num_states == 3 and g.num_labels == 3
    assert g.src.tolist() == [0, 1, 1] and g.dst.tolist() == [1, 1, 2] and g.label.tolist() == [0, 2, 1]
    assert g.weight.tolist() == [-0.5, 0.0, -math.inf]
    assert g.start.tolist() == [0.0, -math.inf, -math.inf] and g.final.tolist() == [-math.inf, -0.25, 0.0]
    out = read_openfst(io.StringIO(text), labels="output", label_offset=2)
    assert out.label.tolist() == [5, 7, 0]
    # The start state is the first line's source even when it is not state 0.
    assert read_openfst(io.StringIO("3 0 1 1\n0\n")).start_states() == [3]


def test_a_graph_without_arcs_round_trips() -> None:
    graph = LabelGraph.from_arcs([], start={1: 0.0}, final={0: -0.5}, num_states=2, num_labels=2)
    text = write_openfst(graph)
    assert text.splitlines()[0] == "1 Infinity"
    _assert_same_graph(read_openfst(io.StringIO(text), num_labels=2), graph)


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("0 1 0 0 0.5\n1\n", {}, "label 0 is epsilon.*fstrmepsilon"),
        ("0 1 a a\n1\n", {}, "labels must be integers"),
        ("0 1 1 1 abc\n1\n", {}, "weight 'abc' is not a number"),
        ("0 1 1 1 -Infinity\n1\n", {}, "not a valid cost"),
        ("0 1 1\n1\n", {}, "expected arcs 'src dst ilabel olabel \\[weight\\]'"),
        ("0 1 1 1 0 0\n1\n", {"acceptor": True}, "expected acceptor arcs"),
        ("-1 1 1 1\n1\n", {}, "non-negative integers"),
        ("", {}, "empty"),
        ("0 1 1 1\n", {}, "no final state"),
    ],
)
def test_messages_name_the_line(text: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        read_openfst(io.StringIO(text), **kwargs)


def test_unknown_label_side() -> None:
    with pytest.raises(ValueError, match="unknown label side 'inputs'. Did you mean 'input'"):
        read_openfst(io.StringIO("0 1 1 1\n1\n"), labels="inputs")  # type: ignore[arg-type]
