"""Critics by name, and the messages for bad input."""

from __future__ import annotations

import pytest
import torch

from mibounds.critics import BilinearCritic, ConcatCritic, MixtureCritic, SeparableCritic, make, names


def test_names() -> None:
    assert names() == ["bilinear", "concat", "mixture", "separable"]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("bilinear", BilinearCritic),
        ("concat", ConcatCritic),
        ("mixture", MixtureCritic),
        ("separable", SeparableCritic),
    ],
)
def test_make_builds_the_named_critic(name: str, cls: type) -> None:
    critic = make(name, 4, 3)
    assert type(critic) is cls and (critic.dim_x, critic.dim_y) == (4, 3)


def test_make_passes_keyword_arguments() -> None:
    critic = make("concat", 4, 3, hidden_dim=7, num_layers=1)
    assert critic.net[0].out_features == 7 and critic.num_layers == 1


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown critic 'seperable'\. Did you mean 'separable'\? Valid critics: bilinear, concat, mixture, separable",
    ):
        make("seperable", 4, 3)


@pytest.mark.parametrize("name", ["bilinear", "concat", "mixture", "separable"])
def test_bad_shapes_name_both_shapes_and_the_fix(name: str) -> None:
    critic = make(name, 4, 3, **({} if name == "bilinear" else {"hidden_dim": 8}))
    x, y = torch.randn(5, 4), torch.randn(5, 3)
    with pytest.raises(
        ValueError,
        match=r"x has shape \(5, 4\) and y has shape \(4, 3\): they have different batch sizes K; pass paired",
    ):
        critic(x, y[:4])
    with pytest.raises(
        ValueError,
        match=r"x has shape \(5, 2\) and y has shape \(5, 3\), but the critic was built for dim_x = 4; pass x with 4 features .* or build the critic with dim_x=2",
    ):
        critic(x[:, :2], y)
    with pytest.raises(ValueError, match=r"y has shape \(5, 4\), but the critic was built for dim_y = 3"):
        critic(x, torch.randn(5, 4))
    with pytest.raises(
        ValueError,
        match=r"x has shape \(5,\) and y has shape \(5, 3\); a critic takes two 2-d batches \[K, 4\] and \[K, 3\].*unsqueeze",
    ):
        critic(x[:, 0], y)
    with pytest.raises(ValueError, match="the batch is empty"):
        critic(x[:0], y[:0])
    with pytest.raises(TypeError, match=r"x must be floating point, got dtype torch.int64; call x.float\(\)"):
        critic(x.long(), y)
