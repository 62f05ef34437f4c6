"""Per-column scaling: z-scores and normal scores."""

from __future__ import annotations

import numpy as np

from mibounds.estimation.scaling import QuantileNormalizer, Standardizer


def test_standardizer_uses_the_given_statistics_and_keeps_constant_columns_finite():
    train = np.array([[0.0, 5.0], [2.0, 5.0]])
    scaler = Standardizer.fit(train)
    np.testing.assert_allclose(scaler(train), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(scaler(np.array([[4.0, 6.0]])), [[3.0, 1.0]])
    np.testing.assert_array_equal(Standardizer.identity(2)(train), train)


def test_quantile_normalizer_gives_normal_scores_and_ignores_increasing_maps():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(4000, 2))
    new = rng.normal(size=(500, 2))
    scores = QuantileNormalizer.fit(train)(new)
    cubed = QuantileNormalizer.fit(train**3)(new**3)
    # An increasing map of the data moves a new value at most within its gap between two sorted
    # training values (the interpolation there is linear in the value), i.e. by < 1/n = 2.5e-4 in
    # probability, < 1e-3 in normal score for |score| < 2.6.
    inner = np.abs(scores) < 2.6
    np.testing.assert_allclose(scores[inner], cubed[inner], atol=1e-3)
    # Normal scores of normal data are the data, up to the empirical CDF's error: its standard
    # error sqrt(F (1 - F) / n) in probability is sqrt(F (1 - F) / n) / phi(z) in score; allow 5.
    from statistics import NormalDist

    normal = NormalDist()
    cdf = np.vectorize(normal.cdf)(new)
    tolerance = 5 * np.sqrt(cdf * (1 - cdf) / len(train)) / np.vectorize(normal.pdf)(new) + 1e-3
    assert np.all(np.abs(scores - new) <= tolerance)
    assert np.all(np.diff(QuantileNormalizer.fit(train)(np.linspace(-5, 5, 50)[:, None].repeat(2, 1)), axis=0) >= 0)


def test_quantile_normalizer_is_finite_beyond_the_training_range():
    scaler = QuantileNormalizer.fit(np.arange(10.0)[:, None])
    out = scaler(np.array([[-100.0], [4.5], [100.0]]))
    assert np.isfinite(out).all() and out[0, 0] < out[1, 0] < out[2, 0]


def test_fit_transform_equals_fit_then_map_with_ties_and_float32():
    rng = np.random.default_rng(3)
    values = np.column_stack(
        [rng.normal(size=3000), rng.integers(0, 4, 3000).astype(float), np.round(rng.normal(size=3000), 1)]
    )
    normalizer, scores = QuantileNormalizer.fit_transform(values)
    np.testing.assert_array_equal(normalizer.sorted_values, QuantileNormalizer.fit(values).sorted_values)
    np.testing.assert_array_equal(scores, QuantileNormalizer.fit(values)(values))
    _, narrow = QuantileNormalizer.fit_transform(values, np.float32)
    assert narrow.dtype == np.float32
    np.testing.assert_array_equal(narrow, scores.astype(np.float32))
    scaler, standard = Standardizer.fit_transform(values, np.float32)
    np.testing.assert_array_equal(standard, scaler(values).astype(np.float32))


def test_normal_scores_do_not_depend_on_the_order_of_the_queries():
    rng = np.random.default_rng(4)
    normalizer = QuantileNormalizer.fit(np.round(rng.normal(size=(500, 2)), 1))
    queries = rng.normal(size=(300, 2)) * 2
    order = rng.permutation(300)
    np.testing.assert_array_equal(normalizer(queries)[order], normalizer(queries[order]))
