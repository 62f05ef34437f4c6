"""Categorical x or y: detection, labels, the plug-in estimate's algebra and coverage, and the
Barber–Agakov estimate against class-conditional Gaussians whose MI is known by quadrature."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import mibounds
from mibounds.estimation import MIEstimator
from mibounds.estimation.discrete import (
    as_labels,
    categorical_sides,
    is_categorical,
    plugin_estimate,
)
from mibounds.estimation.training import fold_plan
from mibounds.tasks import ClassConditionalGaussian

FAST = {"max_steps": 300, "progress": False}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array(["a", "b", "a"]), True),
        (np.array([True, False, True]), True),
        (["cat", "dog", "cat"], True),
        (np.array([0, 1, 2, 1]), True),  # integers with few distinct values are labels
        (np.arange(100), False),  # ... with many, numbers
        (np.array([0.0, 1.0, 2.0]), True),  # few whole numbers, even as floats, are labels (atoms)
        (np.array([0.0, 1.5, 2.0]), False),  # other floats are numbers
        (torch.tensor([0, 1, 1]), True),
        ([0.5, 1.5], False),
    ],
)
def test_auto_detection_rule(values, expected):
    assert is_categorical(values) is expected


def test_pandas_categoricals_strings_and_numbers():
    pd = pytest.importorskip("pandas")
    assert is_categorical(pd.Series(["a", "b"], dtype="category"))
    assert is_categorical(pd.DataFrame({"a": ["x", "y"], "b": [0, 1]}))
    assert not is_categorical(pd.DataFrame({"a": ["x", "y"], "b": [0.5, 1.0]}))


def test_sides_follow_the_setting():
    labels, numbers = np.array([0, 1, 0]), np.array([0.1, 0.2, 0.3])
    assert categorical_sides(numbers, labels, "auto") == (False, True)
    assert categorical_sides(labels, labels, "none") == (False, False)
    assert categorical_sides(numbers, numbers, "both") == (True, True)
    with pytest.raises(
        ValueError,
        match="discrete must be one of 'auto', 'none', 'x', 'y', 'both', got 'yes'",
    ):
        categorical_sides(numbers, labels, "yes")


def test_labels_rows_of_several_columns_are_one_label_and_bad_labels_are_named():
    codes, classes = as_labels(np.array([[0, 1], [0, 1], [1, 1]]), "y")
    assert codes.tolist() == [0, 0, 1] and classes == ["(0, 1)", "(1, 1)"]
    with pytest.raises(ValueError, match="y has a single class \\('a'\\)"):
        as_labels(["a", "a"], "y")
    with pytest.raises(ValueError, match="y has missing labels"):
        as_labels(np.array(["a", None], dtype=object), "y")
    with pytest.raises(
        ValueError,
        match="y holds non-integer numbers \\(e.g. 0.5\\) but is treated as categories",
    ):
        as_labels(np.array([0.5, 1.0]), "y")


def test_plugin_is_the_entropy_for_a_copy_and_zero_for_an_exact_product_table():
    x = np.repeat([0, 1, 2], 100)
    interval, ceiling = plugin_estimate(x, x, 0.95)
    assert ceiling == pytest.approx(math.log(3))
    assert interval.estimate == pytest.approx(math.log(3) - (3 - 3 - 3 + 1) / (2 * 300))
    # every (x, y) cell equally often: the plug-in MI is exactly 0, Miller-Madow subtracts (6 - 2 - 3 + 1) / (2n)
    x, y = np.repeat([0, 1], 30), np.tile([0, 1, 2], 20)
    interval, _ = plugin_estimate(x, y, 0.95)
    assert interval.estimate == pytest.approx(-2 / 120)


def test_plugin_interval_covers_a_known_table_at_its_level():
    # A 2 x 3 joint table with known MI: 200 samples of n = 2,000, the 95 % interval should cover
    # in a share inside Binomial(200, 0.95)'s 99 % range [181, 197].
    table = np.array([[0.30, 0.10, 0.10], [0.05, 0.15, 0.30]])
    px, py = table.sum(1), table.sum(0)
    truth = float((table * np.log(table / np.outer(px, py))).sum())
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        cells = rng.choice(6, size=2000, p=table.ravel())
        interval, _ = plugin_estimate(cells // 3, cells % 3, 0.95)
        covered += interval.low <= truth <= interval.high
    assert 181 <= covered <= 197, covered


def test_string_labels_against_features_and_the_other_way_round():
    task = ClassConditionalGaussian.spaced(num_classes=3, separation=2.0, dim=1)
    x, y = task.sample(3000, seed=0, dtype=torch.float64)
    names = np.array(["low", "mid", "high"])[y.numpy()]
    forward = mibounds.estimate(x.numpy(), names, random_state=0, **FAST)
    backward = mibounds.estimate(names, x.numpy(), random_state=0, **FAST)
    assert forward.method == backward.method == "barber-agakov" and forward.bound == "ba"
    assert forward.critic == "classifier q(y|x)" and backward.critic == "classifier q(x|y)"
    assert forward.estimate == pytest.approx(backward.estimate)
    assert forward.estimate <= forward.ceiling and forward.lower_bound <= forward.estimate
    assert forward.ceiling == pytest.approx(task.label_entropy, abs=0.01)
    assert "Barber-Agakov bound" in str(forward)


def test_both_categorical_and_the_estimator_object():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, 5000)
    y = (x + (rng.random(5000) < 0.2)) % 3
    result = mibounds.estimate(x, y, random_state=0, progress=False)
    assert result.method == "plug-in" and result.stopped == "closed_form" and result.lower_bound < result.estimate
    fitted = MIEstimator(random_state=0, progress=False).fit(x, y)
    assert fitted.estimate_ == pytest.approx(result.estimate)


def test_settings_that_do_not_apply_are_named_and_continuous_labels_refused():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(500, 2)), rng.integers(0, 2, 500)
    with pytest.warns(
        mibounds.validation.MIBoundsWarning,
        match="the bound and critic settings do not apply",
    ):
        mibounds.estimate(x, y, bound="infonce", random_state=0, **FAST)
    with pytest.raises(ValueError, match="y holds non-integer numbers"):
        mibounds.estimate(x, rng.normal(size=500), discrete="y", **FAST)
    with pytest.raises(ValueError, match="x has 500 rows and y has 499"):
        mibounds.estimate(x, y[:-1], **FAST)
    numbers = mibounds.estimate(x, y, discrete="none", random_state=0, **FAST)
    assert numbers.method == "log-ratio"


# --- two categorical sides: a sparse table ----------------------------------------------------


def test_independent_labels_with_many_classes_give_about_zero_with_an_honest_interval():
    # 600 draws of two independent 100-class labels: 10,000 cells for 600 rows. The plug-in MI
    # with the Miller-Madow term said 2.335 [2.289, 2.380], lower bound 2.296.
    rng = np.random.default_rng(0)
    names = np.array([f"label{i}" for i in range(100)])
    x, y = names[rng.integers(0, 100, 600)], names[rng.integers(0, 100, 600)]
    with pytest.warns(mibounds.validation.MIBoundsWarning, match="the contingency table is sparse: 100 x 100"):
        result = mibounds.estimate(x, y, random_state=0, progress=False)
    assert result.method == "plug-in" and abs(result.estimate) < 0.05
    assert result.ci_low <= 0 <= result.ci_high and result.lower_bound <= 0
    # two integer columns of 20 values at n = 600 (1.5 rows a cell) said 0.106 [0.067, 0.144]
    with pytest.warns(mibounds.validation.MIBoundsWarning, match="sparse"):
        result = mibounds.estimate(rng.integers(0, 20, 600), rng.integers(0, 20, 600), random_state=0, progress=False)
    assert abs(result.estimate) < 0.05 and result.ci_low <= 0 <= result.ci_high and result.lower_bound <= 0


def test_dependent_labels_are_covered_and_a_full_table_is_not_called_sparse():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 10, 2000)
    y = np.where(rng.random(2000) < 0.5, x, rng.integers(0, 10, 2000))  # y = x half the time
    same, other = (0.5 + 0.05) / 10, 0.05 / 10
    truth = 10 * same * math.log(100 * same) + 90 * other * math.log(100 * other)  # 0.626
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 20 rows a cell: no warning
        result = mibounds.estimate(x, y, random_state=0, progress=False)
    assert result.estimate == pytest.approx(truth, abs=0.05)
    assert result.ci_low <= truth <= result.ci_high and 0 < result.lower_bound <= truth


def test_expected_plugin_mi_is_the_mean_over_re_pairings():
    from mibounds.estimation.contingency import contingency_estimate, expected_plugin_mi, plugin_mi

    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 6, 80), rng.integers(0, 4, 80)
    expected = expected_plugin_mi(np.bincount(x), np.bincount(y))
    draws = np.array([plugin_mi(x, rng.permutation(y))[0] for _ in range(4000)])
    assert expected == pytest.approx(draws.mean(), abs=4 * draws.std() / math.sqrt(len(draws)))
    assert plugin_mi(x, y)[0] == pytest.approx(
        plugin_estimate(x, y, 0.95)[0].estimate + (len(np.unique(x * 4 + y)) - 6 - 4 + 1) / 160
    )
    result = contingency_estimate(x, y, 0.95, seed=0)
    assert result.expected_null == pytest.approx(expected) and result.lower_bound <= result.interval.estimate


# --- one categorical side with many classes ---------------------------------------------------


def test_each_fold_prior_counts_its_training_rows_and_keeps_mass_for_unseen_classes():
    from mibounds.estimation.discrete import training_log_prior

    codes = np.array([0] * 8 + [1] * 8 + [2] * 4)
    plan = fold_plan(len(codes), 5, np.random.default_rng(0))
    prior = training_log_prior(codes, plan, 4)  # class 3 has no rows at all
    for m in range(5):
        counts = np.bincount(codes[plan.training(m)], minlength=4)
        np.testing.assert_allclose(np.exp(prior[m]), (counts + 0.5) / (counts.sum() + 2))
    assert np.isfinite(prior).all()


def test_independent_labels_of_many_classes_beside_features_give_no_dependence():
    # ~1,000 classes in 2,000 rows: the classifier's prior used the held-out labels and the
    # Miller-Madow term was added to every row: 0.214 [0.214, 0.214], lower bound 0.214.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 1000, 2000).astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mibounds.estimate(rng.normal(size=(2000, 2)), y, random_state=0, max_steps=200, progress=False)
    assert result.method == "barber-agakov"
    assert result.lower_bound <= 0.01 and result.ci_low <= 0 <= result.ci_high
    assert abs(result.estimate) < 0.02


@pytest.mark.slow
def test_barber_agakov_interval_covers_the_quadrature_value_in_nine_of_ten_seeds():
    task = ClassConditionalGaussian.spaced(num_classes=4, separation=1.5, dim=2)
    covered = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(10):
            x, y = task.sample(5000, seed=seed, dtype=torch.float64)
            result = mibounds.estimate(x.numpy(), y.numpy(), random_state=seed, progress=False)
            assert result.estimate <= result.ceiling
            covered += result.ci_low <= task.mutual_information <= result.ci_high
    assert covered >= 9, covered
