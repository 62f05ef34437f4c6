from __future__ import annotations

import sys
from pathlib import Path

# Let the test modules import the enumeration reference (sequence_brute_force.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
import torch

import sequence_brute_force as brute
from mibounds.sequence import LabelGraph, bigram_graph, fully_connected_graph


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Tests that draw from the global generator draw the same numbers whatever ran before."""
    torch.manual_seed(0)


def tiny_graphs() -> dict[str, LabelGraph]:
    """The 3-label graphs every exactness test runs on (float64)."""
    return {
        "random": brute.random_graph(torch.Generator().manual_seed(3)),
        "bigram": bigram_graph([[0, 0, 1, 2], [2, 2, 1], [1, 0]], num_labels=3, smoothing=0.5, dtype=torch.float64),
        "bigram-end": bigram_graph([[0, 1, 1], [2, 0]], num_labels=3, smoothing=1.0, end_weights=True, dtype=torch.float64),
        "sparse-bigram": bigram_graph([[0, 1, 2, 0, 1, 2]], num_labels=3, smoothing=0.0, dtype=torch.float64),
        "fully-connected": fully_connected_graph(3, dtype=torch.float64),
    }


@pytest.fixture(params=list(tiny_graphs()))
def graph(request: pytest.FixtureRequest) -> LabelGraph:
    return tiny_graphs()[request.param]
