"""Baselines ``log a(y)`` for the TUBA family of bounds.

TUBA (Poole et al. 2019, eq. 7) replaces the intractable partition function
``Z(y) = E_{p(x)} exp f(x, y)`` by a baseline ``a(y) > 0``; the bound is tight when
``a(y) = Z(y)``. These modules return ``log a(y_j)`` as a vector ``[K]`` indexed by the column j
of the score matrix, in nats.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_size, check_y
from mibounds.critics.mlp import mlp

__all__ = ["ConstantBaseline", "GaussianBaseline", "MLPBaseline"]


class ConstantBaseline(nn.Module):
    """A learnable constant baseline: ``log a(y_j) = c`` for every j.

    Args:
        init: Initial value of ``c`` (nats).

    Example:
        >>> import torch
        >>> ConstantBaseline(init=1.0)(torch.randn(4, 20))
        tensor([1., 1., 1., 1.], grad_fn=<ExpandBackward0>)
    """

    def __init__(self, init: float = 0.0) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(init)))

    def forward(self, y: Tensor) -> Tensor:
        """``y [K, dim_y]`` -> ``log a(y) [K]``, every entry ``c``."""
        k = check_y(y, None)
        check_dtype(self, ("y", y))
        return self.value.expand(k)

    def extra_repr(self) -> str:
        return f"value={self.value.item():.4g}"


class MLPBaseline(nn.Module):
    """A learned baseline ``log a(y) = MLP(y)``.

    Defaults follow Poole et al. (2019): 2 hidden layers of 512 ReLU units.

    Args:
        dim_y: Features of y.
        hidden_dim: Units per hidden layer.
        num_layers: Hidden layers.
        activation: Hidden activation name (see :func:`mibounds.critics.mlp`).

    Example:
        >>> import torch
        >>> MLPBaseline(dim_y=20)(torch.randn(64, 20)).shape
        torch.Size([64])
    """

    def __init__(self, dim_y: int, hidden_dim: int = 512, num_layers: int = 2, activation: str = "relu") -> None:
        super().__init__()
        self.dim_y = dim_y
        self.net = mlp(dim_y, hidden_dim, 1, num_layers, activation)

    def forward(self, y: Tensor) -> Tensor:
        """``y [K, dim_y]`` -> ``log a(y) [K]``."""
        check_y(y, self.dim_y)
        check_dtype(self, ("y", y))
        return self.net(y).squeeze(-1)

    def extra_repr(self) -> str:
        return f"dim_y={self.dim_y}"


class GaussianBaseline(nn.Module):
    """A diagonal-Gaussian log-density baseline: ``log a(y) = log N(y; mu, diag(sigma^2))``.

    ``log a(y) = -sum_d [ (y_d - mu_d)^2 / (2 sigma_d^2) + log sigma_d + log(2 pi) / 2 ]`` (nats).
    With the conditional critic ``f(x, y) = log p(y | x)`` the partition function is
    ``Z(y) = p(y)``, so a density model of y is the natural baseline. ``mu`` starts at 0 and
    ``log_sigma`` at 0 (a standard normal).

    Args:
        dim_y: Features of y.
        learnable: If False, ``mu`` and ``log_sigma`` are fixed buffers.

    Example:
        >>> import torch
        >>> GaussianBaseline(dim_y=1, learnable=False)(torch.zeros(2, 1))
        tensor([-0.9189, -0.9189])
    """

    def __init__(self, dim_y: int, learnable: bool = True) -> None:
        super().__init__()
        self.dim_y = check_size(dim_y, "dim_y")
        self.learnable = learnable
        mu, log_sigma = torch.zeros(dim_y), torch.zeros(dim_y)
        if learnable:
            self.mu = nn.Parameter(mu)
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("mu", mu)
            self.register_buffer("log_sigma", log_sigma)

    def forward(self, y: Tensor) -> Tensor:
        """``y [K, dim_y]`` -> ``log a(y) [K]`` (nats)."""
        check_y(y, self.dim_y)
        check_dtype(self, ("y", y))
        z = (y - self.mu) * torch.exp(-self.log_sigma)
        return -(0.5 * z.square() + self.log_sigma).sum(-1) - 0.5 * self.dim_y * math.log(2 * math.pi)

    def extra_repr(self) -> str:
        return f"dim_y={self.dim_y}, learnable={self.learnable}"
