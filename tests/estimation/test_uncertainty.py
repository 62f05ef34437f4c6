"""Batch-means standard error and Student-t interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.estimation.uncertainty import batch_means_interval, heldout_interval, student_t_quantile

# Two-sided 95 % and 99 % quantiles from printed t tables (4 decimals).
T_TABLE = {
    (0.975, 1): 12.7062,
    (0.975, 2): 4.3027,
    (0.975, 5): 2.5706,
    (0.975, 10): 2.2281,
    (0.975, 30): 2.0423,
    (0.995, 10): 3.1693,
    (0.995, 30): 2.7500,
    (0.95, 20): 1.7247,
}


@pytest.mark.parametrize(("p", "dof"), sorted(T_TABLE))
def test_t_quantile_matches_the_table(p, dof):
    assert student_t_quantile(p, dof) == pytest.approx(T_TABLE[(p, dof)], abs=6e-4)


def test_t_quantile_tends_to_the_normal_and_is_odd():
    assert student_t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)
    assert student_t_quantile(0.025, 7) == pytest.approx(-student_t_quantile(0.975, 7))


def test_interval_algebra():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    out = batch_means_interval(values, 0.95)
    stderr = values.std(ddof=1) / 2
    assert (out.estimate, out.stderr, out.num_batches) == (2.5, pytest.approx(stderr), 4)
    half = student_t_quantile(0.975, 3) * stderr
    assert (out.low, out.high) == (pytest.approx(2.5 - half), pytest.approx(2.5 + half))


def test_interval_refuses_too_few_or_non_finite_values():
    with pytest.raises(ValueError, match="at least 2 batch values, got 1"):
        batch_means_interval([1.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        batch_means_interval([1.0, math.nan])
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\)"):
        batch_means_interval([1.0, 2.0], confidence=1.0)


def test_interval_covers_at_its_level_for_iid_batches():
    # 4000 replicates of B = 8 normal batch values: the coverage estimate has standard error
    # sqrt(0.95 * 0.05 / 4000) = 0.0034; we allow 5 of them (a normal quantile would give 0.92).
    rng = np.random.default_rng(1)
    values = rng.normal(size=(4000, 8))
    hits = [(lambda r: r.low <= 0 <= r.high)(batch_means_interval(row, 0.95)) for row in values]
    assert np.mean(hits) == pytest.approx(0.95, abs=5 * math.sqrt(0.95 * 0.05 / 4000))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50), st.floats(0.5, 0.999))
def test_interval_contains_the_mean_and_widens_with_confidence(values, confidence):
    out = batch_means_interval(values, confidence)
    assert out.low <= out.estimate <= out.high
    wider = batch_means_interval(values, (1 + confidence) / 2)
    assert wider.high - wider.low >= out.high - out.low


def test_heldout_interval_raises_the_upper_end_by_half_the_generalization_gap():
    test = np.array([1.8, 2.0, 1.9, 1.7, 2.1])
    train = np.array([2.1, 2.0, 2.2, 2.0, 2.2, 2.1])  # its mean is 2.1, 0.2 above the test mean
    plain = batch_means_interval(test)
    interval = heldout_interval(test, train)
    assert interval.generalization_gap == pytest.approx(0.2, abs=1e-12)
    assert (interval.estimate, interval.stderr, interval.low) == (plain.estimate, plain.stderr, plain.low)
    assert interval.high == pytest.approx(plain.high + 0.1, abs=1e-12)
    # A critic that does better on fresh rows than on its own (noise) gets the plain interval.
    lower = heldout_interval(test, train - 0.5)
    assert lower.generalization_gap == pytest.approx(-0.3, abs=1e-12) and lower.high == plain.high
    with pytest.raises(ValueError, match="diverged"):
        heldout_interval(test, [2.0, float("nan")])


def test_half_the_gap_recentres_a_symmetric_overfit_on_the_truth():
    # The model of the correction: training values sit as far above the truth as test values
    # below it, each with batch noise; the raised interval then covers the truth at its level.
    rng = np.random.default_rng(0)
    truth, shortfall, trials = 2.0, 0.1, 2000
    covered = 0
    for _ in range(trials):
        test = truth - shortfall + 0.2 * rng.standard_normal(30)
        train = truth + shortfall + 0.2 * rng.standard_normal(30)
        interval = heldout_interval(test, train)
        covered += interval.low <= truth <= interval.high
    # The upper end carries the train noise too, so coverage is at least the level (5 SE slack).
    assert covered / trials >= 0.95 - 5 * math.sqrt(0.95 * 0.05 / trials)
    plain = sum(
        batch_means_interval(truth - shortfall + 0.2 * rng.standard_normal(30)).high >= truth for _ in range(trials)
    )
    assert plain / trials < 0.5  # without the correction the truth is missed most of the time
