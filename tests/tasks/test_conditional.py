"""ConditionalGaussian: the log-determinant formulas against Schur complements, the constructions'
closed forms, and samples against the covariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibounds.tasks import ConditionalGaussian


def _schur_cmi(cov: torch.Tensor, dx: int, dy: int) -> float:
    """I(X; Y | Z) = 1/2 log(|S_x| |S_y| / |S_xy|) with S the covariance of (X, Y) given Z."""
    a, b = cov[: dx + dy, : dx + dy], cov[: dx + dy, dx + dy :]
    conditional = a - b @ torch.linalg.solve(cov[dx + dy :, dx + dy :], b.T)
    return 0.5 * float(
        torch.logdet(conditional[:dx, :dx]) + torch.logdet(conditional[dx:, dx:]) - torch.logdet(conditional)
    )


@pytest.mark.parametrize("seed", range(5))
def test_log_determinant_formula_equals_the_conditional_covariance_formula(seed):
    generator = torch.Generator().manual_seed(seed)
    dx, dy, dz = 2, 3, 2
    root = torch.randn(7, 7, generator=generator, dtype=torch.float64)
    cov = root @ root.T + 0.5 * torch.eye(7, dtype=torch.float64)
    task = ConditionalGaussian(cov, dx, dy, dz)
    assert task.conditional_mutual_information == pytest.approx(_schur_cmi(cov, dx, dy), abs=1e-10)


@pytest.mark.parametrize(("cmi", "strength"), [(0.0, 1.0), (0.5, 0.3), (2.0, 2.0)])
def test_confounded_has_the_requested_conditional_mi_and_more_marginal_mi(cmi, strength):
    task = ConditionalGaussian.confounded(dim=3, cmi=cmi, strength=strength)
    assert task.conditional_mutual_information == pytest.approx(cmi, abs=1e-10)
    assert task.mutual_information > cmi  # Z adds dependence of its own


def test_collider_is_marginally_independent_and_conditionally_dependent():
    task = ConditionalGaussian.collider(dim=2, noise=1.0)
    assert task.mutual_information == 0.0
    # per coordinate: 1/2 log(|[[1,1],[1,3]]|^2 / (3 * 1)) = 1/2 log(4/3)
    assert task.conditional_mutual_information == pytest.approx(2 * 0.5 * math.log(4 / 3), abs=1e-12)


def test_samples_have_the_covariance_within_monte_carlo_error():
    task = ConditionalGaussian.confounded(dim=2, cmi=0.7, strength=0.5)
    n = 200_000
    x, y, z = task.sample(n, seed=0, dtype=torch.float64)
    empirical = np.cov(torch.cat([x, y, z], 1).numpy().T)
    cov = task.covariance.numpy()
    # Var of a sample covariance entry (Gaussian data): (S_ii S_jj + S_ij^2) / n; allow 5 sd.
    sd = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(empirical - cov) < 5 * sd)


def test_same_seed_same_samples_and_bad_arguments_are_named():
    task = ConditionalGaussian.collider(dim=1)
    first, second = task.sample(10, seed=3), task.sample(10, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError, match="noise must be > 0"):
        ConditionalGaussian.collider(dim=1, noise=0.0)
    with pytest.raises(ValueError, match="strength must be finite"):
        ConditionalGaussian.confounded(dim=1, strength=math.inf)
    with pytest.raises(ValueError, match=r"covariance must be a symmetric \[3, 3\] matrix"):
        ConditionalGaussian(torch.eye(2), 1, 1, 1)
