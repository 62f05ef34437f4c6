"""Student-t task: the closed-form MI against Monte Carlo (the check that catches a wrong
correction term), densities against an independent reference, entropy, and the gamma sampler.
Monte-Carlo tolerances: 5 standard errors computed from the per-sample values."""

from __future__ import annotations

import math

import pytest
import torch
from task_zoo import mean_and_se, pairwise_log_ratio
from torch.distributions import StudentT as TorchStudentT

from mibounds import tasks
from mibounds.tasks import _random


@pytest.mark.parametrize("dof", [1.5, 4.0])
def test_student_t_mi_matches_monte_carlo_and_needs_the_correction(dof: float) -> None:
    task = tasks.StudentT(dim_x=2, dim_y=3, dof=dof, correlation=0.5)
    x, y = task.sample(40_000, seed=int(10 * dof), dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y))
    assert abs(mean - task.mutual_information) < 5 * se, (mean, se, task.mutual_information)
    # The Gaussian MI of the scale matrix alone is rejected by the same test.
    assert abs(mean - task.scale.gaussian_mi) > 5 * se


@pytest.mark.parametrize("n", [40_000, pytest.param(400_000, marks=pytest.mark.slow)], ids=lambda n: f"n{n}")
def test_heavy_tails_at_high_mi_closed_form_matches_monte_carlo(n: int) -> None:
    # The hard suite's Student-t: dof <= 3 at more than 4 nats; 4 standard errors.
    task = tasks.make("student-t-dx5-dy5-dof2-c0.9")
    assert isinstance(task, tasks.StudentT) and task.dof <= 3 and task.mutual_information > 4
    x, y = task.sample(n, seed=21, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y, block=256))
    assert abs(mean - task.mutual_information) < 4 * se, (mean, se, task.mutual_information)


def test_identity_scale_still_has_information() -> None:
    task = tasks.StudentT(dim_x=1, dim_y=1, dof=1.0)
    assert task.scale.gaussian_mi == 0.0
    assert task.mutual_information == pytest.approx(tasks.student_t_mi_correction(1.0, 1, 1), rel=1e-15)
    assert task.mutual_information > 0.2


def test_correction_is_positive_and_vanishes_for_many_degrees_of_freedom() -> None:
    values = [tasks.student_t_mi_correction(nu, 3, 2) for nu in (1.0, 3.0, 30.0, 300.0, 3e5)]
    assert all(v > 0 for v in values)
    assert values == sorted(values, reverse=True)
    assert values[-1] < 1e-6
    assert tasks.student_t_mi_correction(2.0, 3, 2) == pytest.approx(tasks.student_t_mi_correction(2.0, 2, 3))


def _reference_log_t(z: torch.Tensor, scale: torch.Tensor, nu: float) -> torch.Tensor:
    """log t_nu(z; 0, scale) from the textbook density, with a linear solve and slogdet."""
    d = scale.shape[0]
    quad = (z * torch.linalg.solve(scale, z.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return (
        math.lgamma((nu + d) / 2)
        - math.lgamma(nu / 2)
        - d / 2 * math.log(nu * math.pi)
        - 0.5 * torch.linalg.slogdet(scale).logabsdet
        - (nu + d) / 2 * torch.log1p(quad / nu)
    )


def test_densities_match_an_independent_reference() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 5, generator=g, dtype=torch.float64)
    scale = a @ a.T / 5 + 0.3 * torch.eye(5, dtype=torch.float64)
    task = tasks.StudentT.from_scale(scale[:2, :2], scale[:2, 2:], scale[2:, 2:], dof=2.5)
    x, y = task.sample(6, seed=1, dtype=torch.float64)
    pairs = torch.cat([x[:, None].expand(6, 6, 2), y[None].expand(6, 6, 3)], -1)
    joint = _reference_log_t(pairs.reshape(36, 5), scale, 2.5).reshape(6, 6)
    log_px = _reference_log_t(x, scale[:2, :2], 2.5)
    log_py = _reference_log_t(y, scale[2:, 2:], 2.5)
    torch.testing.assert_close(task.log_ratio(x, y), joint - log_px[:, None] - log_py[None, :], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(task.log_conditional(x, y), joint - log_px[:, None], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(task.log_marginal_y(y), log_py, rtol=1e-12, atol=1e-12)


def test_one_dimensional_marginal_and_entropy_match_torch_student_t() -> None:
    task = tasks.StudentT(dim_x=1, dim_y=1, dof=2.5, correlation=0.4)
    reference = TorchStudentT(torch.tensor(2.5, dtype=torch.float64))
    _, y = task.sample(10, seed=0, dtype=torch.float64)
    torch.testing.assert_close(task.log_marginal_y(y), reference.log_prob(y[:, 0]), rtol=1e-12, atol=1e-12)
    assert task.entropy_x == pytest.approx(float(reference.entropy()), rel=1e-12)


def test_multivariate_entropy_matches_monte_carlo() -> None:
    # h(X) of t_nu(0, S_xx) against -E log p(y) of a task whose Y marginal is the same t.
    task = tasks.StudentT.dense(dim_x=3, dim_y=2, dof=3.0, correlation=0.2, within_correlation=0.4)
    mirror = tasks.StudentT.from_scale(task.scale.cov_yy, task.scale.cov_xy.T, task.scale.cov_xx, dof=3.0)
    _, y = mirror.sample(20_000, seed=0, dtype=torch.float64)
    mean, se = mean_and_se(-mirror.log_marginal_y(y))
    assert abs(mean - task.entropy_x) < 5 * se, (mean, se, task.entropy_x)


@pytest.mark.parametrize("concentration", [0.3, 1.0, 2.5, 20.0])
def test_gamma_sampler_moments(concentration: float) -> None:
    # Gamma(a, 1) has mean a, variance a and E log G = digamma(a); each compared with its SE.
    g = torch.Generator().manual_seed(1)
    draws = _random.standard_gamma(concentration, 50_000, g)
    assert draws.shape == (50_000,) and (draws > 0).all()
    mean, se = mean_and_se(draws)
    assert abs(mean - concentration) < 5 * se
    var_mean, var_se = mean_and_se((draws - concentration).square())
    assert abs(var_mean - concentration) < 5 * var_se
    log_mean, log_se = mean_and_se(draws.log())
    assert abs(log_mean - float(torch.special.digamma(torch.tensor(concentration)))) < 5 * log_se


def test_student_t_names_and_errors() -> None:
    assert tasks.StudentT().name == "student-t-dx2-dy2-dof3-c0"
    assert tasks.StudentT(3, 4, 2.5, -0.5, n_interacting=1).name == "student-t-dx3-dy4-dof2.5-c-0.5-k1"
    assert tasks.StudentT.dense(2, 2, 1.0, 0.3).name == "student-t-dense-dx2-dy2-dof1-c0.3"
    with pytest.raises(ValueError, match="dof must be a finite number > 0, got 0.0"):
        tasks.StudentT(dof=0.0)
    with pytest.raises(ValueError, match="dim_y must be an integer >= 1, got 0"):
        tasks.StudentT(dim_y=0)
    with pytest.raises(ValueError, match="not positive definite"):
        tasks.StudentT.dense(3, 3, 2.0, 0.9)
