"""Multi-view (CMC) training: pairs, per-pair losses, shared encoders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mibounds.representation import InfoNCELoss, MILoss, MultiViewContrastive


def views(b: int = 6) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, d, generator=g) for d in (3, 4, 5)]


def test_full_and_core_pairs() -> None:
    encoders = [nn.Linear(d, 8) for d in (3, 4, 5)]
    assert MultiViewContrastive(encoders, mode="full").pairs == [(0, 1), (0, 2), (1, 2)]
    assert MultiViewContrastive(encoders, mode="core").pairs == [(0, 1), (0, 2)]
    with pytest.raises(ValueError, match="Valid modes"):
        MultiViewContrastive(encoders, mode="star")


def test_loss_is_the_sum_of_pairwise_losses() -> None:
    torch.manual_seed(0)
    model = MultiViewContrastive([nn.Linear(d, 8) for d in (3, 4, 5)], loss=MILoss("dv", temperature=0.5))
    vs = views()
    result = model(vs)
    z = [enc(v) for enc, v in zip(model.encoders, vs, strict=True)]
    reference = MILoss("dv", temperature=0.5)
    want = sum(reference(z[a], z[b]) for a, b in [(0, 1), (0, 2), (1, 2)])
    torch.testing.assert_close(result.loss, want)
    reference(z[1], z[2])
    torch.testing.assert_close(result.mi[(1, 2)], reference.last_readout.mi)
    # The per-pair modules keep their own readouts; a module returning the result works the same.
    assert model.losses["1_2"].last_readout is not None
    opt_in = MultiViewContrastive(model.encoders, loss=MILoss("dv", temperature=0.5, return_readout=True))
    torch.testing.assert_close(opt_in(vs).loss, result.loss)
    torch.testing.assert_close(opt_in(vs).mi[(0, 2)], result.mi[(0, 2)])
    # Each pair owns its loss module (its own temperature / queue).
    assert model.losses["0_1"] is not model.losses["0_2"]


def test_shared_encoder() -> None:
    torch.manual_seed(0)
    shared = nn.Linear(4, 8)
    model = MultiViewContrastive(shared, num_views=2, loss=InfoNCELoss(learnable_temperature=True))
    x = torch.randn(10, 4)
    result = model([x, x + 0.1])
    result.loss.backward()
    assert shared.weight.grad is not None and model.losses["0_1"].log_temperature.grad is not None
    with pytest.raises(ValueError, match="num_views"):
        MultiViewContrastive(shared)
    with pytest.raises(ValueError, match="expected 2 views"):
        model([x])
