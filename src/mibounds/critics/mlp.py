"""The multilayer perceptron every learned critic and baseline is built from.

Poole et al. (2019), "On Variational Bounds of Mutual Information", use MLPs with 2 hidden layers
of 256 ReLU units for the critics and 2 x 512 for the baseline; those are the defaults here.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mibounds import validation
from mibounds.critics._checks import check_size

__all__ = ["ACTIVATIONS", "activation_layer", "mlp"]

#: Activation names accepted by :func:`mlp` and the stacked critics.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}


def activation_layer(activation: str) -> nn.Module:
    """A fresh activation module from its name (see :data:`ACTIVATIONS`).

    Raises:
        ValueError: For an unknown name, listing the valid ones.
    """
    if activation not in ACTIVATIONS:
        raise validation.unknown_name_error("activation", activation, ACTIVATIONS)
    return ACTIVATIONS[activation]()


def mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, activation: str = "relu") -> nn.Sequential:
    """An MLP with ``num_layers`` hidden layers of ``hidden_dim`` units and a linear output.

    ``Linear(in_dim, hidden_dim), act, [Linear(hidden_dim, hidden_dim), act] * (num_layers - 1),
    Linear(hidden_dim, out_dim)``; ``num_layers = 0`` gives a single ``Linear(in_dim, out_dim)``.
    Layers use PyTorch's default ``nn.Linear`` initialization.

    Args:
        in_dim: Input features.
        hidden_dim: Units per hidden layer.
        out_dim: Output features.
        num_layers: Number of hidden layers (>= 0).
        activation: Name of the hidden activation, one of :data:`ACTIVATIONS`.

    Returns:
        The network, mapping ``[..., in_dim]`` to ``[..., out_dim]``.

    Example:
        >>> import torch
        >>> net = mlp(20, 256, 32, num_layers=2)
        >>> net(torch.zeros(64, 20)).shape
        torch.Size([64, 32])
    """
    check_size(in_dim, "in_dim")
    check_size(hidden_dim, "hidden_dim")
    check_size(out_dim, "out_dim")
    check_size(num_layers, "num_layers", minimum=0)
    activation_layer(activation)  # validate the name even when num_layers == 0
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden_dim), activation_layer(activation)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
