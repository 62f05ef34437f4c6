"""Reduction of a wide side on a low-dimensional manifold to its leading principal components."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mibounds
from mibounds import tasks
from mibounds.estimation.reduction import (
    MAX_INTRINSIC_DIMENSION,
    NEIGHBOUR_ROWS,
    Projection,
    Reduced,
    intrinsic_dimension,
    principal_projection,
    reduced_width,
)
from mibounds.estimation.scaling import QuantileNormalizer

from .conftest import FAST


@pytest.mark.parametrize("k", [1, 3, 6])
def test_the_intrinsic_dimension_of_a_curved_manifold_in_a_wide_space_is_its_dimension(k):
    rng = np.random.default_rng(k)
    latent = rng.normal(size=(6000, k))
    wide = np.tanh(latent @ rng.normal(size=(k, 80)) + rng.normal(size=80))
    # The Pareto MLE has relative standard error 1 / sqrt(N) = 1.6 % at N = 4,096; curvature and the
    # density's variation over the neighbours add a few per cent at these k.
    assert intrinsic_dimension(wide, seed=0) == pytest.approx(k, rel=0.1)


def test_the_intrinsic_dimension_ignores_duplicates_and_gives_up_without_neighbours():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(2000, 2)) @ rng.normal(size=(2, 30))
    doubled = np.concatenate([plane, plane[:500]])  # a duplicate's first neighbour is at distance 0
    assert intrinsic_dimension(doubled, seed=0) == pytest.approx(2, rel=0.1)
    assert intrinsic_dimension(np.ones((100, 5)), seed=0) == math.inf


def test_the_intrinsic_dimension_uses_a_subset_of_rows_above_its_limit():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(NEIGHBOUR_ROWS + 500, 3))
    assert intrinsic_dimension(values, seed=1) == intrinsic_dimension(values, seed=1)  # seeded subset
    assert intrinsic_dimension(values, seed=1) == pytest.approx(3, rel=0.1)


def test_the_reduced_width_is_whitneys_two_k_plus_one_where_k_is_small_and_the_side_wide():
    assert reduced_width(5.2, 1000) == 11  # k rounded to a whole dimension, 5
    assert reduced_width(2.6, 1000) == 7  # TwoNN falls a little short of k = 3: rounded, 3
    assert reduced_width(0.3, 1000) == 3  # at least one dimension
    assert reduced_width(2.0, 20) == 5  # a quarter of 20 columns is 5
    assert reduced_width(2.0, 19) is None  # ... of 19 is less: too little would be removed
    assert reduced_width(MAX_INTRINSIC_DIMENSION + 0.1, 10_000) is None  # TwoNN falls short at large k
    assert reduced_width(math.inf, 1000) is None


def test_the_projection_keeps_the_directions_of_most_variance_in_order():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    values = (rng.normal(size=(20_000, 6)) * [5.0, 3.0, 1.0, 0.1, 0.1, 0.1]) @ basis.T + 7.0
    projection = principal_projection(values, 2, seed=0)
    assert projection.components.shape == (6, 2)
    assert np.allclose(projection.components.T @ projection.components, np.eye(2), atol=1e-12)
    assert np.abs(np.abs(projection.components.T @ basis[:, :2]) - np.eye(2)).max() < 0.01
    projected = projection(values)
    assert np.allclose(projected.mean(axis=0), 0, atol=1e-9)
    assert projected.std(axis=0) == pytest.approx([5.0, 3.0], rel=0.02)


def test_the_side_map_scales_projects_then_maps_the_components():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(500, 8))
    first, scores = QuantileNormalizer.fit_transform(values)
    projection = principal_projection(scores, 3, seed=0)
    then, expected = QuantileNormalizer.fit_transform(projection(scores))
    side = Reduced(first, projection, then)
    assert np.allclose(side(values), expected)
    assert isinstance(side.projection, Projection)


def test_an_embedded_low_dimensional_gaussian_is_reduced_and_estimated_within_its_error():
    task = tasks.make("embed-d60(gaussian-d2-mi1)")
    x, y = (np.asarray(v) for v in task.sample(3000, seed=0))
    result = mibounds.estimate(x, y, **FAST)
    assert result.reduced == (5, 5)  # TwoNN finds k = 2 on each side: 2k + 1 components
    assert "5 + 5 principal components" in result.summary()
    # Tolerance: four standard errors of the held-out mean plus the critics' model error, which
    # the interval admits (its lower end is the DV interval's where the critic averages above 1).
    assert result.ci_low - 4 * result.stderr <= task.mutual_information <= result.ci_high + 4 * result.stderr
    kept = mibounds.estimate(x, y, reduce="never", **FAST)
    assert kept.reduced is None


def test_gaussian_rows_and_wide_rows_without_a_low_dimensional_manifold_are_not_reduced():
    for task_id, n in (("gaussian-d20-mi2", 2000), ("gaussian-d60-mi2", 1500)):  # full rank; wide, k ~ 30
        x, y = (np.asarray(v) for v in tasks.make(task_id).sample(n, seed=0))
        assert mibounds.estimate(x, y, **FAST).reduced is None


def test_reduce_is_checked():
    with pytest.raises(ValueError, match="reduce"):
        mibounds.estimate(np.zeros((10, 2)), np.zeros((10, 2)), reduce="always")
