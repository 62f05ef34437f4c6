"""Critics computed from a task's densities."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds.critics import ConditionalCritic, ExactCritic


def test_exact_critic_is_log_ratio_plus_shift(gaussian_task) -> None:
    x, y = gaussian_task.sample(6, seed=0, dtype=torch.float64)
    for shift in (0.0, 1.0, -0.5):
        critic = ExactCritic(gaussian_task, shift=shift)
        assert list(critic.parameters()) == []
        torch.testing.assert_close(critic(x, y), gaussian_task.log_ratio(x, y) + shift, rtol=0, atol=0)


def test_conditional_critic_is_log_conditional(gaussian_task) -> None:
    x, y = gaussian_task.sample(6, seed=0, dtype=torch.float64)
    critic = ConditionalCritic(gaussian_task)
    assert list(critic.parameters()) == []
    torch.testing.assert_close(critic(x, y), gaussian_task.log_conditional(x, y), rtol=0, atol=0)


def test_exact_critic_diagonal_averages_to_the_mutual_information(gaussian_task) -> None:
    # I = E_p(x,y) log r(x, y): the diagonal of the exact critic is an unbiased estimate. Tolerance:
    # 5 standard errors of the mean, the standard error estimated from the same sample
    # (8 independent batches of K = 500 pairs, 4000 independent diagonal entries).
    critic = ExactCritic(gaussian_task)
    gen = torch.Generator().manual_seed(1)
    diag = torch.cat(
        [torch.diagonal(critic(*gaussian_task.sample(500, generator=gen, dtype=torch.float64))) for _ in range(8)]
    )
    se = diag.std().item() / math.sqrt(diag.numel())
    assert abs(diag.mean().item() - gaussian_task.mutual_information) < 5 * se


def test_exact_critics_check_shapes(gaussian_task) -> None:
    x, y = gaussian_task.sample(6, seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(6, 4\) and y has shape \(5, 4\): they have different"):
        ExactCritic(gaussian_task)(x, y[:5])
    with pytest.raises(ValueError, match=r"built for dim_x = 4; pass x with 4 features"):
        ConditionalCritic(gaussian_task)(x[:, :3], y)


def test_task_without_the_density_is_rejected_at_construction() -> None:
    with pytest.raises(TypeError, match=r"ExactCritic needs a task with a log_ratio\(x, y\) method, got object"):
        ExactCritic(object())
    with pytest.raises(TypeError, match=r"ConditionalCritic needs a task with a log_conditional"):
        ConditionalCritic(object())
