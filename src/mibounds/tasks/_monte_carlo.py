"""Ground truth by Monte Carlo: a seeded float64 mean over many draws, with its standard error.

Tasks whose MI has no closed form (mixtures) compute it once per parameter set as the mean of an
exact per-draw quantity, drawn in chunks from a fixed seed, and cache the result in memory
(``functools.lru_cache`` on a function of the parameters). The same parameters give the same
number on every run and machine with the same torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

#: Draws behind every Monte-Carlo MI (at least 200,000 asked; a million keeps the standard
#: error near 1e-3 nats or below for the tasks of this package and takes under a second).
DRAWS = 1_000_000
#: Draws per chunk (bounds the memory of one evaluation).
CHUNK = 100_000
#: Seed of the Monte-Carlo draws (fixed: the ground truth is one number per parameter set).
SEED = 2_718_281


class MonteCarloMean(NamedTuple):
    """A Monte-Carlo mean and its standard error ``std / sqrt(draws)``."""

    mean: float
    stderr: float
    draws: int


def monte_carlo_mean(
    values: Callable[[int, torch.Generator], Tensor],
    *,
    draws: int = DRAWS,
    chunk: int = CHUNK,
    seed: int = SEED,
) -> MonteCarloMean:
    """Mean of ``values(m, generator)`` (``m`` float64 per-draw values) over ``draws`` draws.

    Args:
        values: Draws ``m`` fresh samples from ``generator`` and returns ``[m]`` float64 values.
        draws: Total number of values.
        chunk: Values per call of ``values``.
        seed: Seed of the one CPU generator all chunks draw from, in order.

    Returns:
        The mean, its standard error (the sample standard deviation over ``sqrt(draws)``), and
        ``draws``.
    """
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for start in range(0, draws, chunk):
        parts.append(values(min(chunk, draws - start), generator).to(torch.float64))
    all_values = torch.cat(parts)
    return MonteCarloMean(float(all_values.mean()), float(all_values.std()) / math.sqrt(draws), draws)


def entropy_of_log_probabilities(log_p: Tensor) -> Tensor:
    """``-sum_k p_k log p_k`` over the last axis of normalized log-probabilities (0 log 0 = 0)."""
    return -(log_p.exp() * log_p).nan_to_num(nan=0.0).sum(-1)
