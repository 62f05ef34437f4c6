"""The unmixing of each side before its normal scores: FastICA against scikit-learn's, the choice
between the unmixed columns and the columns as given, and what the estimator does with it."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mibounds import MIBoundsWarning, estimate, tasks
from mibounds.estimation.fold_critics import GaussianValidation
from mibounds.estimation.unmixing import FIT_ROWS, Unmixed, fast_ica, prefer_unmixed

from .conftest import FAST


def _sources(n: int, seed: int) -> np.ndarray:
    """Independent non-Gaussian sources: uniform, Laplace, exponential, a two-point mixture."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.uniform(-1, 1, n),
            rng.laplace(size=n),
            rng.exponential(size=n),
            rng.choice([-1.0, 1.0], n) + 0.3 * rng.normal(size=n),
        ]
    )


def test_components_have_zero_mean_and_unit_covariance_on_the_fitted_rows():
    mixed = _sources(5000, 0) @ np.random.default_rng(1).normal(size=(4, 4))
    unmixing = fast_ica(mixed, seed=0)
    components = unmixing(mixed)
    np.testing.assert_allclose(components.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.cov(components.T, bias=True), np.eye(4), atol=1e-10)
    assert unmixing.converged and np.linalg.matrix_rank(unmixing.matrix) == 4  # invertible: MI unchanged


def test_fast_ica_finds_the_components_that_scikit_learn_finds():
    from sklearn.decomposition import FastICA

    sources = _sources(20_000, 2)
    mixed = sources @ np.random.default_rng(3).normal(size=(4, 4))
    ours = fast_ica(mixed, seed=0)(mixed)
    theirs = FastICA(algorithm="parallel", fun="logcosh", whiten="unit-variance", random_state=0).fit_transform(mixed)
    # The same components up to order and sign; each is one source.
    match = np.abs(np.corrcoef(ours.T, theirs.T)[:4, 4:])
    assert np.sort(match.max(axis=1)).min() > 0.999
    recovered = np.abs(np.corrcoef(ours.T, sources.T)[:4, 4:])
    assert np.sort(recovered.max(axis=1)).min() > 0.99
    assert sorted(recovered.argmax(axis=1)) == [0, 1, 2, 3]


def test_a_large_input_is_fitted_on_a_subset_and_maps_every_row():
    mixed = _sources(FIT_ROWS + 1000, 4) @ np.random.default_rng(5).normal(size=(4, 4))
    unmixing = fast_ica(mixed, seed=0)
    assert unmixing(mixed).shape == mixed.shape
    assert fast_ica(mixed, seed=0).matrix == pytest.approx(unmixing.matrix)  # seeded: repeatable


def test_the_map_of_a_side_is_the_unmixing_then_the_scaler():
    from mibounds.estimation.scaling import QuantileNormalizer

    mixed = _sources(2000, 6)[:, :2] @ np.array([[1.0, 0.4], [0.2, 1.0]])
    unmixing = fast_ica(mixed, seed=0)
    normalizer, scores = QuantileNormalizer.fit_transform(unmixing(mixed))
    np.testing.assert_allclose(Unmixed(unmixing, normalizer)(mixed), scores)
    np.testing.assert_allclose(Unmixed(None, normalizer)(unmixing(mixed)), scores)


def _validation(dv: list[float], log_normalizer: float = 0.0) -> GaussianValidation:
    values = np.array(dv)
    return GaussianValidation(values + log_normalizer, np.full(len(values), log_normalizer))


def test_the_unmixed_columns_are_preferred_only_beyond_noise_and_fit_error_and_with_a_plausible_gaussian():
    plain = _validation([2.6, 3.0, 2.8, 2.9, 2.7])
    better = [4.0, 4.0, 3.9, 4.1, 4.0]
    assert prefer_unmixed(plain, _validation(better), 0.95, 0.01)
    assert not prefer_unmixed(plain, _validation([2.7, 3.0, 2.9, 2.8, 2.8]), 0.95, 0.01)  # a tie keeps the columns
    # Beyond the noise but within the Gaussian fit's own first-order error: no evidence of a better model.
    tiny = _validation([1e-4 * (1 + 0.01 * k) for k in range(5)])
    nothing = _validation([0.0] * 5)
    assert prefer_unmixed(nothing, tiny, 0.95, 0.0) and not prefer_unmixed(nothing, tiny, 0.95, 0.008)
    # A better lower bound from a Gaussian that Markov's inequality rejects (e^3.5 > 1 / 0.05): no reason to unmix.
    assert not prefer_unmixed(plain, _validation(better, log_normalizer=3.5), 0.95, 0.01)
    assert prefer_unmixed(plain, _validation(better, log_normalizer=2.5), 0.95, 0.01)
    assert prefer_unmixed(_validation([-math.inf, 1.0, 1.0, 1.0, 1.0]), plain, 0.95, 0.01)
    assert not prefer_unmixed(plain, _validation([math.inf, 1.0, 1.0, 1.0, 1.0]), 0.95, 0.01)


def test_a_rotated_elementwise_map_is_unmixed_and_its_gaussian_critic_is_exact():
    # x = R h(s): no per-column map undoes it, the unmixing then the normal scores do, and the
    # Gaussian critic alone is then the optimal critic: the estimate is within its Monte-Carlo
    # error of I (plus the fit's first-order bias, which the estimator corrects).
    task = tasks.make("rotate(half-cube(gaussian-d4-mi2))")
    x, y = (v.numpy() for v in task.sample(10_000, seed=0, dtype=torch.float64))
    result = estimate(x, y, critic=None, progress=False, random_state=0)
    assert result.unmixed and "on unmixed columns (FastICA)" in result.summary()
    assert abs(result.estimate - 2.0) < 4 * result.stderr + 16 / 8000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIBoundsWarning)  # the rows fail Mardia's test: the Gaussian part is named
        plain = estimate(x, y, critic=None, unmix="never", progress=False, random_state=0)
    assert not plain.unmixed and plain.estimate < 2.0 - 4 * plain.stderr  # the columns as given lose part of I


def test_gaussian_rows_are_left_as_given_and_always_is_still_exact():
    task = tasks.Gaussian(dim=3, mi=1.0)
    x, y = task.sample(10_000, seed=1)
    assert not estimate(x, y, critic=None, progress=False, random_state=0).unmixed  # Mardia's test passes
    # Any invertible linear map keeps Gaussian rows jointly Gaussian: unmixing them costs nothing.
    forced = estimate(x, y, critic=None, unmix="always", progress=False, random_state=0)
    assert forced.unmixed and abs(forced.estimate - 1.0) < 4 * forced.stderr + 9 / 8000


def test_unmix_options_and_errors(pair):
    x, y = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIBoundsWarning)
        assert estimate(x, y, unmix="always", **FAST).unmixed
        assert not estimate(x, y, unmix="never", **FAST).unmixed
        assert not estimate(x[:, :1], y[:, :1], unmix="always", **FAST).unmixed  # one column a side: nothing to unmix
    with pytest.raises(ValueError, match="unmix must be one of 'auto', 'always', 'never', got 'yes'"):
        estimate(x, y, unmix="yes", **FAST)
    with pytest.raises(ValueError, match="unmix='always' maps the columns before scaling them"):
        estimate(x, y, unmix="always", standardize=False, **FAST)


def test_the_hard_suites_rotated_half_cube_at_8_nats_is_exact_after_unmixing():
    # The suite's task at its highest level, the default estimator: 0.49 nats of mean |error| before
    # the unmixing, within the Monte-Carlo error of the held-out mean (and the first-order error of
    # the fitted Gaussian, which the estimator corrects for) after it, and as fast as a Gaussian row.
    task = tasks.make("rotate(half-cube(gaussian-d10-mi8))")
    x, y = (v.numpy() for v in task.sample(10_000, seed=0, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIBoundsWarning)  # 8 nats is above what 1,000-row blocks certify
        result = estimate(x, y, progress=False, random_state=0, threads=1)
    assert result.unmixed and result.patience == 5 and result.steps <= 1000
    assert abs(result.estimate - 8.0) < 4 * result.stderr + 100 / 8000
    assert result.ci_low <= 8.0 <= result.ci_high
