"""Gaussian, Cubic's base and the multinormal tasks: closed forms against torch.distributions and
Monte Carlo (tolerances: 5 standard errors computed from the per-sample values)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from task_zoo import mean_and_se, pairwise_log_ratio
from torch.distributions import MultivariateNormal as TorchMVN

from mibounds import tasks


@pytest.mark.parametrize("mi", [2.0, 4.0, 6.0])
def test_gaussian_d20_mi_matches_monte_carlo_at_the_bounds_test_levels(mi: float) -> None:
    task = tasks.Gaussian(dim=20, mi=mi)
    x, y = task.sample(20_000, seed=int(mi), dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y))
    assert abs(mean - mi) < 5 * se, (mean, se)


def test_gaussian_samples_have_the_joint_covariance() -> None:
    # Each entry of E[z z^T] is a mean of products z_a z_b; its SE comes from those products.
    task = tasks.Gaussian(dim=4, mi=2.0)
    x, y = task.sample(20_000, seed=0, dtype=torch.float64)
    z = torch.cat([x, y], 1)
    products = z[:, :, None] * z[:, None, :]
    mean, se = products.mean(0), products.std(0) / math.sqrt(z.shape[0])
    rho = math.sqrt(1 - math.exp(-2 * 2.0 / 4))
    eye = torch.eye(4, dtype=torch.float64)
    expected = torch.cat([torch.cat([eye, rho * eye], 1), torch.cat([rho * eye, eye], 1)], 0)
    assert task.rho == pytest.approx(rho, rel=1e-15)
    assert ((mean - expected).abs() < 5 * se).all(), (mean - expected) / se


def test_gaussian_is_y_equals_rho_x_plus_noise() -> None:
    task = tasks.Gaussian(dim=3, mi=1.5)
    x, y = task.sample(5, seed=2, dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    eps = torch.randn(5, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(x, eps[:, :3], rtol=0, atol=0)
    noise = math.sqrt(1 - task.rho**2)
    torch.testing.assert_close(y, task.rho * x + noise * eps[:, 3:], rtol=1e-14, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(dim=st.integers(1, 64), mi=st.floats(0.0, 200.0, allow_nan=False))
def test_gaussian_mi_and_rho_formulas(dim: int, mi: float) -> None:
    task = tasks.Gaussian(dim, mi)
    assert task.mutual_information == mi
    # The naive formula loses ~1e-16 absolute in rho^2, i.e. ~1e-8 in rho when rho is tiny.
    assert task.rho == pytest.approx(math.sqrt(1 - math.exp(-2 * mi / dim)), rel=1e-12, abs=1e-7)
    # The covariance built from rho carries the same MI through its log-determinants.
    assert task.scale.gaussian_mi == pytest.approx(mi, rel=1e-12, abs=1e-12)
    # Inverting the rho formula loses digits as 1 - rho^2 -> 0: compare where it keeps 1e-8.
    assume(1 - task.rho**2 > 1e-6)
    assert -0.5 * dim * math.log1p(-(task.rho**2)) == pytest.approx(mi, rel=1e-8, abs=1e-12)


def test_gaussian_zero_mi_has_zero_log_ratio() -> None:
    task = tasks.Gaussian(dim=3, mi=0.0)
    x, y = task.sample(8, seed=0, dtype=torch.float64)
    assert task.rho == 0.0
    torch.testing.assert_close(task.log_ratio(x, y), torch.zeros(8, 8, dtype=torch.float64))


def test_gaussian_with_mi_returns_a_new_task() -> None:
    task = tasks.Gaussian(dim=np.int64(7), mi=np.float64(2.0))  # numpy scalars from a sweep work too
    other = task.with_mi(5.0)
    assert (other.dim, other.mi, other.name) == (7, 5.0, "gaussian-d7-mi5")
    assert (task.mi, task.name) == (2.0, "gaussian-d7-mi2")
    assert tasks.Gaussian(20, 0.25).name == "gaussian-d20-mi0.25"


def test_gaussian_entropy_x() -> None:
    task = tasks.Gaussian(dim=5, mi=1.0)
    assert task.entropy_x == pytest.approx(float(TorchMVN(torch.zeros(5), torch.eye(5)).entropy()), rel=1e-6)


def test_float32_log_ratio_stays_accurate_at_high_mi() -> None:
    # One coordinate at 8 nats: 1 - rho^2 = e^-16. Expanding |a - b|^2 = |a|^2 + |b|^2 - 2 a.b in
    # float32 would lose the O(1) residual against |a|^2 ~ 1e7 (errors of order 1 nat); the
    # difference-based distance keeps the float32 result within 1e-2 of float64 on the same inputs.
    task = tasks.Gaussian(dim=1, mi=8.0)
    x, y = task.sample(64, seed=0)
    low = task.log_ratio(x, y).diagonal().double()
    high = task.log_ratio(x.double(), y.double()).diagonal()
    assert (low - high).abs().max() < 1e-2


def _random_cov(dim: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    return a @ a.T / dim + 0.3 * torch.eye(dim, dtype=torch.float64)


def test_multivariate_normal_densities_match_torch_distributions() -> None:
    cov = _random_cov(5, seed=3)
    task = tasks.MultivariateNormal.from_joint(cov, dim_x=3)
    x, y = task.sample(6, seed=1, dtype=torch.float64)
    zero = torch.zeros(5, dtype=torch.float64)
    joint = TorchMVN(zero, cov).log_prob(torch.cat([x[:, None].expand(6, 6, 3), y[None].expand(6, 6, 2)], -1))
    log_px = TorchMVN(zero[:3], cov[:3, :3]).log_prob(x)
    log_py = TorchMVN(zero[:2], cov[3:, 3:]).log_prob(y)
    torch.testing.assert_close(task.log_ratio(x, y), joint - log_px[:, None] - log_py[None, :], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(task.log_conditional(x, y), joint - log_px[:, None], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(task.log_marginal_y(y), log_py, rtol=1e-12, atol=1e-12)
    expected_mi = 0.5 * (torch.logdet(cov[:3, :3]) + torch.logdet(cov[3:, 3:]) - torch.logdet(cov))
    assert task.mutual_information == pytest.approx(float(expected_mi), rel=1e-12)
    assert task.entropy_x == pytest.approx(float(TorchMVN(zero[:3], cov[:3, :3]).entropy()), rel=1e-12)
    assert task.name.startswith("mvn-dx3-dy2-cov") and len(task.name) == len("mvn-dx3-dy2-cov") + 8


def test_sparse_and_dense_mi_closed_forms() -> None:
    sparse = tasks.MultivariateNormal.sparse(dim_x=5, dim_y=3, n_interacting=2, correlation=0.8)
    assert sparse.mutual_information == pytest.approx(-math.log(1 - 0.64), rel=1e-12)
    assert sparse.name == "mvn-sparse-dx5-dy3-k2-c0.8"
    assert tasks.MultivariateNormal.sparse(3, 3, 0, 0.5).mutual_information == 0.0
    # Dense with identity blocks: S_yy - S_yx S_xy = I - c^2 dx 1 1^T has one eigenvalue
    # 1 - c^2 dx dy, the rest 1, so I = -log(1 - c^2 dx dy) / 2.
    dense = tasks.MultivariateNormal.dense(dim_x=2, dim_y=3, correlation=0.3)
    assert dense.mutual_information == pytest.approx(-0.5 * math.log(1 - 0.09 * 6), rel=1e-12)
    assert dense.name == "mvn-dense-dx2-dy3-c0.3"
    assert tasks.MultivariateNormal.dense(3, 3, 0.5, 0.5).name == "mvn-dense-dx3-dy3-c0.5-w0.5"


def test_gaussian_parameter_errors() -> None:
    with pytest.raises(ValueError, match="dim must be an integer >= 1, got 0"):
        tasks.Gaussian(0, 1.0)
    with pytest.raises(ValueError, match="dim must be an integer >= 1, got 2.5"):
        tasks.Gaussian(2.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mi must be a finite number >= 0, got -1.0"):
        tasks.Gaussian(2, -1.0)
    with pytest.raises(ValueError, match="mi must be a finite number >= 0, got inf"):
        tasks.Gaussian(2, math.inf)
    with pytest.raises(ValueError, match="deterministic function of x.*lower mi or raise dim"):
        tasks.Gaussian(1, 1e4)


def test_multivariate_normal_errors() -> None:
    not_pd = r"not positive definite \(smallest eigenvalue -0.0[0-9]+\).*lower the correlations"
    with pytest.raises(ValueError, match=not_pd):
        tasks.MultivariateNormal.dense(2, 2, 0.51)
    tasks.MultivariateNormal.dense(2, 2, 0.49)  # just inside the bound |c| < 1 / sqrt(dx dy)
    with pytest.raises(ValueError, match=r"correlation must lie in \(-1, 1\), got 1.0"):
        tasks.MultivariateNormal.sparse(2, 2, 1, 1.0)
    with pytest.raises(ValueError, match="n_interacting = 3 exceeds min\\(dim_x, dim_y\\) = 2"):
        tasks.MultivariateNormal.sparse(2, 4, 3, 0.5)
    with pytest.raises(ValueError, match="not symmetric"):
        tasks.MultivariateNormal.from_joint(torch.tensor([[1.0, 0.5], [0.0, 1.0]]), dim_x=1)
    with pytest.raises(ValueError, match="leaves no coordinates for Y"):
        tasks.MultivariateNormal.from_joint(torch.eye(3), dim_x=3)
    with pytest.raises(ValueError, match=r"cov_xy has shape \(2, 2\) but must be \[2, 3\]"):
        tasks.MultivariateNormal(torch.eye(2), torch.zeros(2, 2), torch.eye(3))
