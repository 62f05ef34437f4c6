"""Shared fixtures for the critic tests."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor


class _FakeGaussian:
    """Stand-in for ``mibounds.tasks.Gaussian`` (y = rho x + sqrt(1 - rho^2) eps), by duck typing."""

    def __init__(self, dim: int, mi: float) -> None:
        self.name = f"fake-gaussian-d{dim}-mi{mi:g}"
        self.dim_x = self.dim_y = dim
        self.mutual_information = mi
        self.rho = math.sqrt(1 - math.exp(-2 * mi / dim))

    def sample(self, n: int, seed: int | None = None, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        x = torch.randn(n, self.dim_x, generator=gen, dtype=dtype)
        eps = torch.randn(n, self.dim_y, generator=gen, dtype=dtype)
        return x, self.rho * x + math.sqrt(1 - self.rho**2) * eps

    def log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        var = 1 - self.rho**2
        diff = y[None, :, :] - self.rho * x[:, None, :]
        return -0.5 * (diff.square().sum(-1) / var + self.dim_y * math.log(2 * math.pi * var))

    def log_marginal_y(self, y: Tensor) -> Tensor:
        return -0.5 * (y.square().sum(-1) + self.dim_y * math.log(2 * math.pi))

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        return self.log_conditional(x, y) - self.log_marginal_y(y)[None, :]


@pytest.fixture
def gaussian_task() -> _FakeGaussian:
    """A correlated Gaussian task, d = 4, I = 1 nat."""
    return _FakeGaussian(dim=4, mi=1.0)
