"""Gradients of every score-based bound reach every parameter of every learned critic."""

from __future__ import annotations

import pytest
import torch

from mibounds import bounds, critics

SCORE_BOUNDS = bounds.names(score_based=True)


@pytest.mark.parametrize("critic_name", critics.names())
@pytest.mark.parametrize("bound_name", SCORE_BOUNDS)
def test_gradients_reach_every_critic_parameter(bound_name: str, critic_name: str) -> None:
    torch.manual_seed(0)
    dim_x, dim_y, k = 3, 2, 8
    critic = critics.make(critic_name, dim_x, dim_y, **({"hidden_dim": 16} if critic_name != "bilinear" else {}))
    baseline = critics.MLPBaseline(dim_y, hidden_dim=16)
    bound = bounds.make(bound_name)
    x, y = torch.randn(k, dim_x), torch.randn(k, dim_y)
    scores = critic(x, y)
    log_baseline = baseline(y) if bound.needs_baseline else None
    loss = -bound(scores, log_baseline)
    loss.backward()
    modules = [critic] + ([baseline] if bound.needs_baseline else [])
    for module in modules:
        for name, parameter in module.named_parameters():
            assert parameter.grad is not None, f"{bound_name}/{critic_name}: no gradient for {name}"
            assert torch.isfinite(parameter.grad).all(), f"{bound_name}/{critic_name}: {name}"
            assert parameter.grad.abs().sum() > 0, f"{bound_name}/{critic_name}: zero gradient for {name}"
