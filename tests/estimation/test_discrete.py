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
