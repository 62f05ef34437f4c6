from __future__ import annotations

import pytest
import torch
from torch import nn

from mibounds.critics import ACTIVATIONS, mlp


def test_layer_structure_follows_poole_defaults() -> None:
    net = mlp(20, 256, 32, num_layers=2)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(20, 256), (256, 256), (256, 32)]
    assert [type(m) for m in net][1::2] == [nn.ReLU, nn.ReLU]


def test_zero_hidden_layers_is_one_linear() -> None:
    net = mlp(5, 64, 3, num_layers=0)
    assert len(net) == 1 and isinstance(net[0], nn.Linear)
    assert (net[0].in_features, net[0].out_features) == (5, 3)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation: str) -> None:
    net = mlp(3, 8, 2, num_layers=1, activation=activation)
    assert isinstance(net[1], type(ACTIVATIONS[activation]()))
    assert net(torch.randn(4, 3)).shape == (4, 2)


def test_unknown_activation_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'.*Did you mean 'relu'"):
        mlp(3, 8, 2, num_layers=1, activation="rleu")


@pytest.mark.parametrize("kwargs", [{"hidden_dim": 0}, {"num_layers": -1}, {"in_dim": 2.5}])
def test_bad_sizes_are_rejected(kwargs: dict) -> None:
    args = {"in_dim": 3, "hidden_dim": 8, "out_dim": 2, "num_layers": 1} | kwargs
    with pytest.raises(ValueError, match="must be an integer"):
        mlp(**args)
