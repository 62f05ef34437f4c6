"""One instance of every task kind, and the Monte-Carlo helpers the task tests share."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibounds import tasks


def _random_spd(dim: int, seed: int) -> Tensor:
    """A random well-conditioned symmetric positive-definite matrix with unit-ish scale."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    return a @ a.T / dim + 0.5 * torch.eye(dim, dtype=torch.float64)


def _general_mvn() -> tasks.MultivariateNormal:
    return tasks.MultivariateNormal.from_joint(_random_spd(5, seed=1), dim_x=2)


def _general_student() -> tasks.StudentT:
    s = _random_spd(4, seed=2)
    return tasks.StudentT.from_scale(s[:2, :2], s[:2, 2:], s[2:, 2:], dof=4.0)


def zoo() -> list[tasks.Task]:
    """Every family, several parameter regimes, every map, mixed and nested transforms."""
    return [
        tasks.Gaussian(20, 2.0),
        tasks.Gaussian(3, 1.0),
        tasks.Cubic(5, 1.0),
        tasks.Cubic(3, 2.0, mixing_seed=None),
        tasks.MultivariateNormal.dense(3, 3, 0.5, 0.5),
        tasks.MultivariateNormal.dense(2, 2, 0.3),
        tasks.MultivariateNormal.sparse(4, 3, 2, 0.8),
        _general_mvn(),
        tasks.StudentT(2, 2, dof=3.0),
        tasks.StudentT(1, 1, dof=1.0),
        tasks.StudentT(3, 2, dof=5.0, correlation=0.6),
        tasks.StudentT(3, 3, dof=2.5, correlation=-0.7, n_interacting=1),
        tasks.StudentT.dense(3, 3, dof=2.0, correlation=0.5, within_correlation=0.5),
        _general_student(),
        tasks.Transformed(tasks.Gaussian(3, 1.0), "normal-cdf", "normal-cdf"),
        tasks.Transformed(tasks.Gaussian(3, 1.0), "half-cube", "half-cube"),
        tasks.Transformed(tasks.StudentT(2, 2, dof=3.0, correlation=0.5), "asinh", "asinh"),
        tasks.Transformed(tasks.Gaussian(3, 1.0), tasks.Spiral(0.5), tasks.Spiral(-1.0)),
        tasks.Transformed(tasks.MultivariateNormal.sparse(4, 3, 2, 0.8), "half-cube", "asinh"),
        tasks.Transformed(tasks.Transformed(tasks.Gaussian(3, 1.0), "spiral", None), None, "cube"),
        tasks.Transformed(
            tasks.Transformed(tasks.MultivariateNormal.sparse(3, 3, 2, 0.8), "half-cube", "asinh"), "rotate", "rotate"
        ),
        tasks.SignMixture(3, 2, 0.8),
        tasks.SignMixture(4, 4, -0.7),
        tasks.FloatLabels(10, 2, 0.3),
        tasks.FloatLabels(3, 1, 1.0),
        tasks.Embedded(tasks.Gaussian(3, 1.0), dim=12),
        tasks.Embedded(tasks.StudentT(2, 2, dof=3.0, correlation=0.5), dim=9, on="y"),
    ]


def zoo_ids() -> list[str]:
    return [task.name for task in zoo()]


def pairwise_log_ratio(task: tasks.Task, x: Tensor, y: Tensor, block: int = 64) -> Tensor:
    """``log r(x_i, y_i)`` for each row i, from the diagonals of [block, block] log_ratio calls."""
    return torch.cat(
        [task.log_ratio(x[i : i + block], y[i : i + block]).diagonal() for i in range(0, x.shape[0], block)]
    )


def mean_and_se(values: Tensor) -> tuple[float, float]:
    """Sample mean and its standard error ``std / sqrt(n)`` (the MC tolerance unit)."""
    return values.mean().item(), values.std().item() / math.sqrt(values.numel())
