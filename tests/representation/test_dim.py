"""Deep InfoMax: score layout, composition of the objective, prior matching, gradient flow."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mibounds import bounds
from mibounds.representation import ConvEncoder, DeepInfoMax, PriorMatching, mean_bound, reverse_gradient


def setup(bound: str = "js", **kwargs):
    torch.manual_seed(0)
    encoder = ConvEncoder(1, 16, code_dim=6, channels=(4, 8))
    dim = DeepInfoMax(
        encoder.feature_channels, encoder.feature_size, 6, bound=bound, embed_dim=5, hidden_dim=12, **kwargs
    )
    images = torch.rand(5, 1, 16, 16)
    return encoder, dim, images


def test_encoder_shapes_and_errors() -> None:
    encoder = ConvEncoder(3, 32, code_dim=10, channels=(8, 16))
    feature_map, code = encoder(torch.zeros(2, 3, 32, 32))
    assert feature_map.shape == (2, 16, 8, 8) and code.shape == (2, 10)
    assert (encoder.feature_channels, encoder.feature_size) == (16, 8)
    with pytest.raises(ValueError, match="divisible by 2\\^3"):
        ConvEncoder(1, 20, channels=(8, 16))


def test_local_scores_layout() -> None:
    encoder, dim, images = setup()
    feature_map, code = encoder(images)
    scores = dim.local_scores(feature_map, code)
    assert scores.shape == (16, 5, 5)  # 4x4 locations, B x B each
    loc, i, j = 7, 3, 1
    local = dim.local_features(feature_map)[i, :, loc // 4, loc % 4]
    torch.testing.assert_close(scores[loc, i, j], local @ dim.local_code(code)[j])
    g = dim.global_scores(feature_map, code)
    torch.testing.assert_close(g[2, 4], dim.global_features(feature_map[2].flatten()) @ dim.global_code(code[4]))


@pytest.mark.parametrize("bound", ["js", "infonce", "dv"])
def test_objective_is_the_weighted_sum_of_bounds(bound: str) -> None:
    encoder, dim, images = setup(bound, global_weight=0.3, local_weight=2.0)
    feature_map, code = encoder(images)
    result = dim(feature_map, code)
    local = torch.stack([bounds.get(bound).fn(s) for s in dim.local_scores(feature_map, code)]).mean()
    glob = bounds.get(bound).fn(dim.global_scores(feature_map, code))
    torch.testing.assert_close(result.loss, -(0.3 * glob + 2.0 * local))
    torch.testing.assert_close(result.local_mi, local.detach())
    torch.testing.assert_close(result.global_mi, glob.detach())
    assert result.prior_loss is None
    if bound == "infonce":
        assert float(result.local_mi) <= torch.log(torch.tensor(5.0))


def test_gradients_reach_every_parameter() -> None:
    encoder, dim, images = setup(prior_weight=0.5)
    result = dim(*encoder(images))
    assert result.prior_loss is not None
    result.loss.backward()
    for name, p in [*encoder.named_parameters(), *dim.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_reverse_gradient() -> None:
    z = torch.randn(4, requires_grad=True)
    (reverse_gradient(z, 0.25) * torch.arange(4.0)).sum().backward()
    torch.testing.assert_close(z.grad, -0.25 * torch.arange(4.0))
    with pytest.raises(ValueError):
        reverse_gradient(z, -1.0)


def test_prior_matching_is_a_minimax() -> None:
    """The discriminator descends its logistic loss; the code receives the opposite gradient."""
    torch.manual_seed(1)
    prior = PriorMatching(3, "gaussian", hidden_dim=8)
    code = torch.randn(6, 3, requires_grad=True)
    torch.manual_seed(2)
    prior(code).backward()
    got = code.grad.clone()
    code.grad = None
    torch.manual_seed(2)
    fake = prior.discriminator(code).squeeze(-1)
    F.softplus(fake).mean().backward()  # the loss term that depends on the code
    torch.testing.assert_close(got, -code.grad)
    with pytest.raises(ValueError, match="Valid priors"):
        PriorMatching(3, "laplace")


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="both 0"):
        DeepInfoMax(4, 4, 6, global_weight=0, local_weight=0)
    with pytest.raises(ValueError, match="stateless"):
        DeepInfoMax(4, 4, 6, bound="mine")
    _, dim, _ = setup()
    with pytest.raises(ValueError, match="feature_map"):
        dim(torch.zeros(5, 8, 4, 4), torch.zeros(4, 6))


def test_mean_bound_on_a_single_matrix_is_the_bound() -> None:
    scores = torch.randn(6, 6, dtype=torch.float64)
    torch.testing.assert_close(mean_bound(scores, "js"), bounds.js(scores))
