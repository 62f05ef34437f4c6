"""CPC: k-step bilinear scores, bound per horizon, gradient flow, and learning on predictable sequences."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mibounds import bounds
from mibounds.representation import CPC


def model(horizon: int = 3, bound: str = "infonce") -> CPC:
    torch.manual_seed(0)
    return CPC(nn.Linear(2, 4), code_dim=4, context_dim=6, horizon=horizon, bound=bound).double()


def test_scores_and_per_step_bound() -> None:
    cpc = model()
    sequences = torch.randn(5, 8, 2, dtype=torch.float64)
    result = cpc(sequences)
    assert result.codes.shape == (5, 8, 4) and result.context.shape == (5, 8, 6)
    for k in (1, 3):
        w = cpc.predictors[k - 1].weight  # [code, context]
        per_t = []
        for t in range(8 - k):
            # scores[i, j] = z^(i)_{t+k} . W_k c^(j)_t: futures as x, contexts as y.
            scores = result.codes[:, t + k] @ w @ result.context[:, t].T
            per_t.append(bounds.infonce(scores))
        torch.testing.assert_close(result.mi_per_step[k - 1], torch.stack(per_t).mean().detach())
    torch.testing.assert_close(result.loss, -result.mi_per_step.mean(), check_dtype=False)
    assert bool((result.mi_per_step <= math.log(5) + 1e-12).all())


def test_gradients_reach_encoder_gru_and_predictors() -> None:
    cpc = model(bound="js")
    cpc(torch.randn(4, 6, 2, dtype=torch.float64)).loss.backward()
    for name, p in cpc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_errors() -> None:
    cpc = model(horizon=3)
    with pytest.raises(ValueError, match="T > 3"):
        cpc(torch.randn(4, 3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 2 sequences"):
        cpc(torch.randn(1, 6, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="horizon"):
        CPC(nn.Linear(2, 4), 4, horizon=0)


@pytest.mark.slow
def test_cpc_learns_predictable_sequences(single_thread, load_example) -> None:
    # The data of examples/representation_cpc.py: points rotating on a circle with a random phase
    # and speed per sequence, plus noise.
    rotating_sequences = load_example("representation_cpc").sequences
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    cpc = CPC(nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 16)), code_dim=16, context_dim=32, horizon=2)
    optimizer = torch.optim.Adam(cpc.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        result = cpc(rotating_sequences(64, 12, g))
        first = result.mi_per_step if first is None else first
        optimizer.zero_grad()
        result.loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = cpc(rotating_sequences(64, 12, g)).mi_per_step
    # The future is largely determined by the past: about half of log 64 = 4.16 nats is certified
    # after 300 steps (2.6 and 2.4 nats measured for k = 1, 2), from about 0 at initialization.
    assert bool((final > 2.0).all()) and bool((final > first + 1.5).all()), (first, final)
