"""Rate (upper) and BA (lower) bounds of a stochastic Gaussian encoder, against closed forms.

Data: x ~ N(0, I_dx); encoder z = A x + sigma * eps, so I(X; Z) = 1/2 logdet(I + A A^T / sigma^2).
Tolerances: 5 Monte-Carlo standard errors, each computed from the per-pair terms of the same batch
(mi_bracket's lower_se / upper_se).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from mibounds.representation import (
    ConditionalGaussian,
    DiagonalGaussian,
    GaussianMarginal,
    ba_lower_bound,
    mi_bracket,
    rate_upper_bound,
)

N = 20_000
SIGMA = 0.5


def linear_gaussian(weight: torch.Tensor, bias: torch.Tensor, log_std: torch.Tensor) -> ConditionalGaussian:
    """A ConditionalGaussian with mean = weight @ c + bias and a constant log_std."""
    dim_out, dim_in = weight.shape
    module = ConditionalGaussian(dim_in, dim_out, num_layers=0).double()
    with torch.no_grad():
        module.net[0].weight.copy_(torch.cat([weight, torch.zeros_like(weight)]))
        module.net[0].bias.copy_(torch.cat([bias, log_std]))
    return module


def marginal_with(variance: torch.Tensor) -> GaussianMarginal:
    marginal = GaussianMarginal(variance.shape[0]).double()
    with torch.no_grad():
        marginal.log_std.copy_(0.5 * variance.log())
    return marginal


def data(dim: int, seed: int) -> tuple[torch.Tensor, torch.Generator, float]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, dim, generator=g, dtype=torch.float64)
    return x, g, 0.5 * dim * math.log(2 * math.pi * math.e)  # h(X) of N(0, I)


def test_diagonal_gaussian_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mean, log_std = torch.randn(4, 3, generator=g), 0.3 * torch.randn(4, 3, generator=g)
    value = torch.randn(4, 3, generator=g)
    dist = DiagonalGaussian(mean, log_std)
    ref = Normal(mean, log_std.exp())
    torch.testing.assert_close(dist.log_prob(value), ref.log_prob(value).sum(-1))
    matrix = dist.log_prob_matrix(value)
    torch.testing.assert_close(matrix[1, 2], ref.log_prob(value[2])[1].sum())
    torch.testing.assert_close(matrix.diagonal(), dist.log_prob(value))
    other = DiagonalGaussian(mean.flip(0), log_std.flip(0))
    torch.testing.assert_close(
        dist.kl_to(other), kl_divergence(ref, Normal(mean.flip(0), log_std.flip(0).exp())).sum(-1)
    )


def test_tight_bracket_equals_the_true_mi() -> None:
    """Diagonal A: the true marginal and the exact posterior decoder make both bounds tight."""
    a = torch.tensor([2.0, 1.0, 0.3], dtype=torch.float64)
    true_mi = float(0.5 * torch.log1p(a**2 / SIGMA**2).sum())
    x, g, h_x = data(3, seed=1)
    encoder = linear_gaussian(
        torch.diag(a), torch.zeros(3, dtype=torch.float64), torch.full((3,), math.log(SIGMA), dtype=torch.float64)
    )
    variance = a**2 + SIGMA**2
    # Posterior of x given z: mean a z / (a^2 + sigma^2), variance sigma^2 / (a^2 + sigma^2).
    decoder = linear_gaussian(
        torch.diag(a / variance), torch.zeros(3, dtype=torch.float64), 0.5 * torch.log(SIGMA**2 / variance)
    )
    bracket = mi_bracket(x, encoder, decoder, marginal_with(variance), h_x, generator=g)
    assert abs(bracket.lower - true_mi) < 5 * bracket.lower_se
    assert abs(bracket.upper - true_mi) < 5 * bracket.upper_se
    # The closed-form rate averages KL(p(z|x) || q) over x: its standard error is that of those terms.
    with torch.no_grad():
        marginal = marginal_with(variance)
        analytic = float(rate_upper_bound(encoder(x), marginal, analytic=True))
        q = marginal()
        per_x = encoder(x).kl_to(DiagonalGaussian(q.mean.expand(N, 3), q.log_std.expand(N, 3)))
    assert analytic == pytest.approx(float(per_x.mean()))
    assert abs(analytic - true_mi) < 5 * float(per_x.std()) / math.sqrt(N)


def test_bracket_with_mismatched_marginal_and_decoder() -> None:
    """Full A: a diagonal marginal and a diagonal decoder leave known gaps on both sides."""
    g0 = torch.Generator().manual_seed(2)
    a = torch.randn(2, 4, generator=g0, dtype=torch.float64)
    cov_z = a @ a.T + SIGMA**2 * torch.eye(2, dtype=torch.float64)
    true_mi = float(0.5 * torch.logdet(torch.eye(2, dtype=torch.float64) + a @ a.T / SIGMA**2))
    x, g, h_x = data(4, seed=3)
    encoder = linear_gaussian(
        a, torch.zeros(2, dtype=torch.float64), torch.full((2,), math.log(SIGMA), dtype=torch.float64)
    )
    marginal = marginal_with(cov_z.diagonal())
    # Exact posterior mean of x given z, but only the diagonal of its covariance.
    post_mean = a.T @ torch.linalg.inv(cov_z)
    post_cov = torch.eye(4, dtype=torch.float64) - post_mean @ a
    decoder = linear_gaussian(post_mean, torch.zeros(4, dtype=torch.float64), 0.5 * post_cov.diagonal().log())
    bracket = mi_bracket(x, encoder, decoder, marginal, h_x, generator=g)
    # Expected values: rate = I + KL(N(0, C) || N(0, diag C)); BA = h(X) - sum_k 1/2 log(2 pi e s_k^2).
    want_upper = true_mi + 0.5 * float(cov_z.diagonal().log().sum() - torch.logdet(cov_z))
    want_lower = h_x - 0.5 * float((2 * math.pi * math.e * post_cov.diagonal()).log().sum())
    assert abs(bracket.upper - want_upper) < 5 * bracket.upper_se
    assert abs(bracket.lower - want_lower) < 5 * bracket.lower_se
    assert want_lower < true_mi < want_upper
    assert bracket.lower - 5 * bracket.lower_se <= true_mi <= bracket.upper + 5 * bracket.upper_se
    # Looser still with VIB's fixed N(0, I) marginal.
    fixed = GaussianMarginal(2, learnable=False).double()
    assert list(fixed.parameters()) == []
    with torch.no_grad():
        assert float(rate_upper_bound(encoder(x), fixed, analytic=True)) > want_upper


def test_bounds_are_differentiable_for_training() -> None:
    torch.manual_seed(0)
    encoder, decoder, marginal = ConditionalGaussian(5, 2, 16), ConditionalGaussian(2, 5, 16), GaussianMarginal(2)
    x = torch.randn(32, 5)
    posterior = encoder(x)
    z = posterior.rsample()
    loss = rate_upper_bound(posterior, marginal, z) - ba_lower_bound(decoder, x, z, entropy_x=0.0)
    loss.backward()
    for module in (encoder, decoder, marginal):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())
