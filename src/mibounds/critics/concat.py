"""The concatenated (joint) critic ``f(x, y) = MLP([x, y])`` on all ``K^2`` pairs."""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_pair
from mibounds.critics.mlp import mlp

__all__ = ["ConcatCritic", "pairwise_first_layer"]


def pairwise_first_layer(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The first linear layer of a joint MLP evaluated on every pair ``[x_i, y_j]``.

    A linear layer on a concatenation splits: ``W [x; y] + b = W_x x + (W_y y + b)``, with
    ``W = [W_x, W_y]``. Each half is computed once per sample (``O(K)`` instead of ``O(K^2)``
    work) and the ``[K, K, H]`` pre-activations are their broadcast sum.

    Args:
        x: ``[..., K, dim_x]``.
        y: ``[..., K, dim_y]``.
        weight: ``[..., H, dim_x + dim_y]`` (``nn.Linear`` layout; leading axes batch members).
        bias: ``[..., H]`` or None.

    Returns:
        ``[..., K, K, H]``, entry ``[i, j]`` the layer's output on ``[x_i, y_j]``.
    """
    dim_x = x.shape[-1]
    wx, wy = weight[..., :dim_x], weight[..., dim_x:]
    hx = x @ wx.transpose(-1, -2)  # [..., K, H], once per x
    hy = y @ wy.transpose(-1, -2)  # [..., K, H], once per y
    if bias is not None:
        hy = hy + bias.unsqueeze(-2)
    return hx.unsqueeze(-2) + hy.unsqueeze(-3)


class ConcatCritic(nn.Module):
    """Concatenated (joint) critic: one MLP on every pair, ``scores[i, j] = f([x_i, y_j])``.

    The most expressive of the learned critics (it can represent the optimal critic
    ``log p(x, y) / (p(x) p(y))`` of any task) and the costliest: ``K^2`` network evaluations.
    Rather than concatenating ``K^2`` inputs, the first layer is split (see
    :func:`pairwise_first_layer`) and only the remaining layers run on the ``[K^2, H]`` tensor; the
    result equals the naive ``net(torch.cat([x_i, y_j]))`` exactly (up to rounding).
    Defaults follow Poole et al. (2019): 2 hidden layers of 256 ReLU units.

    Args:
        dim_x: Features of x.
        dim_y: Features of y.
        hidden_dim: Units per hidden layer.
        num_layers: Hidden layers.
        activation: Hidden activation name (see :func:`mibounds.critics.mlp`).

    Attributes:
        net: The joint MLP, ``[N, dim_x + dim_y] -> [N, 1]``; ``net(torch.cat([x, y], -1))`` scores
            aligned pairs.

    Example:
        >>> import torch
        >>> critic = ConcatCritic(dim_x=20, dim_y=20)
        >>> critic(torch.randn(64, 20), torch.randn(64, 20)).shape
        torch.Size([64, 64])
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.dim_x, self.dim_y = dim_x, dim_y
        self.hidden_dim, self.num_layers, self.activation = hidden_dim, num_layers, activation
        self.net = mlp(dim_x + dim_y, hidden_dim, 1, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j``.

        Args:
            x: ``[K, dim_x]``.
            y: ``[K, dim_y]``, row i paired with row i of x.

        Returns:
            ``scores`` ``[K, K]``, ``scores[i, j] = f([x_i, y_j])``.
        """
        k = check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        first = cast(nn.Linear, self.net[0])
        hidden = pairwise_first_layer(x, y, first.weight, first.bias)
        # The remaining layers see K^2 rows at once: one large matmul per layer.
        return self.net[1:](hidden.reshape(k * k, -1)).view(k, k)

    def extra_repr(self) -> str:
        return f"dim_x={self.dim_x}, dim_y={self.dim_y}"
