"""Critics: networks that map a batch ``x [K, dim_x], y [K, dim_y]`` to ``scores [K, K]``.

``scores[i, j] = f(x_i, y_j)``; the diagonal holds samples of the joint ``p(x, y)``, the
off-diagonal entries stand for ``p(x) p(y)`` (see :mod:`mibounds.bounds`). Scores are in nats.

- Learned: :class:`SeparableCritic` (``g(x) . h(y)``), :class:`BilinearCritic` (``x^T W y``),
  :class:`ConcatCritic` (a joint MLP on every pair), :class:`MixtureCritic` (a log-mean-exp of
  separable critics, for regimes); by name via :func:`make` / :func:`names`.
- Fitted in closed form: :class:`GaussianCritic` (the log ratio of the Gaussian with the data's
  covariance; exact for Gaussian-copula data at any MI).
- Exact, from a ground-truth task: :class:`ExactCritic` (``log p(x, y) / p(x) p(y) + shift``),
  :class:`ConditionalCritic` (``log p(y | x)``).
- Baselines ``log a(y) [K]`` for TUBA-type bounds: :class:`ConstantBaseline`,
  :class:`MLPBaseline`, :class:`GaussianBaseline`.
- Stacks of M independent critics in one pass (``[M, K, K]``): :class:`StackedSeparableCritic`,
  :class:`StackedMixtureCritic`, :class:`StackedConcatCritic`, built on :class:`StackedLinear`.

The building blocks ``pairwise_first_layer`` and ``stacked_linear`` are importable from their
modules (:mod:`~mibounds.critics.concat`, :mod:`~mibounds.critics.stacked`) but not public API.

Defaults follow Poole et al. (2019), "On Variational Bounds of Mutual Information": MLPs with 2
hidden layers of 256 ReLU units, 32-d embeddings for separable critics, baseline MLP 2 x 512.

Example:
    >>> import torch
    >>> from mibounds import critics
    >>> critic = critics.make("separable", 3, 2, embed_dim=8, hidden_dim=16)
    >>> tuple(critic(torch.randn(5, 3), torch.randn(5, 2)).shape)
    (5, 5)
"""

from __future__ import annotations

from mibounds.critics.baselines import ConstantBaseline, GaussianBaseline, MLPBaseline
from mibounds.critics.bilinear import BilinearCritic
from mibounds.critics.concat import ConcatCritic
from mibounds.critics.concat import pairwise_first_layer as pairwise_first_layer  # importable, not public
from mibounds.critics.exact import ConditionalCritic, ExactCritic
from mibounds.critics.gaussian import GaussianCritic
from mibounds.critics.mixture import MixtureCritic
from mibounds.critics.mlp import ACTIVATIONS, mlp
from mibounds.critics.registry import make, names
from mibounds.critics.separable import SeparableCritic
from mibounds.critics.stacked import (
    StackedConcatCritic,
    StackedLinear,
    StackedMixtureCritic,
    StackedSeparableCritic,
    stacked_mlp,
)
from mibounds.critics.stacked import (
    stacked_linear as stacked_linear,  # importable, not public
)

__all__ = [
    "ACTIVATIONS",
    "BilinearCritic",
    "ConcatCritic",
    "ConditionalCritic",
    "ConstantBaseline",
    "ExactCritic",
    "GaussianBaseline",
    "GaussianCritic",
    "MLPBaseline",
    "MixtureCritic",
    "SeparableCritic",
    "StackedConcatCritic",
    "StackedLinear",
    "StackedMixtureCritic",
    "StackedSeparableCritic",
    "make",
    "mlp",
    "names",
    "stacked_mlp",
]
