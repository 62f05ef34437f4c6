"""Exact algebra of the learned critics and the invariants every critic shares.

That gradients reach every parameter of every critic is tested, for every score-based bound, in
tests/bounds/test_gradients.py.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mibounds.critics import (
    BilinearCritic,
    ConcatCritic,
    MixtureCritic,
    SeparableCritic,
    make,
    names,
    pairwise_first_layer,
)

SMALL = {
    "separable": {"hidden_dim": 16, "embed_dim": 8},
    "mixture": {"hidden_dim": 16, "embed_dim": 4, "num_components": 3},
    "concat": {"hidden_dim": 16},
    "bilinear": {},
}


def _batch(k: int, dim_x: int, dim_y: int, dtype: torch.dtype = torch.float32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(k, dim_x, generator=gen, dtype=dtype), torch.randn(k, dim_y, generator=gen, dtype=dtype)


def _critic(name: str, dim_x: int = 3, dim_y: int = 5, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return make(name, dim_x, dim_y, **SMALL[name])


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("k", [1, 2, 7])
def test_scores_are_k_by_k(name: str, k: int) -> None:
    x, y = _batch(k, 3, 5)
    assert _critic(name)(x, y).shape == (k, k)


@pytest.mark.parametrize("name", names())
def test_follows_float64_input(name: str) -> None:
    critic = _critic(name).double()
    x, y = _batch(4, 3, 5, dtype=torch.float64)
    assert critic(x, y).dtype == torch.float64


@pytest.mark.parametrize("name", names())
def test_dtype_mismatch_says_how_to_fix(name: str) -> None:
    x, y = _batch(4, 3, 5, dtype=torch.float64)
    with pytest.raises(
        TypeError, match=r"x is torch.float64 but .* parameters are torch.float32; call critic.double\(\)"
    ):
        _critic(name)(x, y)


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(names()), k=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_permuting_the_batch_permutes_the_scores(name: str, k: int, seed: int) -> None:
    # f acts pairwise, so reordering x reorders rows and reordering y reorders columns.
    critic = _critic(name, seed=seed % 7)
    x, y = _batch(k, 3, 5, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    p, q = torch.randperm(k, generator=gen), torch.randperm(k, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(critic(x[p], y[q]), critic(x, y)[p][:, q])


def test_separable_is_inner_product_of_embeddings() -> None:
    critic = SeparableCritic(3, 5, embed_dim=4, hidden_dim=8).double()
    x, y = _batch(6, 3, 5, dtype=torch.float64)
    scores = critic(x, y)
    gx, hy = critic.g(x), critic.h(y)
    assert gx.shape == (6, 4) and hy.shape == (6, 4)
    torch.testing.assert_close(scores, gx @ hy.T, rtol=0, atol=1e-12)
    assert scores[2, 4].item() == pytest.approx(torch.dot(gx[2], hy[4]).item(), abs=1e-12)


def test_mixture_is_log_mean_exp_of_component_inner_products() -> None:
    critic = MixtureCritic(3, 5, num_components=3, embed_dim=2, hidden_dim=8).double()
    x, y = _batch(6, 3, 5, dtype=torch.float64)
    gx, hy = critic.g(x), critic.h(y)
    assert gx.shape == (6, 6) and hy.shape == (6, 6)
    by_hand = torch.stack([gx[:, 2 * c : 2 * c + 2] @ hy[:, 2 * c : 2 * c + 2].T for c in range(3)])
    expected = torch.log(by_hand.exp().mean(0))
    torch.testing.assert_close(critic(x, y), expected, rtol=0, atol=1e-12)


def test_mixture_of_one_component_is_the_separable_critic() -> None:
    torch.manual_seed(0)
    separable = SeparableCritic(3, 5, embed_dim=4, hidden_dim=8).double()
    mixture = MixtureCritic(3, 5, num_components=1, embed_dim=4, hidden_dim=8).double()
    mixture.load_state_dict(separable.state_dict())
    x, y = _batch(6, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(mixture(x, y), separable(x, y), rtol=0, atol=1e-12)


def test_mixture_of_equal_components_is_that_component() -> None:
    # log mean_c exp(s) = s: the mixture contains the separable family at any C.
    torch.manual_seed(0)
    separable = SeparableCritic(3, 5, embed_dim=2, hidden_dim=8).double()
    mixture = MixtureCritic(3, 5, num_components=4, embed_dim=2, hidden_dim=8).double()
    with torch.no_grad():
        for net in ("g", "h"):
            for mine, theirs in zip(getattr(mixture, net), getattr(separable, net), strict=True):
                if isinstance(mine, nn.Linear):
                    last = mine.out_features != theirs.out_features
                    mine.weight.copy_(theirs.weight.repeat(4, 1) if last else theirs.weight)
                    mine.bias.copy_(theirs.bias.repeat(4) if last else theirs.bias)
    x, y = _batch(6, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(mixture(x, y), separable(x, y), rtol=0, atol=1e-12)


def test_separable_defaults_follow_poole() -> None:
    critic = SeparableCritic(20, 20)
    sizes = [(m.in_features, m.out_features) for m in critic.g if isinstance(m, nn.Linear)]
    assert sizes == [(20, 256), (256, 256), (256, 32)]
    assert (critic.embed_dim, critic.hidden_dim, critic.num_layers) == (32, 256, 2)


def test_bilinear_is_x_w_y() -> None:
    critic = BilinearCritic(3, 5).double()
    x, y = _batch(6, 3, 5, dtype=torch.float64)
    expected = torch.stack([torch.stack([x[i] @ critic.weight @ y[j] for j in range(6)]) for i in range(6)])
    torch.testing.assert_close(critic(x, y), expected, rtol=0, atol=1e-12)


def test_bilinear_starts_small() -> None:
    torch.manual_seed(0)
    critic = BilinearCritic(20, 20)
    # 400 draws of N(0, 0.01^2): the largest is below 5 standard deviations with probability > 0.99.
    assert 0 < critic.weight.abs().max() < 0.05


def _naive_concat(critic: ConcatCritic, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    k = x.shape[0]
    pairs = torch.cat([x[:, None, :].expand(k, k, -1), y[None, :, :].expand(k, k, -1)], dim=-1)
    return critic.net(pairs.reshape(k * k, -1)).view(k, k)


@pytest.mark.parametrize("num_layers", [0, 1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_concat_equals_naive_concatenation(num_layers: int, activation: str) -> None:
    torch.manual_seed(num_layers)
    critic = ConcatCritic(3, 5, hidden_dim=16, num_layers=num_layers, activation=activation).double()
    x, y = _batch(7, 3, 5, dtype=torch.float64, seed=num_layers)
    split = critic(x, y)
    naive = _naive_concat(critic, x, y)
    torch.testing.assert_close(split, naive, rtol=0, atol=1e-12)
    # The training signal must agree as well, not only the value.
    weights = torch.randn(7, 7, dtype=torch.float64)
    grads_split = torch.autograd.grad((split * weights).sum(), list(critic.parameters()))
    grads_naive = torch.autograd.grad((naive * weights).sum(), list(critic.parameters()))
    for a, b in zip(grads_split, grads_naive, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_concat_entry_is_net_of_concatenated_pair() -> None:
    critic = ConcatCritic(3, 5, hidden_dim=8).double()
    x, y = _batch(4, 3, 5, dtype=torch.float64)
    assert critic(x, y)[1, 3].item() == pytest.approx(critic.net(torch.cat([x[1], y[3]])).item(), abs=1e-12)


def test_pairwise_first_layer_without_bias() -> None:
    x, y = _batch(3, 2, 4, dtype=torch.float64)
    weight = torch.randn(5, 6, dtype=torch.float64)
    out = pairwise_first_layer(x, y, weight, None)
    torch.testing.assert_close(out[2, 0], weight @ torch.cat([x[2], y[0]]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["separable", "mixture"])
def test_paired_scores_are_the_diagonal(name: str) -> None:
    torch.manual_seed(0)
    critic = make(name, 3, 2, **SMALL[name])
    x, y = torch.randn(9, 3), torch.randn(9, 2)
    torch.testing.assert_close(critic.paired(x, y), critic(x, y).diagonal(), rtol=0, atol=1e-6)
    with pytest.raises(ValueError):
        critic.paired(x, y[:5])
