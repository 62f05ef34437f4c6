"""SignMixture: sign patterns, exact densities against an independent reference, the Monte-Carlo
MI against a fresh Monte-Carlo mean of log_ratio (4 standard errors of the two combined), caching
and determinism of the ground truth."""

from __future__ import annotations

import math

import pytest
import torch
from task_zoo import mean_and_se, pairwise_log_ratio
from torch.distributions import MultivariateNormal as TorchMVN

from mibounds import tasks
from mibounds.tasks import regimes

#: The levels of the hard accuracy suite (about 2 and 4 nats).
LEVELS = ["sign-mixture-d10-k2-c0.64", "sign-mixture-d10-k2-c0.78"]


def test_sign_patterns_flip_every_coordinate_in_half_the_components() -> None:
    two = regimes.sign_patterns(2, 3)
    assert two.tolist() == [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]
    four = regimes.sign_patterns(4, 5)
    assert four.tolist() == [
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [-1.0, 1.0, -1.0, 1.0, -1.0],
        [1.0, -1.0, 1.0, -1.0, 1.0],
        [-1.0, -1.0, -1.0, -1.0, -1.0],
    ]
    assert (four.sum(0) == 0).all() and len({tuple(row) for row in four.tolist()}) == 4


def test_marginals_are_standard_normal_and_the_covariance_is_the_identity() -> None:
    task = tasks.SignMixture(dim=3, num_components=4, correlation=0.9)
    x, y = task.sample(40_000, seed=0, dtype=torch.float64)
    joint = torch.cat([x, y], 1)
    # Each entry of the sample covariance has standard error about 1/sqrt(n) (up to sqrt(2)).
    torch.testing.assert_close(torch.cov(joint.T), torch.eye(6, dtype=torch.float64), rtol=0, atol=5 * 1.5 / 200)
    _, y_only = task.sample(5, seed=1, dtype=torch.float64)
    reference = TorchMVN(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(task.log_marginal_y(y_only), reference.log_prob(y_only), rtol=1e-12, atol=1e-12)


def test_log_ratio_matches_the_mixture_of_joint_gaussians() -> None:
    task = tasks.SignMixture(dim=2, num_components=2, correlation=-0.6)
    x, y = task.sample(6, seed=2, dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    components = [
        TorchMVN(
            torch.zeros(4, dtype=torch.float64), torch.cat([torch.cat([eye, c * eye], 1), torch.cat([c * eye, eye], 1)])
        )
        for c in (-0.6, 0.6)
    ]
    pairs = torch.cat([x[:, None].expand(6, 6, 2), y[None].expand(6, 6, 2)], -1)
    joint = torch.logsumexp(torch.stack([comp.log_prob(pairs) for comp in components]), 0) - math.log(2)
    standard = TorchMVN(torch.zeros(2, dtype=torch.float64), eye)
    expected = joint - standard.log_prob(x)[:, None] - standard.log_prob(y)[None, :]
    torch.testing.assert_close(task.log_ratio(x, y), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("task_id", "n"),
    [
        *((level, 20_000) for level in LEVELS),
        *(pytest.param(level, 400_000, marks=pytest.mark.slow) for level in LEVELS),
    ],
)
def test_mi_matches_a_fresh_monte_carlo_mean_of_log_ratio(task_id: str, n: int) -> None:
    task = tasks.make(task_id)
    x, y = task.sample(n, seed=7, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y, block=256))
    tolerance = 4 * math.hypot(se, task.mutual_information_stderr)
    assert abs(mean - task.mutual_information) < tolerance, (mean, se, task.mutual_information)


@pytest.mark.parametrize("task_id", LEVELS)
def test_levels_lie_between_their_bounds_with_a_small_standard_error(task_id: str) -> None:
    task = tasks.make(task_id)
    assert isinstance(task, tasks.SignMixture)
    log_k = math.log(task.num_components)
    assert task.component_mi - log_k < task.mutual_information < task.component_mi
    assert 0 < task.mutual_information_stderr < 1e-3
    assert abs(task.mutual_information - (2.0 if "0.64" in task_id else 4.0)) < 0.05
    assert regimes._posterior_entropy(task.dim, task.num_components, task.correlation).draws >= 200_000


def test_ground_truth_is_cached_and_deterministic() -> None:
    task = tasks.SignMixture(dim=2, num_components=2, correlation=0.3)
    first = task.mutual_information
    hits = regimes._posterior_entropy.cache_info().hits
    assert tasks.SignMixture(dim=2, num_components=2, correlation=0.3).mutual_information == first
    assert regimes._posterior_entropy.cache_info().hits > hits
    regimes._posterior_entropy.cache_clear()
    assert task.mutual_information == first  # recomputed from the same seed: the same number


def test_zero_correlation_is_independence() -> None:
    task = tasks.SignMixture(dim=3, num_components=2, correlation=0.0)
    assert task.mutual_information == pytest.approx(0.0, abs=1e-12)


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="power of two with log2\\(num_components\\) <= dim = 5 .*got 3"):
        tasks.SignMixture(dim=5, num_components=3)
    with pytest.raises(ValueError, match="dim = 2 .*got 8"):
        tasks.SignMixture(dim=2, num_components=8)
    with pytest.raises(ValueError, match="num_components must be an integer >= 2"):
        tasks.SignMixture(num_components=1)
    with pytest.raises(ValueError, match="correlation must lie in \\(-1, 1\\)"):
        tasks.SignMixture(correlation=1.0)
