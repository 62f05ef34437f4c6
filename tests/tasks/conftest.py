from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

# Let the test modules import the shared task list and Monte-Carlo helpers (task_zoo.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Tests that draw from the global generator draw the same numbers whatever ran before."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The batches here are tiny: intra-op threads only add overhead (large on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
