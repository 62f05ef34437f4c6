"""The separable critic ``f(x, y) = g(x) . h(y)`` (van den Oord et al. 2018, CPC)."""

from __future__ import annotations

from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_pair
from mibounds.critics.mlp import mlp

__all__ = ["SeparableCritic"]


class SeparableCritic(nn.Module):
    """Separable critic: two MLP embeddings and their inner product.

    ``scores[i, j] = g(x_i) . h(y_j)``, i.e. ``scores = g(x) @ h(y).T``, with ``g: R^dim_x -> R^e``
    and ``h: R^dim_y -> R^e`` MLPs. Costs ``O(K)`` network evaluations for the ``K^2`` scores.
    Defaults follow Poole et al. (2019): 2 hidden layers of 256 ReLU units, ``e = 32``.

    Args:
        dim_x: Features of x.
        dim_y: Features of y.
        embed_dim: Embedding size ``e``.
        hidden_dim: Units per hidden layer of ``g`` and ``h``.
        num_layers: Hidden layers of ``g`` and ``h``.
        activation: Hidden activation name (see :func:`mibounds.critics.mlp`).

    Attributes:
        g: The x embedding, ``[K, dim_x] -> [K, e]``.
        h: The y embedding, ``[K, dim_y] -> [K, e]``.

    Example:
        >>> import torch
        >>> critic = SeparableCritic(dim_x=20, dim_y=20)
        >>> critic(torch.randn(64, 20), torch.randn(64, 20)).shape
        torch.Size([64, 64])
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        embed_dim: int = 32,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.dim_x, self.dim_y = dim_x, dim_y
        self.embed_dim, self.hidden_dim, self.num_layers = embed_dim, hidden_dim, num_layers
        self.activation = activation
        self.g = mlp(dim_x, hidden_dim, embed_dim, num_layers, activation)
        self.h = mlp(dim_y, hidden_dim, embed_dim, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j``.

        Args:
            x: ``[K, dim_x]``.
            y: ``[K, dim_y]``, row i paired with row i of x.

        Returns:
            ``scores`` ``[K, K]``, ``scores[i, j] = g(x_i) . h(y_j)``; positives on the diagonal.
        """
        check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return self.g(x) @ self.h(y).T

    def paired(self, x: Tensor, y: Tensor) -> Tensor:
        """The positive pairs' scores alone, ``[K]``: ``g(x_i) . h(y_i)``, the diagonal of
        :meth:`forward` at O(K) instead of O(K^2).

        Example:
            >>> import torch
            >>> critic, x, y = SeparableCritic(2, 3), torch.randn(5, 2), torch.randn(5, 3)
            >>> bool(torch.allclose(critic.paired(x, y), critic(x, y).diagonal(), atol=1e-6))
            True
        """
        check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return (self.g(x) * self.h(y)).sum(-1)

    def extra_repr(self) -> str:
        return f"dim_x={self.dim_x}, dim_y={self.dim_y}, embed_dim={self.embed_dim}"
