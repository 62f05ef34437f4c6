"""The bilinear critic ``f(x, y) = x^T W y``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_pair, check_size

__all__ = ["BilinearCritic"]


class BilinearCritic(nn.Module):
    """Bilinear critic: ``scores[i, j] = x_i^T W y_j``, i.e. ``scores = x @ W @ y.T``.

    The optimal critic of a Gaussian pair is a quadratic form, so this linear family can only
    approximate it; it is the cheapest learned critic and a useful sanity check.
    ``W`` (``[dim_x, dim_y]``) starts small, ``N(0, init_std^2)``, so initial scores are near 0.

    Args:
        dim_x: Features of x.
        dim_y: Features of y.
        init_std: Standard deviation of the initial entries of ``W``.

    Example:
        >>> import torch
        >>> critic = BilinearCritic(dim_x=20, dim_y=10)
        >>> critic(torch.randn(64, 20), torch.randn(64, 10)).shape
        torch.Size([64, 64])
    """

    def __init__(self, dim_x: int, dim_y: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.dim_x, self.dim_y = check_size(dim_x, "dim_x"), check_size(dim_y, "dim_y")
        self.weight = nn.Parameter(torch.randn(dim_x, dim_y) * init_std)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j``.

        Args:
            x: ``[K, dim_x]``.
            y: ``[K, dim_y]``, row i paired with row i of x.

        Returns:
            ``scores`` ``[K, K]``, ``scores[i, j] = x_i^T W y_j``.
        """
        check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return x @ self.weight @ y.T

    def extra_repr(self) -> str:
        return f"dim_x={self.dim_x}, dim_y={self.dim_y}"
