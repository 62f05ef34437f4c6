from __future__ import annotations

import sys
from pathlib import Path

# Let the test modules import the enumeration reference (sequence_brute_force.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
import sequence_brute_force as brute

from mibounds.sequence import LabelGraph


@pytest.fixture(params=list(brute.tiny_graphs()))
def graph(request: pytest.FixtureRequest) -> LabelGraph:
    return brute.tiny_graphs()[request.param]
