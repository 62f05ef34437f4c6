"""The MI staircase of Poole et al. 2019: the true MI held at each level for a number of steps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mibounds.tasks.base import check_int

__all__ = ["mi_schedule"]


def mi_schedule(levels: Sequence[float] = (2, 4, 6, 8, 10), steps_per_level: int = 4000) -> np.ndarray:
    """The target MI (nats) at every training step of a staircase.

    Args:
        levels: MI levels in nats, in the order they are visited (each finite and >= 0).
        steps_per_level: Steps spent at each level, >= 1.

    Returns:
        Float64 array of shape ``[len(levels) * steps_per_level]``: ``levels[0]`` repeated
        ``steps_per_level`` times, then ``levels[1]``, and so on.

    Reference:
        Poole et al. 2019, On Variational Bounds of Mutual Information (arXiv:1905.06922), fig. 2:
        2, 4, 6, 8, 10 nats for 4,000 steps each.

    Example:
        >>> mi_schedule((2, 4), steps_per_level=3).tolist()
        [2.0, 2.0, 2.0, 4.0, 4.0, 4.0]
    """
    steps_per_level = check_int(steps_per_level, "steps_per_level", minimum=1)
    values = np.asarray(levels, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"levels must be a non-empty sequence of MI values in nats, got {levels!r}")
    bad = [float(v) for v in values if not (0 <= v < math.inf)]
    if bad:
        raise ValueError(f"levels must be finite and >= 0 nats, got {bad} in {list(values)}")
    return np.repeat(values, steps_per_level)
