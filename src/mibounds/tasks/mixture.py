"""A class label and a continuous variable with known I(X; Y): class-conditional Gaussians.

``y ~ Categorical(priors)``, ``x | y = c ~ N(mu_c, sigma^2 I)`` in ``d`` dimensions. Then

.. math::
    I(X; Y) = \\sum_c \\pi_c \\, \\mathbb E_{x \\sim N(\\mu_c, \\sigma^2 I)}
        \\left[\\log N(x; \\mu_c, \\sigma^2 I) - \\log \\sum_k \\pi_k N(x; \\mu_k, \\sigma^2 I)\\right],

which has no closed form. It is computed by Gauss–Hermite quadrature: with ``x = mu_c + sigma
sqrt(2) t``, each expectation is a ``d``-fold sum over the tensor product of ``nodes`` Hermite
nodes per axis. The integrand is a difference of log-sum-exps of quadratics (smooth, growing
linearly at most), so the sum converges fast: :attr:`ClassConditionalGaussian.quadrature_error`
is the change from ``nodes`` to ``2 * nodes`` (below 1e-6 nats in the tests). Only ``d <= 3`` is
supported, where the product grid stays small; the MI never exceeds H(Y).

Example:
    >>> from mibounds.tasks import ClassConditionalGaussian
    >>> task = ClassConditionalGaussian.spaced(num_classes=3, separation=2.0, dim=1)
    >>> 0 < task.mutual_information < task.label_entropy
    True
    >>> x, y = task.sample(5, seed=0)
    >>> x.shape, y.dtype
    (torch.Size([5, 1]), torch.int64)
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from mibounds.tasks.base import check_int, fmt

__all__ = ["ClassConditionalGaussian"]

#: Hermite nodes per axis of the quadrature.
QUADRATURE_NODES = 48
#: Largest dimension of x the quadrature supports.
MAX_DIM = 3


class ClassConditionalGaussian:
    """``y ~ Categorical(priors)``, ``x | y = c ~ N(means[c], sigma^2 I)``; I(X; Y) by quadrature.

    Args:
        means: ``[C, d]`` class means (``d <= 3``), C >= 2.
        sigma: Standard deviation of every coordinate within a class, > 0.
        priors: ``[C]`` class probabilities (default: uniform).
        name: Label of the task.
    """

    def __init__(
        self,
        means: Tensor | np.ndarray,
        sigma: float = 1.0,
        priors: Tensor | np.ndarray | None = None,
        name: str | None = None,
    ) -> None:
        self.means = torch.as_tensor(np.asarray(means, dtype=np.float64)).reshape(len(means), -1)
        num_classes, dim = self.means.shape
        if num_classes < 2:
            raise ValueError(f"need at least 2 classes, got {num_classes}")
        if dim > MAX_DIM:
            raise ValueError(
                f"x may have at most {MAX_DIM} dimensions (the quadrature grid grows as nodes^d), got {dim}"
            )
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma}")
        self.sigma = float(sigma)
        priors = np.full(num_classes, 1.0 / num_classes) if priors is None else np.asarray(priors, dtype=np.float64)
        if priors.shape != (num_classes,) or (priors <= 0).any() or not math.isclose(priors.sum(), 1.0, abs_tol=1e-9):
            raise ValueError(f"priors must be {num_classes} positive probabilities summing to 1, got {priors.tolist()}")
        self.priors = torch.as_tensor(priors)
        self.name = name or f"class-gaussian-c{num_classes}-d{dim}-s{fmt(self.sigma)}"

    @classmethod
    def spaced(
        cls,
        num_classes: int = 3,
        separation: float = 2.0,
        dim: int = 1,
        sigma: float = 1.0,
    ) -> ClassConditionalGaussian:
        """Class c centred at ``c * separation`` on the first axis (equal priors)."""
        num_classes = check_int(num_classes, "num_classes", minimum=2)
        dim = check_int(dim, "dim", minimum=1)
        means = np.zeros((num_classes, dim))
        means[:, 0] = separation * np.arange(num_classes)
        return cls(
            means,
            sigma,
            name=f"class-gaussian-c{num_classes}-d{dim}-sep{fmt(separation)}",
        )

    @property
    def num_classes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def label_entropy(self) -> float:
        """H(Y) in nats, the most I(X; Y) can be."""
        return float(-(self.priors * self.priors.log()).sum())

    def _mutual_information(self, nodes: int) -> float:
        points, weights = np.polynomial.hermite.hermgauss(nodes)  # for the weight exp(-t^2)
        grid = torch.as_tensor(np.array(list(itertools.product(points, repeat=self.dim))))
        grid_weights = torch.as_tensor(np.prod(np.array(list(itertools.product(weights, repeat=self.dim))), axis=1))
        grid_weights = grid_weights / math.pi ** (self.dim / 2)  # E over N(0, I/2) -> weights sum to 1
        log_priors = self.priors.log()
        total = 0.0
        for c in range(self.num_classes):
            x = self.means[c] + self.sigma * math.sqrt(2.0) * grid  # [G, d]
            # log N(x; mu_k) up to the shared constant, for every class k: [G, C]
            log_density = -((x[:, None, :] - self.means[None]) ** 2).sum(-1) / (2 * self.sigma**2)
            integrand = log_density[:, c] - torch.logsumexp(log_priors + log_density, dim=1)
            total += float(self.priors[c] * (grid_weights * integrand).sum())
        return max(total, 0.0)  # rounding can leave -1e-18 for identical classes

    @property
    def mutual_information(self) -> float:
        """I(X; Y) in nats, by Gauss–Hermite quadrature with :data:`QUADRATURE_NODES` nodes per axis."""
        return self._mutual_information(QUADRATURE_NODES)

    @property
    def quadrature_error(self) -> float:
        """|MI(nodes) - MI(2 nodes)|: how far the quadrature is from converged."""
        return abs(self._mutual_information(QUADRATURE_NODES) - self._mutual_information(2 * QUADRATURE_NODES))

    def sample(self, n: int, seed: int | None = None, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        """``x [n, d]`` (``dtype``) and class labels ``y [n]`` (int64)."""
        n = check_int(n, "n", minimum=1)
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        labels = torch.multinomial(self.priors, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[labels] + self.sigma * noise).to(dtype), labels

    def __repr__(self) -> str:
        return f"ClassConditionalGaussian({self.name!r}, I(X;Y)={self.mutual_information:.4g}, H(Y)={self.label_entropy:.4g})"
