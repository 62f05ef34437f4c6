"""A class label and a continuous variable with known I(X; Y): class-conditional Gaussians.

Two faces: :class:`ClassConditionalGaussian` (x continuous, y an integer label, MI by quadrature
for categorical estimates) and :class:`FloatLabels`, a :class:`~mibounds.tasks.Task` whose x is
the label stored as a float column (MI by Monte Carlo, any dimension).

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

import functools
import itertools
import math

import numpy as np
import torch
from torch import Tensor

from mibounds.tasks import _random
from mibounds.tasks._monte_carlo import MonteCarloMean, entropy_of_log_probabilities, monte_carlo_mean
from mibounds.tasks.base import Task, check_int, fmt
from mibounds.validation import check_positive

__all__ = ["ClassConditionalGaussian", "FloatLabels"]

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


#: Seed of the class means of :class:`FloatLabels` (fixed: an id names one set of means).
LABEL_MEANS_SEED = 0
_LOG_2PI = math.log(2 * math.pi)


def label_means(num_classes: int, dim: int) -> Tensor:
    """The ``[C, d]`` float64 class means of :class:`FloatLabels`: N(0, I) draws, seed 0."""
    return torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(LABEL_MEANS_SEED), dtype=torch.float64)


@functools.cache
def _label_posterior_entropy(num_classes: int, dim: int, sigma: float) -> MonteCarloMean:
    """``H(C | Y)`` by Monte Carlo: the exact posterior entropy averaged over draws of y."""
    means = label_means(num_classes, dim)

    def values(m: int, generator: torch.Generator) -> Tensor:
        labels = _random.randint(num_classes, m, generator)
        y = means[labels] + sigma * _random.standard_normal((m, dim), generator)
        logits = -0.5 * (y[:, None, :] - means[None]).square().sum(-1) / sigma**2
        return entropy_of_log_probabilities(torch.log_softmax(logits, dim=1))

    return monte_carlo_mean(values)


class FloatLabels(Task):
    r"""A class label coded as a number: ``x = c`` as a float column, ``y | c ~ N(mu_c, sigma^2 I)``.

    :math:`c \sim \mathrm{Uniform}\{0, \dots, C - 1\}` is stored as one float column
    ``x in {0.0, 1.0, ..., C - 1}`` (how labels reach an estimator inside a numeric table), and
    :math:`y \mid c \sim N(\mu_c, \sigma^2 I_d)` with class means :math:`\mu_c \sim N(0, I_d)`
    drawn once from a fixed seed (:func:`label_means`), so the numeric order of the labels says
    nothing about where their classes lie.

    Densities are with respect to counting measure on x (a label has no density in x):
    :math:`p(y \mid c) = N(y; \mu_c, \sigma^2 I)`, :math:`p(y) = \frac1C \sum_c p(y \mid c)`,
    :math:`\log r(c, y) = \log p(y \mid c) - \log p(y)`. The MI

    .. math::
        I(X; Y) = H(C) - H(C \mid Y) = \log C - E_y\Big[-\sum_c p(c \mid y) \log p(c \mid y)\Big]

    is at most :math:`\log C`; the expectation is a Monte-Carlo mean of the exact posterior
    entropy over a million seeded float64 draws of y, cached per parameter set, with its standard
    error in :attr:`mutual_information_stderr`. ``float-labels-c10-d2-s0.3`` has 1.654 nats
    (s.e. 3.5e-4) of the 2.303 of H(C).

    ``entropy_x`` is left unknown: a discrete X has no differential entropy (its Shannon entropy
    is :attr:`label_entropy`).

    Args:
        num_classes: C >= 2.
        dim: d, the dimension of y.
        sigma: Within-class standard deviation of every coordinate of y, > 0.

    Raises:
        ValueError: For C < 2, d < 1 or sigma <= 0; from the densities, for an x that is not a
            label in ``0, 1, ..., C - 1``.

    Example:
        >>> task = FloatLabels(num_classes=10, dim=2, sigma=0.3)
        >>> x, y = task.sample(5, seed=0)
        >>> task.name, x[:, 0].tolist(), y.shape
        ('float-labels-c10-d2-s0.3', [4.0, 9.0, 3.0, 0.0, 3.0], torch.Size([5, 2]))
        >>> 0 < task.mutual_information < task.label_entropy
        True
    """

    def __init__(self, num_classes: int = 10, dim: int = 2, sigma: float = 0.3) -> None:
        self.num_classes = check_int(num_classes, "num_classes", minimum=2)
        self.dim = check_int(dim, "dim", minimum=1)
        self.sigma = check_positive(sigma, "sigma")
        self.means = label_means(self.num_classes, self.dim)
        self.dim_x, self.dim_y = 1, self.dim
        self.name = f"float-labels-c{self.num_classes}-d{self.dim}-s{fmt(self.sigma)}"

    @property
    def label_entropy(self) -> float:
        """H(C) = log C nats, the most the MI can be."""
        return math.log(self.num_classes)

    @property
    def mutual_information(self) -> float:
        """``log C - H(C | Y)`` nats (Monte Carlo, cached per parameter set)."""
        return self.label_entropy - _label_posterior_entropy(self.num_classes, self.dim, self.sigma).mean

    @property
    def mutual_information_stderr(self) -> float:
        """Monte-Carlo standard error of :attr:`mutual_information` (nats)."""
        return _label_posterior_entropy(self.num_classes, self.dim, self.sigma).stderr

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        labels = _random.randint(self.num_classes, n, generator)
        noise = _random.standard_normal((n, self.dim), generator)
        y = self.means.to(noise.device)[labels] + self.sigma * noise
        return labels.to(torch.float64)[:, None], y

    def _labels(self, x: Tensor) -> Tensor:
        labels = x[:, 0]
        if not (torch.equal(labels, labels.round()) and labels.min() >= 0 and labels.max() <= self.num_classes - 1):
            raise ValueError(
                f"x must hold class labels 0.0, 1.0, ..., {self.num_classes - 1}.0 (one per row), got values "
                f"from {float(labels.min())} to {float(labels.max())}; pass the labels this task samples"
            )
        return labels.long()

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        means = self.means.to(dtype=y.dtype, device=y.device)[self._labels(x)]  # [Kx, d]
        dist = torch.cdist(means, y, compute_mode="donot_use_mm_for_euclid_dist")
        return -0.5 * dist.square() / self.sigma**2 - 0.5 * self.dim * (_LOG_2PI + 2 * math.log(self.sigma))

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        means = self.means.to(dtype=y.dtype, device=y.device)
        per_class = -0.5 * torch.cdist(y, means, compute_mode="donot_use_mm_for_euclid_dist").square() / self.sigma**2
        const = 0.5 * self.dim * (_LOG_2PI + 2 * math.log(self.sigma)) + math.log(self.num_classes)
        return torch.logsumexp(per_class, dim=1) - const

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        return self._log_conditional(x, y) - self._log_marginal_y(y)[None, :]
