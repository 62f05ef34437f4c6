r"""The mixture critic: a log-mean-exp of C separable critics, for dependence that changes with the regime.

A separable critic :math:`g(x) \cdot h(y)` is a bilinear form in learned features, so its
density ratio :math:`e^{g(x) \cdot h(y)}` is one exponential family in each variable. Data that
mixes regimes has a ratio that is a *sum* of such terms: an equal mixture of Gaussians whose x-y
correlation flips sign between components has, per coordinate pair,
:math:`r(x, y) \propto \sum_c e^{\rho s_c x y / (1 - \rho^2) + \dots}`, so
:math:`\log r = \log \cosh(\dots) + \dots`, which no inner product of finite features equals.
The mixture critic models the ratio as such a sum,

.. math::
    f(x, y) = \log \frac1C \sum_{c=1}^{C} e^{g_c(x) \cdot h_c(y)},

with :math:`g = (g_1, \dots, g_C)` and :math:`h` two MLPs of ``C * e`` outputs. With equal
components it is the separable critic, so it contains that family; with C components it is exact
for a ratio that is a mixture of C separable regimes. The ``C`` score matrices cost C times the
separable critic's inner products, and no extra network evaluations: ``O(K)`` MLP calls per
``K^2`` scores, like the separable critic.

Example:
    >>> import torch
    >>> from mibounds.critics import MixtureCritic
    >>> critic = MixtureCritic(dim_x=3, dim_y=2, num_components=4, embed_dim=8, hidden_dim=16)
    >>> critic(torch.randn(5, 3), torch.randn(5, 2)).shape
    torch.Size([5, 5])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_pair, check_size
from mibounds.critics.mlp import mlp

__all__ = ["MixtureCritic", "mixture_scores"]


def mixture_scores(features_x: Tensor, features_y: Tensor, num_components: int) -> Tensor:
    r"""Scores :math:`\log \frac1C \sum_c e^{g_c(x_i) \cdot h_c(y_j)}` from the stacked features.

    Args:
        features_x: ``[..., K, C * e]``: the C embeddings of each x side by side.
        features_y: ``[..., K, C * e]``.
        num_components: C.

    Returns:
        ``[..., K, K]``.

    Example:
        >>> import torch
        >>> g, h = torch.randn(4, 6), torch.randn(4, 6)
        >>> bool(torch.allclose(mixture_scores(g, h, 1), g @ h.T))
        True
    """
    *lead, rows_x, width = features_x.shape
    per = width // num_components
    gx = features_x.reshape(*lead, rows_x, num_components, per).transpose(-3, -2)  # [..., C, K, e]
    hy = features_y.reshape(*lead, features_y.shape[-2], num_components, per).transpose(-3, -2)
    return torch.logsumexp(gx @ hy.transpose(-1, -2), dim=-3) - math.log(num_components)


class MixtureCritic(nn.Module):
    """Mixture of C separable critics: ``scores[i, j] = log mean_c exp(g_c(x_i) . h_c(y_j))``.

    See the module docstring for the model and when it is the right one.

    Args:
        dim_x: Features of x.
        dim_y: Features of y.
        num_components: C, the separable critics mixed.
        embed_dim: Embedding size ``e`` of each component.
        hidden_dim: Units per hidden layer of ``g`` and ``h``.
        num_layers: Hidden layers of ``g`` and ``h``.
        activation: Hidden activation name (see :func:`mibounds.critics.mlp`).

    Attributes:
        g: The x embeddings, ``[K, dim_x] -> [K, C * e]``.
        h: The y embeddings, ``[K, dim_y] -> [K, C * e]``.
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        num_components: int = 4,
        embed_dim: int = 32,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.dim_x, self.dim_y = dim_x, dim_y
        self.num_components = check_size(num_components, "num_components")
        self.embed_dim, self.hidden_dim, self.num_layers = embed_dim, hidden_dim, num_layers
        self.activation = activation
        self.g = mlp(dim_x, hidden_dim, num_components * embed_dim, num_layers, activation)
        self.h = mlp(dim_y, hidden_dim, num_components * embed_dim, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j``.

        Args:
            x: ``[K, dim_x]``.
            y: ``[K, dim_y]``, row i paired with row i of x.

        Returns:
            ``scores`` ``[K, K]``; positives on the diagonal.
        """
        check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return mixture_scores(self.g(x), self.h(y), self.num_components)

    def paired(self, x: Tensor, y: Tensor) -> Tensor:
        """The positive pairs' scores alone, ``[K]``: ``log mean_c exp(g_c(x_i) . h_c(y_i))``, the
        diagonal of :meth:`forward` at O(K) instead of O(K^2).

        Example:
            >>> import torch
            >>> critic, x, y = MixtureCritic(2, 3), torch.randn(5, 2), torch.randn(5, 3)
            >>> bool(torch.allclose(critic.paired(x, y), critic(x, y).diagonal(), atol=1e-6))
            True
        """
        check_pair(x, y, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        gx = self.g(x).unflatten(-1, (self.num_components, -1))  # [K, C, e]
        hy = self.h(y).unflatten(-1, (self.num_components, -1))
        return torch.logsumexp((gx * hy).sum(-1), dim=-1) - math.log(self.num_components)

    def extra_repr(self) -> str:
        return (
            f"dim_x={self.dim_x}, dim_y={self.dim_y}, num_components={self.num_components}, embed_dim={self.embed_dim}"
        )
