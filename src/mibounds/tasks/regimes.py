r"""Mixtures of regimes: correlated Gaussians whose x-y correlations flip sign between components.

Data often mixes regimes in which the same features relate with opposite signs. Here an equally
weighted mixture of :math:`K` correlated Gaussians does that while every marginal stays exactly
:math:`N(0, I)` and the joint covariance is the identity, so a Gaussian (copula) model of the
data sees no dependence at all:

.. math::
    x \sim N(0, I_d), \quad k \sim \mathrm{Uniform}\{0, \dots, K - 1\}, \quad
    y = \rho\, s_k \odot x + \sqrt{1 - \rho^2}\, \varepsilon, \quad \varepsilon \sim N(0, I_d),

with sign patterns :math:`s_{kj} = (-1)^{b_{j \bmod m}(k)}`, :math:`m = \log_2 K` and
:math:`b_i(k)` the i-th bit of k: with two components :math:`\pm \rho I`, with four the patterns
``+ + + +``, ``- + - +``, ``+ - + -``, ``- - - -`` (repeated along the d coordinates). Every
coordinate pair is correlated with :math:`+\rho` in half the components and :math:`-\rho` in the
other half.

Densities (exact): :math:`p(x) = N(x; 0, I)`, :math:`p(y) = N(y; 0, I)`, and
:math:`p(y \mid x) = \frac1K \sum_k N(y; \rho s_k \odot x, (1 - \rho^2) I)`, so
:math:`\log r(x, y) = \operatorname{logsumexp}_k \log N(y; \rho s_k \odot x, (1 - \rho^2) I)
- \log K - \log N(y; 0, I)`.

Mutual information: with :math:`I_G = -\frac d2 \log(1 - \rho^2)` (the MI of each component),
:math:`\log r(x, y) = \log r_k(x, y) - \log K - \log p(k \mid x, y)` for the component k that drew
the pair, and :math:`E \log r_k = I_G`, so

.. math::
    I(X; Y) = I_G - \log K + H(k \mid X, Y), \qquad 0 \le H(k \mid X, Y) \le \log K.

No closed form: :math:`H(k \mid X, Y) = E_{x, y}[-\sum_k p(k \mid x, y) \log p(k \mid x, y)]` is
a Monte-Carlo mean over a million seeded float64 draws of the exact posterior entropy (bounded, so
its standard error is small), computed once per parameter set and cached;
:attr:`SignMixture.mutual_information_stderr` is its standard error. Levels (d = 10, K = 2):
``sign-mixture-d10-k2-c0.64`` has 1.974 nats (s.e. 1.1e-4), ``sign-mixture-d10-k2-c0.78`` 3.998
(s.e. 4e-5); a Gaussian model of either sees 0.

Reference:
    Czyż et al. 2025, On the Properties and Estimation of Pointwise Mutual Information Profiles
    (TMLR; arXiv:2310.10240): mixtures with Monte-Carlo ground truth ("Bend and Mix Models").

Example:
    >>> from mibounds.tasks import SignMixture
    >>> task = SignMixture(dim=2, num_components=2, correlation=0.9)
    >>> task.name, round(task.mutual_information, 2), task.mutual_information_stderr < 1e-3
    ('sign-mixture-d2-k2-c0.9', 1.08, True)
    >>> x, y = task.sample(10_000, seed=0)
    >>> abs(float((x * y).mean())) < 0.05  # no correlation left: the signs cancel
    True
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from mibounds.tasks import _random
from mibounds.tasks._monte_carlo import MonteCarloMean, entropy_of_log_probabilities, monte_carlo_mean
from mibounds.tasks.base import Task, check_correlation, check_int, fmt

__all__ = ["SignMixture"]

_LOG_2PI = math.log(2 * math.pi)


def sign_patterns(num_components: int, dim: int) -> Tensor:
    """The ``[K, d]`` float64 sign patterns ``s_kj = (-1)^(bit (j mod log2 K) of k)``."""
    bits = int(math.log2(num_components))
    k = torch.arange(num_components)[:, None]
    j = torch.arange(dim)[None, :] % bits
    return 1.0 - 2.0 * ((k >> j) & 1).to(torch.float64)


def _component_log_conditional(x: Tensor, y: Tensor, signs: Tensor, rho: float) -> Tensor:
    """``log N(y_j; rho s_k x_i, (1 - rho^2) I)`` for every component and pair: ``[K, Kx, Ky]``.

    Differences, not an expanded square, so float32 stays accurate when 1 - rho^2 is small.
    """
    cond_var = 1.0 - rho * rho
    means = rho * signs.to(x)[:, None, :] * x[None]  # [K, Kx, d]
    dist = torch.cdist(means, y[None].expand(len(signs), -1, -1), compute_mode="donot_use_mm_for_euclid_dist")
    return -0.5 * dist.square() / cond_var - 0.5 * x.shape[1] * (_LOG_2PI + math.log(cond_var))


@functools.cache
def _posterior_entropy(dim: int, num_components: int, rho: float) -> MonteCarloMean:
    """``H(k | X, Y)`` by Monte Carlo (the pairs' own components drawn, then integrated out)."""
    signs = sign_patterns(num_components, dim)
    cond_std = math.sqrt(1.0 - rho * rho)

    def values(m: int, generator: torch.Generator) -> Tensor:
        x = _random.standard_normal((m, dim), generator)
        k = _random.randint(num_components, m, generator)
        y = rho * signs[k] * x + cond_std * _random.standard_normal((m, dim), generator)
        # p(k | x, y) ∝ N(y; rho s_k x, (1 - rho^2) I) (x is independent of k, the prior uniform).
        logits = -0.5 * (y[:, None, :] - rho * signs[None] * x[:, None, :]).square().sum(-1) / cond_std**2
        return entropy_of_log_probabilities(torch.log_softmax(logits, dim=1))

    return monte_carlo_mean(values)


class SignMixture(Task):
    """An equal mixture of ``K`` correlated Gaussians with sign-flipping x-y correlations.

    See the module docstring for the model, its densities and its MI,
    ``I = -(d/2) log(1 - rho^2) - log K + H(k | X, Y)`` with the last term by Monte Carlo.

    Args:
        dim: d, the dimension of x and of y.
        num_components: K, a power of two with ``log2 K <= d`` (the patterns then differ).
        correlation: rho, the x-y correlation of every coordinate pair within a component, in
            (-1, 1).

    Raises:
        ValueError: For K not a power of two of at least 2, ``log2 K > d``, or ``|rho| >= 1``.

    Example:
        >>> task = SignMixture(dim=10, num_components=2, correlation=0.78)
        >>> task.name, round(task.mutual_information, 3), round(task.component_mi, 3)
        ('sign-mixture-d10-k2-c0.78', 3.998, 4.688)
    """

    def __init__(self, dim: int = 10, num_components: int = 2, correlation: float = 0.78) -> None:
        self.dim = check_int(dim, "dim", minimum=1)
        k = check_int(num_components, "num_components", minimum=2, hint="pass a power of two such as 2 or 4")
        if k & (k - 1) or math.log2(k) > self.dim:
            raise ValueError(
                f"num_components must be a power of two with log2(num_components) <= dim = {self.dim} "
                f"(so that the sign patterns differ), got {k}"
            )
        self.num_components = k
        self.correlation = check_correlation(correlation)
        self.signs = sign_patterns(k, self.dim)
        self.dim_x = self.dim_y = self.dim
        self.name = f"sign-mixture-d{self.dim}-k{k}-c{fmt(self.correlation)}"

    @property
    def component_mi(self) -> float:
        """``I_G = -(d/2) log(1 - rho^2)``: the MI of each component, in nats."""
        return -0.5 * self.dim * math.log1p(-(self.correlation**2))

    def _posterior_entropy(self) -> MonteCarloMean:
        return _posterior_entropy(self.dim, self.num_components, self.correlation)

    @property
    def mutual_information(self) -> float:
        """``I_G - log K + H(k | X, Y)`` nats (Monte Carlo, cached per parameter set)."""
        return self.component_mi - math.log(self.num_components) + self._posterior_entropy().mean

    @property
    def mutual_information_stderr(self) -> float:
        """Monte-Carlo standard error of :attr:`mutual_information` (nats)."""
        return self._posterior_entropy().stderr

    @property
    def entropy_x(self) -> float:
        """``h(X) = (d/2) log(2 pi e)`` nats (X is standard normal)."""
        return 0.5 * self.dim * (_LOG_2PI + 1.0)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = _random.standard_normal((n, self.dim), generator)
        k = _random.randint(self.num_components, n, generator)
        noise = _random.standard_normal((n, self.dim), generator)
        cond_std = math.sqrt(1.0 - self.correlation**2)
        return x, self.correlation * self.signs.to(x.device)[k] * x + cond_std * noise

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        per_component = _component_log_conditional(x, y, self.signs, self.correlation)
        return torch.logsumexp(per_component, dim=0) - math.log(self.num_components)

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        return -0.5 * y.square().sum(-1) - 0.5 * self.dim * _LOG_2PI

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        return self._log_conditional(x, y) - self._log_marginal_y(y)[None, :]
