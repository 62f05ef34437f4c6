"""The checks of the critic's model that hold for any critic: normalization, DV, InfoNCE (model_check)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mibounds
from mibounds import bounds, critics, tasks
from mibounds.estimation.fold_critics import gaussian_validation_values
from mibounds.estimation.heldout import evaluate, normalized_interval
from mibounds.estimation.model_check import MIN_EFFECTIVE_PAIRS, check_model
from mibounds.estimation.scaling import QuantileNormalizer
from mibounds.estimation.training import FoldCritic, MemberList, fold_plan
from mibounds.estimation.uncertainty import Interval, one_sided_lower

from .conftest import FAST

_ESTIMATE = Interval(2.0, 0.05, 1.9, 2.1, 0.95, 5)
_CERTIFIED = Interval(1.5, 0.05, 1.4, 1.6, 0.95, 5)


def test_a_mean_over_independent_pairs_above_one_over_alpha_widens_the_interval_down_to_the_lower_bound():
    # Markov: a density ratio's mean over q-samples exceeds 1 / alpha = 20 with probability <= alpha.
    below = check_model(_ESTIMATE, _CERTIFIED, None, log_normalizer=math.log(19.9), effective_pairs=1.0)
    assert not below.unnormalized and below.interval == _ESTIMATE
    above = check_model(_ESTIMATE, _CERTIFIED, None, log_normalizer=math.log(20.1), effective_pairs=1.0)
    assert above.unnormalized and above.interval.high == 2.1
    assert above.interval.low == one_sided_lower(_CERTIFIED)  # the certified bound's one-sided limit


def test_a_reliable_dv_value_above_the_interval_raises_its_upper_end():
    dv = Interval(2.5, 0.05, 2.4, 2.6, 0.95, 5)
    trusted = check_model(_ESTIMATE, _CERTIFIED, dv, log_normalizer=-0.5, effective_pairs=MIN_EFFECTIVE_PAIRS)
    assert trusted.below_dv and trusted.interval.high == 2.6 and trusted.interval.low == 1.9
    # Few effective pairs: the log-mean over them is unreliable (heavy tails), so nothing is concluded.
    few = check_model(_ESTIMATE, _CERTIFIED, dv, log_normalizer=-0.5, effective_pairs=MIN_EFFECTIVE_PAIRS - 1)
    assert not few.below_dv and few.interval == _ESTIMATE


def test_a_reliable_mean_over_independent_pairs_above_one_lowers_the_interval_to_the_dv_interval():
    # E_p log r_hat <= I + log Z_hat for any critic: the DV interval's lower end is the honest one.
    dv = Interval(1.6, 0.05, 1.5, 1.7, 0.95, 5)
    lowered = check_model(_ESTIMATE, _CERTIFIED, dv, log_normalizer=0.4, effective_pairs=MIN_EFFECTIVE_PAIRS)
    assert lowered.overshoot and lowered.interval.low == 1.5 and lowered.interval.high == _ESTIMATE.high
    assert lowered.interval.estimate == _ESTIMATE.estimate  # the estimate itself is kept
    # Normalized (log Z <= 0), no DV value, or too few effective pairs to tell a lucky pair from a
    # model error: nothing changes.
    for log_z, given, pairs in (
        (0.0, dv, MIN_EFFECTIVE_PAIRS),
        (-0.3, dv, MIN_EFFECTIVE_PAIRS),
        (0.4, None, MIN_EFFECTIVE_PAIRS),
        (0.4, dv, MIN_EFFECTIVE_PAIRS - 1),
    ):
        kept = check_model(_ESTIMATE, _CERTIFIED, given, log_normalizer=log_z, effective_pairs=pairs)
        assert not kept.overshoot and kept.interval == _ESTIMATE
    # A DV interval whose lower end is above the estimate's lowers nothing.
    above = check_model(
        _ESTIMATE,
        _CERTIFIED,
        Interval(1.95, 0.01, 1.93, 1.97, 0.95, 5),
        log_normalizer=0.05,
        effective_pairs=MIN_EFFECTIVE_PAIRS,
    )
    assert above.overshoot and above.interval.low == _ESTIMATE.low


def test_a_certified_lower_bound_above_the_interval_raises_its_upper_end():
    certified = Interval(2.6, 0.02, 2.56, 2.64, 0.95, 5)
    check = check_model(_ESTIMATE, certified, None, log_normalizer=0.0, effective_pairs=10.0)
    assert check.below_certified and check.interval.high == 2.64


def test_the_exact_critic_is_normalized_on_held_out_independent_pairs():
    # With the Gaussian task's exact log ratio, E_q r = 1: the held-out log-mean is 0 within its
    # relative error 1 / sqrt(effective pairs), and the DV value is the plug-in value minus it.
    task = tasks.Gaussian(dim=2, mi=0.5)
    x, y = task.sample(3000, seed=0, dtype=torch.float64)
    plan = fold_plan(3000, 3, np.random.default_rng(0))
    exact = critics.ExactCritic(task).double()
    model = FoldCritic(MemberList([exact] * 3), None, [bounds.make("js") for _ in range(3)], None).double().eval()
    held = evaluate(model, x, y, plan, batch_size=100)
    assert held.log_normalizer is not None and held.normalizer_ess is not None
    for log_z, pairs in zip(held.log_normalizer, held.normalizer_ess, strict=True):
        assert abs(log_z) < 4 / math.sqrt(pairs) and pairs > 10_000
    dv = normalized_interval(held, 0.95)
    plug_in = [held.log_ratio[held.log_ratio_fold == m].mean() for m in range(3)]
    assert dv is not None and dv.estimate == pytest.approx(np.mean(plug_in) - held.log_normalizer.mean())


def test_labels_written_as_floats_are_read_as_labels_and_the_result_says_so():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000).astype(float)
    y = labels[:, None] + rng.normal(size=(2000, 1))
    result = mibounds.estimate(labels, y, **FAST)
    assert result.method == "barber-agakov"
    (note,) = [w for w in result.warnings if "read as class labels" in w]
    assert note.startswith("x holds only whole numbers") and "pass discrete='none'" in note
    as_numbers = mibounds.estimate(labels, y, **{**FAST, "discrete": "none"})
    assert as_numbers.method == "log-ratio" and not any("whole numbers" in w for w in as_numbers.warnings)


def test_a_column_of_few_whole_numbers_beside_numbers_gets_a_warning_that_names_discrete():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000).astype(float)
    x = np.column_stack([labels, rng.normal(size=2000)])
    result = mibounds.estimate(x, labels[:, None] + rng.normal(size=(2000, 1)), **FAST)
    (note,) = [w for w in result.warnings if "distinct whole numbers" in w]
    assert "x column 'x[0]' holds only 10 distinct whole numbers (0, 1, 2, 3, 4, ...)" in note
    assert "pass discrete='x'" in note


def test_a_lower_bound_at_or_below_zero_reads_no_dependence_certified():
    rng = np.random.default_rng(1)
    result = mibounds.estimate(rng.normal(size=(600, 2)), rng.normal(size=(600, 2)), **FAST)
    assert result.lower_bound <= 0
    assert "no dependence certified with 95% confidence" in result.summary()
    assert "at least" not in result.summary()


@pytest.mark.parametrize(("task_id", "rejected"), [("embed-d50(gaussian-d2-mi2)", True), ("gaussian-d20-mi8", False)])
def test_the_gaussian_critic_is_rejected_on_a_manifold_and_kept_on_gaussian_rows(task_id, rejected):
    # A density ratio averages 1 over independent pairs; Markov: above 1/alpha = 20 rejects it at 5 %.
    task = tasks.make(task_id)
    x, y = (
        torch.as_tensor(QuantileNormalizer.fit(v)(v), dtype=torch.float32)
        for v in map(np.asarray, task.sample(2000, seed=0))
    )
    log_z = gaussian_validation_values(x, y, fold_plan(2000, 5, np.random.default_rng(0))).pooled_log_normalizer
    assert (log_z > math.log(20)) is rejected


def test_the_estimator_leaves_a_rejected_gaussian_critic_out_and_says_so():
    x, y = (np.asarray(v) for v in tasks.make("embed-d50(gaussian-d2-mi2)").sample(2000, seed=0))
    result = mibounds.estimate(x, y, reduce="never", **FAST)  # reduced, its Gaussian critic is kept
    assert result.critic == "mixture" and result.gaussian_mi is None
    assert any(w.startswith("the Gaussian critic was left out") for w in result.warnings)
