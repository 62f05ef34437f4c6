from __future__ import annotations

import sys
from pathlib import Path

# Let the test modules import the loop-based reference (bounds_reference.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Tests that draw from the global generator draw the same numbers whatever ran before."""
    torch.manual_seed(0)
