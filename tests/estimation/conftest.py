"""Small paired data and settings that make an estimate take a fraction of a second (the
one-thread fixture is in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    """1000 rows of x [1000, 2], y = x + noise [1000, 2]."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 2))
    return x, x + rng.normal(size=(1000, 2))


#: An estimate that trains for a handful of steps on a tiny critic.
FAST = {
    "critic_kwargs": {"hidden_dim": 8, "embed_dim": 4, "num_layers": 1},
    "max_steps": 20,
    "eval_every": 10,
    "progress": False,
    "random_state": 0,
}
