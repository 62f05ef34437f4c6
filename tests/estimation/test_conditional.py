"""conditional_estimate(x, y, z): the chain rule on shared folds against Gaussian conditional MI in closed form."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import mibounds
from mibounds.estimation import (
    ConditionalEstimateResult,
    MIEstimator,
    conditional_estimate,
)
from mibounds.tasks import ConditionalGaussian

FAST = {"max_steps": 50, "progress": False}


def _sample(task: ConditionalGaussian, n: int, seed: int):
    return [t.numpy() for t in task.sample(n, seed=seed, dtype=torch.float64)]


def test_the_estimate_is_the_mean_per_row_difference_of_the_two_terms():
    x, y, z = _sample(ConditionalGaussian.confounded(dim=2, cmi=0.5), 1000, 0)
    result = conditional_estimate(x, y, z, random_state=0, **FAST)
    assert isinstance(result, ConditionalEstimateResult)
    joint = MIEstimator(random_state=0, **FAST).fit(x, np.hstack([y, z]))
    marginal = MIEstimator(random_state=0, **FAST).fit(x, z)
    difference = joint.heldout_.log_ratio - marginal.heldout_.log_ratio
    assert result.estimate == pytest.approx(difference.mean(), abs=1e-12)
    assert result.joint.estimate == pytest.approx(joint.estimate_) and result.marginal.estimate == pytest.approx(
        marginal.estimate_
    )
    assert result.estimate == pytest.approx(result.joint.estimate - result.marginal.estimate, abs=1e-9)


@pytest.mark.parametrize("cmi", [0.0, 1.0])
def test_gaussian_critic_covers_the_closed_form(cmi):
    # The Gaussian critic alone is the plug-in Gaussian conditional MI: its interval must hold the truth.
    task = ConditionalGaussian.confounded(dim=2, cmi=cmi)
    x, y, z = _sample(task, 4000, 1)
    result = mibounds.conditional_estimate(x, y, z, critic=None, random_state=0, progress=False)
    assert result.ci_low <= task.conditional_mutual_information <= result.ci_high, result


def test_output_for_people_and_json():
    x, y, z = _sample(ConditionalGaussian.collider(dim=1), 600, 2)
    result = mibounds.conditional_estimate(x, y, z, random_state=0, **FAST)
    assert str(result).startswith("I(X;Y|Z) = ") and "I(X;Y,Z) = " in str(result)
    fields = json.loads(json.dumps(result.to_dict()))
    assert {"estimate", "ci_low", "ci_high", "joint", "marginal"} <= set(fields)
    assert "history" not in fields["joint"] and fields["joint"]["n"] == 600


def test_bad_inputs_are_named():
    x = np.random.default_rng(0).normal(size=(300, 2))
    with pytest.raises(
        ValueError,
        match="z has 299 rows but x and y have 300; pass one row of z per row of x and y",
    ):
        mibounds.conditional_estimate(x, x, x[:-1], **FAST)
    with pytest.raises(
        ValueError,
        match="conditional MI needs a bound whose optimal critic is the log density ratio",
    ):
        mibounds.conditional_estimate(x, x + 1, x, bound="infonce", **FAST)


def test_nan_in_z_is_blamed_on_z():
    rng = np.random.default_rng(0)
    x, y, z = rng.normal(size=(300, 1)), rng.normal(size=(300, 1)), rng.normal(size=(300, 2))
    z[5, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"^z has NaN or inf values in 1 row \(0-based: 5\); drop or impute those rows in x, y and z$"
    ):
        mibounds.conditional_estimate(x, y, z, **FAST)


def test_categorical_sides_are_refused_with_the_fix():
    rng = np.random.default_rng(0)
    x, y, z = rng.normal(size=(300, 1)), rng.normal(size=(300, 1)), rng.integers(0, 2, (300, 1))
    with pytest.raises(ValueError, match="conditional MI needs numbers, but discrete='x' makes a side categorical"):
        mibounds.conditional_estimate(x, y, x + y, discrete="x", **FAST)
    with pytest.raises(ValueError, match="z holds only a few distinct whole numbers.*pass discrete='none'"):
        mibounds.conditional_estimate(x, y, z, **FAST)
    result = mibounds.conditional_estimate(x, y, z, discrete="none", random_state=0, **FAST)
    assert result.n == 300


@pytest.mark.slow
def test_default_estimator_across_levels_at_five_dimensions_per_variable():
    # Issue acceptance: mean |error| <= 0.1 nats from 0 to 3 nats, d = 5 per variable, n = 10,000.
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for level in (0.0, 0.5, 1.0, 2.0, 3.0):
            task = ConditionalGaussian.confounded(dim=5, cmi=level)
            x, y, z = _sample(task, 10_000, 0)
            errors.append(mibounds.conditional_estimate(x, y, z, random_state=0, progress=False).estimate - level)
    assert np.mean(np.abs(errors)) <= 0.1, errors


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "sign"),
    [
        (ConditionalGaussian.collider(dim=5), 1),  # I(X; Y | Z) > I(X; Y) = 0
        (
            ConditionalGaussian.confounded(dim=5, cmi=0.0),
            -1,
        ),  # I(X; Y | Z) = 0 < I(X; Y)
    ],
)
def test_collider_and_common_cause_give_the_sign_of_the_difference_in_every_seed(task, sign):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(5):
            x, y, z = _sample(task, 10_000, seed)
            conditional = mibounds.conditional_estimate(x, y, z, random_state=seed, progress=False).estimate
            marginal = mibounds.estimate(x, y, random_state=seed, progress=False).estimate
            assert np.sign(conditional - marginal) == sign, (
                seed,
                conditional,
                marginal,
            )


def test_estimate_refuses_z_and_names_conditional_estimate():
    x = np.random.default_rng(0).normal(size=(300, 2))
    for call in (lambda: mibounds.estimate(x, x, x, **FAST), lambda: mibounds.estimate(x, x, z=x, **FAST)):
        with pytest.raises(TypeError, match=r"estimate\(\) takes no z: .* call mibounds.conditional_estimate"):
            call()
