"""Training to the true MI with the default settings (slow tier: python -m pytest -m slow)."""

from __future__ import annotations

import warnings

import pytest

from mibounds import tasks
from mibounds.estimation import estimate

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mi", [6.0, 8.0])
def test_default_estimate_on_the_20d_gaussian_at_high_mi(mi):
    # The default estimator's target: 10,000 samples, within 0.3 nats and the interval covers the truth,
    # where the lower bound cannot follow (it is capped at log of the block size, 6.9 nats).
    task = tasks.Gaussian(dim=20, mi=mi)
    x, y = task.sample(10_000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate(x, y, random_state=0, progress=False)
    print(
        f"\n{task.name}: {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}], lower bound "
        f"{result.lower_bound:.3f}, {result.seconds:.1f} s"
    )
    assert abs(result.estimate - mi) < 0.3
    assert result.ci_low <= mi <= result.ci_high
    assert result.lower_bound < mi and result.lower_bound_value <= result.lower_bound_ceiling


def test_default_estimate_is_near_zero_without_dependence():
    task = tasks.Gaussian(dim=20, mi=0.0)
    x, y = task.sample(10_000, seed=0)
    result = estimate(x, y, random_state=0, progress=False)
    print(f"\n{task.name}: {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}]")
    assert abs(result.estimate) <= 0.05
    assert result.ci_low <= 0.0 <= result.ci_high and result.lower_bound <= 0.0


def test_interval_coverage_over_20_seeds_on_a_small_task():
    # The 95 % interval covers the true MI in at least 16 of 20 independent runs (fresh samples
    # and seeds); the lower bound stays below it in at least 19. Counts printed with -s.
    task = tasks.make("gaussian-d5-mi1")
    truth = task.mutual_information
    hits = below = 0
    for seed in range(20):
        x, y = task.sample(5_000, seed=10_000 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = estimate(x, y, random_state=seed, progress=False)
        hits += result.ci_low <= truth <= result.ci_high
        below += result.lower_bound <= truth
    print(f"\ncoverage on {task.name} with 5,000 samples: {hits}/20, lower bound below the truth {below}/20")
    assert hits >= 16 and below >= 19


def test_default_estimate_on_sign_flipping_regimes_at_4_nats():
    # The hard suite's mixture of regimes at its highest level: an equal mixture of two Gaussians
    # whose x-y correlations flip sign between components (MI 3.998 nats by Monte Carlo, s.e.
    # 1e-4). Its log ratio is a log-cosh, not an inner product of features: the separable residual
    # gave 3.61 on average over 5 seeds; the default mixture critic must come within the issue's
    # tolerance of 0.1 I and cover the truth.
    task = tasks.make("sign-mixture-d10-k2-c0.78")
    truth = task.mutual_information
    x, y = task.sample(10_000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate(x, y, random_state=0, progress=False)
    print(f"\n{task.name}: {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}] (truth {truth:.3f})")
    assert abs(result.estimate - truth) <= 0.1 * truth
    assert result.ci_low <= truth <= result.ci_high and result.lower_bound <= truth
