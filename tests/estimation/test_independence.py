"""independence_test: the p-value's exactness under H0 (any critic), its arithmetic, power, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import mibounds
from mibounds import tasks
from mibounds.estimation import (
    IndependenceResult,
    MIEstimator,
    independence_test,
    training,
)
from mibounds.estimation import independence as independence_module

FAST = {"max_steps": 50, "progress": False}


def binomial_band(trials: int, p: float, coverage: float = 0.99) -> tuple[int, int]:
    """The central ``coverage`` range of Binomial(trials, p): P(X < low) and P(X > high) <= (1 - coverage) / 2."""
    pmf = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    tail = (1 - coverage) / 2
    low = next(k for k in range(trials + 1) if sum(pmf[: k + 1]) > tail)
    high = next(k for k in range(trials, -1, -1) if sum(pmf[k:]) > tail)
    return low, high


def _rejections(pairs, level: float = 0.05, **params) -> int:
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed, (x, y) in enumerate(pairs):
            count += independence_test(x, y, random_state=seed, progress=False, **params).rejects(level)
    return count


def _independent_pairs(reps: int, n: int):
    """Gaussian x with Student-t y (heavy tails: the Gaussian critic's model is wrong, the test is not)."""
    for seed in range(reps):
        rng = np.random.default_rng(10_000 + seed)
        yield rng.normal(size=(n, 2)), rng.standard_t(3, size=(n, 2))


def test_size_under_independence_is_within_the_binomial_band_for_the_gaussian_critic():
    # 200 repetitions: the rejection count at 5 % must lie in Binomial(200, 0.05)'s 99 % range.
    low, high = binomial_band(200, 0.05)
    count = _rejections(_independent_pairs(200, 200), critic=None, num_permutations=99)
    assert low <= count <= high, (count, (low, high))


def test_p_value_is_the_share_of_permutations_at_least_as_large_plus_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = rng.normal(size=(400, 2))
    result = independence_test(x, y, num_permutations=19, random_state=3, **FAST)
    assert isinstance(result, IndependenceResult)
    assert result.resolution == pytest.approx(1 / 20)
    k = round(result.p_value * 20)
    assert result.p_value == pytest.approx(k / 20) and 1 <= k <= 20
    assert (result.n_train, result.n_test) == (200, 200)
    assert result.estimate.n == 200  # the estimate comes from the training rows only


def test_same_seed_same_result_and_the_statistic_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = 0.5 * x + rng.normal(size=(300, 2))
    first = independence_test(x, y, num_permutations=30, random_state=7, **FAST)
    second = independence_test(x, y, num_permutations=30, random_state=7, **FAST)

    def timeless(result: IndependenceResult) -> dict:
        fields = result.to_dict()
        fields["estimate"].pop("seconds")
        return fields | {"seconds": 0}

    assert timeless(first) == timeless(second)

    # T = mean f(x_i, y_i) - mean_{i,j} f(x_i, y_j) for f the average of the fold critics, on the test rows
    order = np.random.default_rng(7).permutation(300)
    train, test = order[150:], order[:150]
    estimator = MIEstimator(random_state=7, **FAST).fit(x[train], y[train])
    xt = torch.as_tensor(estimator.x_scaler_(x[test]), dtype=torch.float32)
    yt = torch.as_tensor(estimator.y_scaler_(y[test]), dtype=torch.float32)
    with torch.no_grad():
        scores = sum(estimator.model_.member(m)(xt, yt).double() for m in range(5)) / 5
    direct = float(scores.diagonal().mean() - scores.mean())
    assert first.statistic == pytest.approx(direct, abs=1e-6)


def test_critics_without_a_separable_form_give_the_same_statistics(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2))
    y = 0.5 * x + rng.normal(size=(300, 2))
    estimator = MIEstimator(random_state=0, **FAST).fit(x[:150], y[:150])
    xt = torch.as_tensor(estimator.x_scaler_(x[150:]), dtype=torch.float32)
    yt = torch.as_tensor(estimator.y_scaler_(y[150:]), dtype=torch.float32)
    permutations = torch.stack([torch.randperm(150, generator=torch.Generator().manual_seed(s)) for s in range(4)])
    fast = independence_module._statistics(estimator.model_, xt, yt, permutations, False)
    monkeypatch.setattr(training._Member, "embeddings", lambda self, x, y: None)  # force the per-pair path
    slow = independence_module._statistics(estimator.model_, xt, yt, permutations, False)
    assert fast[0] == pytest.approx(slow[0], abs=1e-6)
    np.testing.assert_allclose(fast[1], slow[1], atol=1e-6)


def test_dependence_is_detected_and_reported():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 2))
    y = 0.3 * x + rng.normal(size=(1000, 2))
    result = mibounds.independence_test(x, y, num_permutations=99, random_state=0, **FAST)
    assert result.rejects(0.05) and result.p_value == pytest.approx(0.01)
    assert result.statistic > result.null_mean + 4 * result.null_std
    text = str(result)
    assert "p = 0.01 (99 permutations; the smallest possible p is 0.01)" in text
    assert "estimate on the training rows" in text
    assert set(result.to_dict()) >= {
        "p_value",
        "statistic",
        "num_permutations",
        "resolution",
        "estimate",
    }
    assert "history" not in result.to_dict()["estimate"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"num_permutations": 0},
            ValueError,
            r"num_permutations must be an integer >= 1, got 0",
        ),
        (
            {"num_permutations": 2.5},
            TypeError,
            r"num_permutations must be an integer >= 1, got 2\.5",
        ),
        (
            {"test_size": 1.0},
            ValueError,
            r"test_size must be a share of the rows strictly between 0 and 1, got 1\.0",
        ),
        ({"test_size": True}, ValueError, r"test_size must be a share"),
        ({"max_stepz": 10}, TypeError, r"max_stepz"),
    ],
)
def test_bad_settings_are_named(kwargs, error, message):
    x = np.zeros((100, 1))
    with pytest.raises(error, match=message):
        independence_test(x, x, random_state=0, **kwargs)


def test_too_few_rows_say_how_many_are_needed():
    x = np.random.default_rng(0).normal(size=(30, 1))
    with pytest.raises(
        ValueError,
        match=r"too few rows: 30 rows split into 15 training and 15 test rows .* so pass at least 80 rows",
    ):
        independence_test(x, x, random_state=0, **FAST)


@pytest.mark.slow
def test_size_under_independence_with_the_default_learned_critic():
    low, high = binomial_band(200, 0.05)
    count = _rejections(_independent_pairs(200, 300), num_permutations=99, max_steps=200)
    assert low <= count <= high, (count, (low, high))


@pytest.mark.slow
def test_power_at_a_twentieth_of_a_nat_with_5000_rows():
    task = tasks.Gaussian(dim=5, mi=0.05)
    pairs = [tuple(t.numpy() for t in task.sample(5000, seed=seed, dtype=torch.float64)) for seed in range(20)]
    count = _rejections(pairs, num_permutations=199)
    assert count >= 18, count  # power >= 0.9


def test_categories_are_tested_with_the_classifier_or_the_contingency_table():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 1200)
    x = rng.normal(size=(1200, 2)) + 0.4 * labels[:, None]
    names = np.array(["a", "b", "c"])[labels]
    result = independence_test(x, names, num_permutations=99, random_state=0, **FAST)
    assert result.rejects(0.05) and result.estimate.method == "barber-agakov"
    flipped = independence_test(names, x, num_permutations=99, random_state=0, **FAST)
    assert flipped.rejects(0.05)
    both = independence_test((x[:, 0] > 0.4).astype(int), labels, num_permutations=99, random_state=0, progress=False)
    assert both.rejects(0.05) and both.estimate.method == "plug-in" and both.n_train == 0


def test_size_of_the_contingency_table_test_is_within_the_binomial_band():
    low, high = binomial_band(200, 0.05)
    rng = np.random.default_rng(5)
    count = 0
    for seed in range(200):
        a, b = rng.integers(0, 3, 300), rng.integers(0, 4, 300)
        count += independence_test(a, b, num_permutations=49, random_state=seed, progress=False).rejects(0.05)
    assert low <= count <= high, (count, (low, high))


@pytest.mark.slow
def test_size_of_the_classifier_test_is_within_the_binomial_band():
    low, high = binomial_band(200, 0.05)
    rng = np.random.default_rng(6)
    pairs = [(rng.normal(size=(300, 2)), rng.integers(0, 3, 300)) for _ in range(200)]
    count = _rejections(pairs, num_permutations=99, max_steps=200)
    assert low <= count <= high, (count, (low, high))


def test_ties_from_a_critic_that_learned_nothing_keep_the_size_exact():
    # A statistic equal for every pairing (a constant critic) must not give p = 1 always: the
    # observed rank is drawn among the ties, so p is uniform on {1, ..., B + 1} / (B + 1).
    from mibounds.estimation.independence import _result

    estimate = type("R", (), {"warnings": []})()
    p_values = [_result(0.0, np.zeros(19), 10, 10, estimate, seed, 0.0).p_value for seed in range(2000)]  # type: ignore[arg-type]
    share = np.mean(np.array(p_values) <= 0.05 + 1e-12)  # p = 1/20 exactly: probability 1/20
    assert abs(share - 0.05) < 5 * np.sqrt(0.05 * 0.95 / 2000)
    assert min(p_values) == pytest.approx(1 / 20) and max(p_values) == pytest.approx(1.0)
