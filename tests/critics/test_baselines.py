"""Baselines log a(y) -> [K]."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mibounds.critics import ConstantBaseline, GaussianBaseline, MLPBaseline

DY, K = 3, 6


def _baselines() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "constant": ConstantBaseline(init=0.5),
        "mlp": MLPBaseline(DY, hidden_dim=16),
        "gaussian": GaussianBaseline(DY),
    }


def _y(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(K, DY, generator=torch.Generator().manual_seed(0), dtype=dtype)


@pytest.mark.parametrize("name", ["constant", "mlp", "gaussian"])
def test_shape_gradients_and_dtype(name: str) -> None:
    baseline = _baselines()[name]
    out = baseline(_y())
    assert out.shape == (K,)
    (out * torch.randn(K)).sum().backward()
    params = list(baseline.named_parameters())
    assert params
    for pname, p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    assert baseline.double()(_y(torch.float64)).dtype == torch.float64


def test_constant_baseline_repeats_its_value() -> None:
    out = ConstantBaseline(init=1.5)(_y())
    assert torch.equal(out, torch.full((K,), 1.5))


def test_mlp_baseline_defaults_follow_poole() -> None:
    sizes = [(m.in_features, m.out_features) for m in MLPBaseline(20).net if isinstance(m, nn.Linear)]
    assert sizes == [(20, 512), (512, 512), (512, 1)]


def test_gaussian_baseline_is_the_diagonal_normal_log_density() -> None:
    baseline = GaussianBaseline(DY).double()
    with torch.no_grad():
        baseline.mu.copy_(torch.tensor([0.5, -1.0, 2.0]))
        baseline.log_sigma.copy_(torch.tensor([0.0, -0.7, 1.2]))
    y = _y(torch.float64)
    reference = torch.distributions.Normal(baseline.mu, baseline.log_sigma.exp()).log_prob(y).sum(-1)
    torch.testing.assert_close(baseline(y), reference, rtol=0, atol=1e-12)


def test_fixed_gaussian_baseline_has_no_parameters() -> None:
    baseline = GaussianBaseline(DY, learnable=False)
    assert list(baseline.parameters()) == []
    reference = torch.distributions.Normal(0.0, 1.0).log_prob(_y()).sum(-1)
    torch.testing.assert_close(baseline(_y()), reference)


def test_baselines_check_y() -> None:
    with pytest.raises(ValueError, match=r"y has shape \(6, 4\), but the baseline was built for dim_y = 3"):
        MLPBaseline(DY)(torch.randn(K, 4))
    with pytest.raises(ValueError, match=r"y has shape \(6,\); a baseline takes a 2-d batch.*unsqueeze"):
        ConstantBaseline()(torch.randn(K))
