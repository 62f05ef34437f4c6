"""estimate() and MIEstimator: contracts, repeatability, warnings and refusals (fast settings)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mibounds
from mibounds.estimation import MIEstimator, estimate
from mibounds.estimation.estimator import _diagnose
from mibounds.estimation.training import TrainingOutcome
from mibounds.validation import MIBoundsWarning

from .conftest import FAST


def test_result_fields_and_held_out_sizes(pair):
    x, y = pair
    result = estimate(x, y, **FAST)
    assert (result.n_train, result.n_validation, result.n_test) == (600, 200, 200)
    # 1000 rows -> test split 200 -> automatic K = 200 // 10 = 20, all 10 batches used.
    assert (result.batch_size, result.num_test_batches) == (20, 10)
    assert result.ci_low < result.estimate < result.ci_high
    assert result.bound == "smile" and result.critic == "separable" and result.device == "cpu"
    assert result.steps == 20 and result.history["step"] == [10, 20]
    assert mibounds.estimate is estimate and mibounds.EstimateResult is type(result)


def test_interval_is_test_noise_plus_half_the_generalization_gap(pair):
    from mibounds.estimation.splits import split_indices, split_sizes
    from mibounds.estimation.training import batch_values
    from mibounds.estimation.uncertainty import batch_means_interval

    x, y = pair
    est = MIEstimator(**FAST).fit(x, y)
    result = est.result_
    split = split_indices(len(x), split_sizes(len(x), 0.2, 0.2), np.random.default_rng(result.random_state))

    def values(rows):
        return batch_values(est.objective_, torch.as_tensor(est.x_scaler_(x[rows]), dtype=torch.float32),
                            torch.as_tensor(est.y_scaler_(y[rows]), dtype=torch.float32), result.batch_size)

    test, train = values(split.test), values(split.train[: len(split.test)])
    plain = batch_means_interval(test)
    assert result.estimate == pytest.approx(plain.estimate, abs=1e-9)
    assert result.generalization_gap == pytest.approx(train.mean() - test.mean(), abs=1e-9)
    assert result.ci_low == pytest.approx(plain.low, abs=1e-9)
    assert result.ci_high == pytest.approx(plain.high + max(result.generalization_gap, 0) / 2, abs=1e-9)


def test_same_seed_same_result_and_any_input_type(pair):
    x, y = pair
    first = estimate(x, y, **FAST)
    again = estimate(torch.tensor(x), pd.DataFrame(y), **FAST)
    assert first.estimate == again.estimate and first.history == again.history
    other = estimate(x, y, **{**FAST, "random_state": 1})
    assert other.estimate != first.estimate


def test_global_rng_is_left_alone(pair):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    estimate(*pair, **FAST)
    assert torch.rand(1) == expected


def test_random_state_none_is_recorded_and_repeats(pair):
    result = estimate(*pair, **{**FAST, "random_state": None})
    again = estimate(*pair, **{**FAST, "random_state": result.random_state})
    assert again.estimate == result.estimate


def test_sklearn_contract(pair):
    sklearn_base = pytest.importorskip("sklearn.base")  # the 'examples' extra; CI installs it
    est = MIEstimator(bound="infonce", max_steps=20, critic_kwargs={"hidden_dim": 8})
    assert est.get_params()["bound"] == "infonce" and not hasattr(est, "result_")
    clone = sklearn_base.clone(est)
    assert clone.get_params() == est.get_params() and clone is not est
    assert est.set_params(max_steps=10, random_state=0, progress=False, eval_every=5) is est
    assert est.fit(*pair) is est
    assert est.result_.steps == 10 and est.estimate_ == est.result_.estimate
    assert est.ci_ == (est.result_.ci_low, est.result_.ci_high)
    assert (est.n_features_x_, est.n_features_y_) == (2, 2)
    assert isinstance(est.critic_, nn.Module) and not est.critic_.training
    assert repr(est).startswith("MIEstimator(bound='infonce', max_steps=10")
    with pytest.raises(ValueError, match="unknown parameter 'max_step'. Did you mean 'max_steps'"):
        est.set_params(max_step=3)


def test_a_user_critic_module_is_copied_not_changed(pair):
    critic = mibounds.critics.BilinearCritic(2, 2)
    before = critic.weight.detach().clone()
    result = estimate(*pair, critic=critic, **{k: v for k, v in FAST.items() if k != "critic_kwargs"})
    assert result.critic == "BilinearCritic"
    assert torch.equal(critic.weight, before)


def test_bounds_with_a_baseline_or_state_train(pair):
    for bound in ("tuba", "mine", "interpolated"):
        result = estimate(*pair, bound=bound, **FAST)
        assert math.isfinite(result.estimate) and result.bound == bound


# --- refusals: one message each ----------------------------------------------------------------


def test_unknown_bound_and_critic_list_the_valid_names(pair):
    with pytest.raises(ValueError, match=r"unknown bound 'infonse'. Did you mean 'infonce'\? Valid bounds: dv, infonce"):
        estimate(*pair, bound="infonse", **FAST)
    with pytest.raises(ValueError, match=r"unknown critic 'seperable'. Did you mean 'separable'\? Valid critics: bilinear, concat, separable"):
        estimate(*pair, critic="seperable", max_steps=2, progress=False)


def test_structured_bounds_are_refused_with_the_usable_ones(pair):
    with pytest.raises(ValueError, match="bound 'club' cannot train a critic from samples .* choose one of: tuba, nwj"):
        estimate(*pair, bound="club", **FAST)


def test_batch_size_larger_than_the_training_split(pair):
    with pytest.raises(ValueError, match=r"batch_size 700 is larger than the training split \(600 of 1000 rows\)"):
        estimate(*pair, batch_size=700, **FAST)


def test_too_few_rows_for_the_split_and_batch_size(pair):
    x, y = pair
    with pytest.raises(ValueError, match="too few rows for the split and batch size: 60 rows give a test split of 12, fewer than 2 batches of 8"):
        estimate(x[:60], y[:60], **FAST)


def test_input_errors_reach_the_caller(pair):
    x, y = pair
    with pytest.raises(ValueError, match="x has 1000 rows but y has 999"):
        estimate(x, y[:-1], **FAST)
    x = x.copy()
    x[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"x has NaN or inf values in 1 row \(0-based: 5\)"):
        estimate(x, y, **FAST)
    with pytest.raises(ValueError, match="max_steps must be a whole number >= 1, got 0"):
        estimate(*pair, **{**FAST, "max_steps": 0})


# --- warnings ---------------------------------------------------------------------------------


def test_constant_columns_warn(pair):
    x, y = pair
    x = np.column_stack([x, np.full(len(x), 3.0)])
    with pytest.warns(MIBoundsWarning, match=r"x has constant columns 'x\[2\]': they carry no information; drop them"):
        result = estimate(x, y, **FAST)
    assert any("constant" in w for w in result.warnings)


def test_infonce_near_log_k_is_reported_as_pinned():
    # y = x + tiny noise has MI far above log 8, so InfoNCE at K = 8 is pinned at its ceiling.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 10))
    y = x + 0.01 * rng.normal(size=x.shape)
    with pytest.warns(MIBoundsWarning, match=r"pinned at log K = 2.079 .* use a larger batch or another bound"):
        result = estimate(x, y, bound="infonce", critic="bilinear", batch_size=8, max_steps=200,
                          learning_rate=0.05, progress=False, random_state=0)
    assert result.ceiling == pytest.approx(math.log(8)) and result.estimate <= result.ceiling


class _Exploding(nn.Module):
    """A bilinear-like critic whose training scores turn to inf from its 16th training batch on."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.1))
        self.training_calls = 0

    def forward(self, x, y):
        scores = self.scale * (x @ y.T)
        if self.training:
            self.training_calls += 1
            if self.training_calls > 15:
                return scores + math.inf
        return scores


def test_divergence_stops_restores_the_best_weights_and_warns(pair):
    x, y = pair
    with pytest.warns(MIBoundsWarning, match=r"training diverged \(NaN/inf loss, weights or optimizer state\) by step 20; "
                      r"stopped and restored the weights of step 10"):
        result = estimate(x, y, critic=_Exploding(), bound="infonce", max_steps=100, eval_every=10,
                          learning_rate=0.05, progress=False, random_state=0)
    assert result.stopped == "diverged" and result.best_step == 10
    assert math.isfinite(result.estimate)


def test_diagnose_negative_and_few_batches():
    outcome = TrainingOutcome(steps=100, best_step=100, best_value=0.0, stopped="max_steps")
    notes = _diagnose(-0.05, None, outcome, num_test_batches=4, batch_size=16, bound="nwj")
    assert notes[0].startswith("the estimate is negative (-0.050 nats) while MI is >= 0")
    assert notes[1].startswith("only 4 test batches of 16 rows: too few samples for this batch size")
    assert _diagnose(0.5, math.log(128), outcome, 31, 128, "infonce") == []


def test_warnings_are_issued_as_well_as_recorded(pair):
    x, y = pair
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimate(x, np.random.default_rng(5).normal(size=y.shape), **{**FAST, "batch_size": 50})
    issued = [str(w.message) for w in caught if issubclass(w.category, MIBoundsWarning)]
    assert issued == result.warnings and any("only 4 test batches" in w for w in issued)


def test_standardize_options(pair):
    x, y = pair
    # The default normal scores barely see an increasing map of x (only within-gap interpolation).
    assert estimate(x**3, y, **FAST).estimate == pytest.approx(estimate(x, y, **FAST).estimate, abs=1e-3)
    for option in ("zscore", False):
        assert math.isfinite(estimate(x, y, standardize=option, **FAST).estimate)
    with pytest.raises(ValueError, match="standardize must be True \\(or 'quantile'\\), 'zscore' or False, got 'minmax'"):
        estimate(x, y, standardize="minmax", **FAST)
