"""The Gaussian critics' fits: reduced rank in canonical pairs, and the rank chosen on held-out rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mibounds.critics import GaussianCritic
from mibounds.estimation import gaussian_fits
from mibounds.estimation.training import fold_plan


def _pair(n: int, dx: int, dy: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dx + dy, generator=generator, dtype=torch.float64)
    mix = torch.randn(dx + dy, dx + dy, generator=generator, dtype=torch.float64) / (dx + dy) ** 0.5
    z = z @ (torch.eye(dx + dy, dtype=torch.float64) + mix)  # dense correlations within and across
    return z[:, :dx], z[:, dx:]


def test_pooled_fold_moments_fit_the_same_gaussian_as_the_rows(monkeypatch):
    monkeypatch.setattr(gaussian_fits, "_MOMENT_CHUNK", 7)  # several chunks a fold
    torch.manual_seed(0)
    x = torch.randn(103, 3, dtype=torch.float64) * 3 + 5
    y = x[:, :2] + torch.randn(103, 2, dtype=torch.float64)
    plan = fold_plan(103, 5, np.random.default_rng(0))
    moments = gaussian_fits.fold_moments(x, y, plan)
    for m in range(5):
        rows = torch.as_tensor(np.concatenate([plan.training(m), plan.validation(m)]))
        mean, cov = gaussian_fits.pooled_moments([part for f, part in enumerate(moments) if f != m])
        z = torch.cat([x[rows], y[rows]], 1)
        torch.testing.assert_close(mean, z.mean(0), rtol=0, atol=1e-12)
        torch.testing.assert_close(cov, torch.cov(z.T, correction=0), rtol=1e-12, atol=1e-12)
        pooled = GaussianCritic.from_moments(mean, cov, 3)
        direct = GaussianCritic.fit(x[rows], y[rows])
        torch.testing.assert_close(pooled(x[:9], y[:9]), direct(x[:9], y[:9]), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dims", [(3, 3), (4, 2), (2, 5)])
def test_the_first_k_canonical_terms_are_the_rank_k_critic(dims):
    dx, dy = dims
    x, y = _pair(400, dx, dy, seed=dx * 10 + dy)
    z = torch.cat([x, y], 1)
    mean, cov = z.mean(0), torch.cov(z.T, correction=0)
    canonical = gaussian_fits.Canonical.of(mean, cov, dx)
    terms = canonical.log_ratios(x[:50], y[:50])
    whitened = (
        torch.linalg.cholesky(cov[:dx, :dx]).inverse()
        @ cov[:dx, dx:]
        @ torch.linalg.cholesky(cov[dx:, dx:]).inverse().T
    )
    rho = torch.linalg.svdvals(whitened)
    for rank in range(min(dx, dy) + 1):
        # the critic built from the pairs, the critic of the cut covariance, and the sum of the terms
        direct = canonical.critic(rank)
        cut = GaussianCritic.from_moments(mean, canonical.covariance(cov, rank), dx, ridge=0.0)
        torch.testing.assert_close(direct.paired(x[:50], y[:50]), terms[:, :rank].sum(1), rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(cut(x[:50], y[:50]), direct(x[:50], y[:50]), rtol=1e-8, atol=1e-8)
        expected = float(-0.5 * torch.log1p(-(rho[:rank] ** 2)).sum())
        assert float(direct.mutual_information) == pytest.approx(expected, abs=1e-8)
    torch.testing.assert_close(canonical.covariance(cov, min(dx, dy)), cov, rtol=1e-10, atol=1e-10)
    full = GaussianCritic.from_moments(mean, cov, dx, ridge=0.0)
    torch.testing.assert_close(canonical.critic(min(dx, dy))(x[:9], y[:9]), full(x[:9], y[:9]), rtol=1e-8, atol=1e-8)


def test_candidate_ranks_double_up_to_full_rank():
    assert gaussian_fits.candidate_ranks(1000, 1000) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
    assert gaussian_fits.candidate_ranks(3, 5) == [0, 1, 2, 3]
    assert gaussian_fits.candidate_ranks(1, 1) == [0, 1]


def test_the_rank_chosen_on_validation_rows_drops_pairs_that_are_noise():
    # 2 canonical pairs carry 3 nats; 60 columns a side of noise at 400 rows a fold.
    generator = torch.Generator().manual_seed(0)
    n, d = 2000, 60
    x = torch.randn(n, d, generator=generator, dtype=torch.float64)
    y = torch.randn(n, d, generator=generator, dtype=torch.float64)
    y[:, :2] = 0.95 * x[:, :2] + (1 - 0.95**2) ** 0.5 * y[:, :2]
    plan = fold_plan(n, 5, np.random.default_rng(0))
    rank, analyses = gaussian_fits.choose_rank(gaussian_fits.fold_moments(x, y, plan), x, y, plan)
    assert rank in (2, 4)  # the candidates around the 2 real pairs, never the 60 of full rank
    assert len(analyses) == 5 and all(float(a.rho[1]) > 0.9 > float(a.rho[2]) for a in analyses)
