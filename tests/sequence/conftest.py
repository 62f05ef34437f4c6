from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

# Let the test modules import the enumeration reference (sequence_brute_force.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
import torch

import sequence_brute_force as brute
from mibounds.sequence import LabelGraph


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Tests that draw from the global generator draw the same numbers whatever ran before."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Run with one torch thread, restored afterwards: the recursions are many tiny ops, which a
    second thread only slows down (3x for this folder on a 2-core machine shared with other jobs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=list(brute.tiny_graphs()))
def graph(request: pytest.FixtureRequest) -> LabelGraph:
    return brute.tiny_graphs()[request.param]
