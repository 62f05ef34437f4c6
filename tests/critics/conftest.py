"""Shared fixtures for the critic tests."""

from __future__ import annotations

import pytest

from mibounds import tasks


@pytest.fixture
def gaussian_task() -> tasks.Gaussian:
    """A correlated Gaussian task, d = 4, I = 1 nat."""
    return tasks.Gaussian(dim=4, mi=1.0)
