"""estimate() and MIEstimator: contracts, repeatability, warnings and refusals (fast settings)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mibounds
from mibounds.estimation import MIEstimator, estimate
from mibounds.estimation.diagnostics import diagnose
from mibounds.estimation.heldout import HeldoutEstimate, HeldoutValues
from mibounds.estimation.training import TrainingOutcome
from mibounds.estimation.uncertainty import Interval
from mibounds.validation import MIBoundsWarning

from .conftest import FAST


def test_result_fields_and_cross_fitted_sizes(pair):
    x, y = pair
    result = estimate(x, y, **FAST)
    assert (result.n, result.num_folds, result.batch_size) == (1000, 5, 128)
    assert result.ci_low < result.estimate < result.ci_high
    assert result.method == "log-ratio" and result.bound == "js" and result.critic == "gaussian+mixture"
    assert result.device == "cpu" and result.ceiling is None
    assert result.steps == 20 and result.history["step"] == [0, 10, 20]
    # Blocks of the 200-row folds: the certified lower bound can never exceed log 200.
    assert result.lower_bound_ceiling == pytest.approx(math.log(200))
    assert result.lower_bound < result.lower_bound_value <= result.lower_bound_ceiling
    assert mibounds.estimate is estimate and mibounds.EstimateResult is type(result)


def test_estimate_is_the_held_out_mean_log_ratio_with_the_cross_fitted_interval(pair):
    from mibounds.estimation.heldout import evaluate
    from mibounds.estimation.uncertainty import crossfit_interval, one_sided_lower

    x, y = pair
    est = MIEstimator(**FAST).fit(x, y)
    result = est.result_
    xt = torch.as_tensor(est.x_scaler_(x), dtype=torch.float32)
    yt = torch.as_tensor(est.y_scaler_(y), dtype=torch.float32)
    held = evaluate(est.model_, xt, yt, est.plan_, result.batch_size)
    # Row i's value comes from the critic of its own fold, which never trained on it.
    for m in range(5):
        rows = est.plan_.evaluation(m)
        member = est.model_.member(m)
        with torch.no_grad():
            diagonal = member(xt[rows[:50]], yt[rows[:50]]).diagonal().double().numpy()
        np.testing.assert_allclose(held.log_ratio[held.log_ratio_fold == m][:50], diagonal, rtol=1e-5, atol=1e-6)
    # The Gaussian critic's fitting penalty dx dy / (2 n_fit) is added to the held-out values
    # (and taken from the training-row values it would inflate).
    n_fit = min(len(est.plan_.training(m)) + len(est.plan_.validation(m)) for m in range(5))
    c = x.shape[1] * y.shape[1] / (2 * n_fit)
    assert result.bias_correction == pytest.approx(c)
    plain = crossfit_interval(held.log_ratio, held.log_ratio_fold)
    assert result.estimate == pytest.approx(held.log_ratio.mean() + c, abs=1e-9)
    assert result.generalization_gap == pytest.approx(held.train_log_ratio - held.log_ratio.mean() - 2 * c, abs=1e-9)
    assert result.ci_low == pytest.approx(plain.low + c, abs=1e-9)
    assert result.ci_high == pytest.approx(plain.high + c + max(result.generalization_gap, 0) / 2, abs=1e-9)
    certified = crossfit_interval(held.infonce, held.log_ratio_fold)
    assert result.lower_bound == pytest.approx(one_sided_lower(certified), abs=1e-9)


def test_gaussian_critic_alone_recovers_a_gaussian_mi_within_monte_carlo_error():
    # The Gaussian critic is the optimal critic of Gaussian data: no training, and the held-out
    # mean log ratio is within its standard error of the closed form (plus the fit's O(d^2/n) bias).
    task = mibounds.tasks.Gaussian(dim=3, mi=2.0)
    x, y = task.sample(20_000, seed=3)
    result = estimate(x, y, critic=None, progress=False, random_state=0)
    assert result.critic == "gaussian" and result.steps == 0
    assert abs(result.estimate - 2.0) < 4 * result.stderr + 9 / 16_000
    assert result.ci_low <= 2.0 <= result.ci_high and result.lower_bound < 2.0
    assert result.gaussian_mi == pytest.approx(2.0, abs=0.05)


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
    assert est.ci_ == (est.result_.ci_low, est.result_.ci_high) and est.lower_bound_ == est.result_.lower_bound
    assert (est.n_features_x_, est.n_features_y_) == (2, 2)
    assert isinstance(est.model_, nn.Module) and not est.model_.training and est.plan_.num_folds == 5
    assert repr(est).startswith("MIEstimator(bound='infonce', max_steps=10")
    with pytest.raises(ValueError, match="unknown parameter 'max_step'. Did you mean 'max_steps'"):
        est.set_params(max_step=3)


def test_a_user_critic_module_is_copied_not_changed(pair):
    critic = mibounds.critics.BilinearCritic(2, 2)
    before = critic.weight.detach().clone()
    result = estimate(*pair, critic=critic, **{k: v for k, v in FAST.items() if k != "critic_kwargs"})
    assert result.critic == "gaussian+BilinearCritic"
    assert torch.equal(critic.weight, before)


def test_bounds_with_a_baseline_or_state_train(pair):
    for bound in ("tuba", "mine", "interpolated"):
        # These critics are not log ratios: the estimate is the bound's value on held-out batches.
        result = estimate(*pair, bound=bound, batch_size=20, **FAST)
        assert math.isfinite(result.estimate) and result.bound == bound and result.method == "bound"


# --- refusals: one message each ----------------------------------------------------------------


def test_unknown_bound_and_critic_list_the_valid_names(pair):
    with pytest.raises(
        ValueError, match=r"unknown bound 'infonse'. Did you mean 'infonce'\? Valid bounds: dv, infonce"
    ):
        estimate(*pair, bound="infonse", **FAST)
    with pytest.raises(
        ValueError,
        match=r"unknown critic 'seperable'. Did you mean 'separable'\? Valid critics: bilinear, concat, mixture, separable",
    ):
        estimate(*pair, critic="seperable", max_steps=2, progress=False)


def test_structured_bounds_are_refused_with_the_usable_ones(pair):
    with pytest.raises(ValueError, match="bound 'club' cannot train a critic from samples .* choose one of: tuba, nwj"):
        estimate(*pair, bound="club", **FAST)


def test_batch_size_larger_than_a_fold(pair):
    with pytest.raises(
        ValueError,
        match=r"batch_size 700 is larger than a fold \(200 rows with num_folds = 5\); pass batch_size=200 or less \(or leave it None to choose\)$",
    ):
        estimate(*pair, batch_size=700, **FAST)


def test_too_few_rows_for_the_folds(pair):
    x, y = pair
    with pytest.raises(
        ValueError, match="too few rows: 30 rows give folds of 6 with num_folds = 5, .* pass at least 40 rows"
    ):
        estimate(x[:30], y[:30], **FAST)
    with pytest.raises(ValueError, match="num_folds must be a whole number >= 3, got 2"):
        estimate(x, y, num_folds=2, **FAST)
    with pytest.raises(ValueError, match="critic=None leaves nothing to estimate with"):
        estimate(x, y, critic=None, gaussian=False, **FAST)


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
    with pytest.warns(MIBoundsWarning, match=r"pinned at log K = 2.079 .* use the default bound \(js\)"):
        result = estimate(
            x,
            y,
            bound="infonce",
            critic="bilinear",
            batch_size=8,
            max_steps=200,
            learning_rate=0.05,
            progress=False,
            random_state=0,
        )
    assert result.ceiling == pytest.approx(math.log(8)) and result.estimate <= result.ceiling + 1e-6  # float32 scores


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


@pytest.mark.parametrize(
    ("bound", "best", "fix"),
    [
        ("infonce", 10, r"use a smaller learning_rate \(e\.g\. a tenth of this one\)$"),
        (
            "nwj",
            0,
            r"use a smaller learning_rate, or bound='js' \(the default\), whose objective stays finite where nwj's does not$",
        ),
    ],
)
def test_divergence_stops_restores_the_best_weights_and_warns_with_one_fix(pair, bound, best, fix):
    x, y = pair
    with pytest.warns(
        MIBoundsWarning,
        match=r"training diverged \(NaN/inf loss, weights or optimizer state\) by step 20; "
        rf"stopped and restored the weights of step {best}: " + fix,
    ):
        result = estimate(
            x,
            y,
            critic=_Exploding(),
            bound=bound,
            max_steps=100,
            eval_every=10,
            learning_rate=0.05,
            batch_size=20,
            progress=False,
            random_state=0,
        )
    assert result.stopped == "diverged" and result.best_step == best
    assert math.isfinite(result.estimate)


def _held(batches: int) -> HeldoutValues:
    zeros = np.zeros(4)
    return HeldoutValues(None, zeros.astype(int), zeros, math.log(200), np.zeros(batches), None, 0.0)


def test_diagnose_negative_few_batches_cap_and_undertraining():
    outcome = TrainingOutcome(
        steps=100, best_step=100, best_value=0.0, stopped="max_steps", history={"step": [0, 50, 100]}
    )
    negative = Interval(-0.2, 0.05, -0.3, -0.1, 0.95, 5)
    certified = Interval(0.0, 0.01, -0.02, 0.02, 0.95, 5)
    notes = diagnose(HeldoutEstimate(_held(4), negative, "bound", certified), outcome, batch_size=16, bound="nwj")
    assert notes[0].startswith("training stopped at max_steps = 100 while the validation objective was still improving")
    assert notes[1].startswith("the estimate is below 0 with its whole interval (-0.200 nats, upper end -0.100)")
    assert notes[2].startswith("only 4 held-out batches of 16 rows: too few samples for this batch size")
    high = Interval(6.0, 0.05, 5.9, 6.1, 0.95, 5)
    capped = diagnose(
        HeldoutEstimate(_held(40), high, "log-ratio", certified),
        dataclasses.replace(outcome, stopped="early_stopping"),
        batch_size=128,
        bound="js",
    )
    assert (
        capped == [capped[0]]
        and "near or above the most that held-out blocks of these rows can certify (log 200 = 5.298" in capped[0]
    )
    quiet = dataclasses.replace(outcome, stopped="early_stopping", best_step=0)
    fine = Interval(0.5, 0.05, 0.4, 0.6, 0.95, 5)
    fine_held = HeldoutEstimate(_held(40), fine, "log-ratio", certified)
    (gaussian_only,) = diagnose(fine_held, quiet, batch_size=128, bound="js", gaussian_only_z=-21.5)
    assert gaussian_only.startswith("the rows are not jointly Gaussian after normal scores (Mardia kurtosis z = -21.5)")
    assert diagnose(fine_held, quiet, batch_size=128, bound="js", gaussian_only_z=1.5) == []
    # Stopping at max_steps before the patience ran out is reported even when the best check was
    # not among the last two: the critics may still improve.
    (undertrained,) = diagnose(
        HeldoutEstimate(_held(31), fine, "bound", certified, ceiling=math.log(128)),
        dataclasses.replace(outcome, best_step=0),
        batch_size=128,
        bound="infonce",
    )
    assert undertrained.startswith(
        "training stopped at max_steps = 100 before its patience ran out (best check at step 0)"
    )
    assert (
        diagnose(
            HeldoutEstimate(_held(31), fine, "bound", certified, ceiling=math.log(128)),
            dataclasses.replace(outcome, best_step=0, stopped="early_stopping"),
            batch_size=128,
            bound="infonce",
        )
        == []
    )


def test_warnings_are_issued_as_well_as_recorded(pair):
    x, y = pair
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimate(
            x, np.random.default_rng(5).normal(size=y.shape), **{**FAST, "bound": "dv", "batch_size": 150}
        )
    issued = [str(w.message) for w in caught if issubclass(w.category, MIBoundsWarning)]
    assert issued == result.warnings and any("only" in w and "held-out batches of 150 rows" in w for w in issued)


def test_the_gaussian_critic_alone_on_non_gaussian_rows_is_flagged():
    from mibounds.estimation.diagnostics import kurtosis_z

    rng = np.random.default_rng(0)
    assert abs(kurtosis_z(rng.normal(size=(4000, 6)))) < 4
    x = rng.uniform(size=(4000, 2))
    y = (x @ np.array([[1.0, 1.0], [1.0, -1.0]])) + 0.3 * rng.uniform(size=(4000, 2))  # sums of uniforms
    with pytest.warns(MIBoundsWarning, match="not jointly Gaussian after normal scores") as caught:
        estimate(x, y, critic=None, progress=False, random_state=0)
    # Nothing was trained: the warning names the choice, not learned critics that never learned.
    message = next(str(w.message) for w in caught if "not jointly Gaussian" in str(w.message))
    assert "the Gaussian critic alone was asked for (critic=None)" in message and "learned critics" not in message


def test_the_kurtosis_test_holds_its_level_with_many_columns():
    # E b2 = p (p + 2) (n - 1) / (n + 1) for Gaussian rows: against p (p + 2) alone, z sat near -7
    # at p = 1,000, n = 10,000 and flagged every wide Gaussian as not jointly Gaussian.
    from mibounds.estimation.diagnostics import kurtosis_z

    rng = np.random.default_rng(1)
    values = [kurtosis_z(rng.normal(size=(5000, 500))) for _ in range(4)]
    assert all(abs(z) < 4 for z in values), values


def test_patience_is_longer_when_the_normal_scores_are_not_jointly_gaussian(pair):
    from mibounds.estimation.settings import DEFAULT_PATIENCE, NON_GAUSSIAN_PATIENCE

    x, y = pair
    settings = {**FAST, "max_steps": 200}
    gaussian = estimate(x, y, **settings)
    assert gaussian.patience == DEFAULT_PATIENCE
    # Uniform x and sums of uniforms for y: the normal scores are jointly platykurtic (z << -4).
    rng = np.random.default_rng(0)
    u = rng.uniform(size=(1000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIBoundsWarning)
        flat = estimate(u, u @ np.array([[1.0, 1.0], [1.0, -1.0]]) + 0.3 * rng.uniform(size=(1000, 2)), **settings)
    # The long patience holds until a check beats the Gaussian critic beyond its noise; then the
    # run waits as long again as its best took (at least the short patience): eval_every is 10 here.
    learned = min(NON_GAUSSIAN_PATIENCE, max(DEFAULT_PATIENCE, -(-flat.best_step // 10)))
    assert flat.patience in {NON_GAUSSIAN_PATIENCE, learned if flat.best_step else NON_GAUSSIAN_PATIENCE}
    assert flat.stopped == "max_steps" or flat.steps - flat.best_step == flat.patience * 10
    assert gaussian.stopped == "max_steps" or gaussian.steps - gaussian.best_step == DEFAULT_PATIENCE * 10
    assert estimate(x, y, **{**settings, "patience": 3}).patience == 3  # a setting is kept as given
    assert "patience 5" in gaussian.summary()
    # Too few rows a column for Mardia's test: it is skipped, and the short patience kept.
    wide = estimate(u[:100], np.repeat(u[:100], 5, axis=1) + rng.uniform(size=(100, 10)), **settings)
    assert wide.patience == DEFAULT_PATIENCE


def test_standardize_options(pair):
    x, y = pair
    # The default normal scores barely see an increasing map of x (only within-gap interpolation).
    assert estimate(x**3, y, **FAST).estimate == pytest.approx(estimate(x, y, **FAST).estimate, abs=1e-3)
    for option in ("zscore", False):
        assert math.isfinite(estimate(x, y, standardize=option, **FAST).estimate)
    with pytest.raises(
        ValueError, match="standardize must be True \\(or 'quantile'\\), 'zscore' or False, got 'minmax'"
    ):
        estimate(x, y, standardize="minmax", **FAST)


def test_estimate_and_the_estimator_take_the_same_parameters_with_the_same_defaults():
    import inspect

    function = {
        name: p.default for name, p in inspect.signature(estimate).parameters.items() if name not in ("x", "y", "z")
    }
    method = {
        name: p.default for name, p in inspect.signature(MIEstimator.__init__).parameters.items() if name != "self"
    }
    assert function == method and list(function) == list(method)


def test_more_columns_than_rows_per_fold_is_refused_or_left_to_the_learned_critic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 50)), rng.normal(size=(100, 50))  # 80 fit rows for 100 columns
    with pytest.raises(
        ValueError,
        match=r"the Gaussian critic fits the covariance of 50 \+ 50 columns from 80 rows per fold, "
        r"which is singular: pass more than 127 rows",
    ):
        estimate(x, y, **{**FAST, "critic": None})  # the Gaussian critic alone: nothing else to fall back on
    with pytest.warns(MIBoundsWarning, match="the Gaussian critic was left out: with 50 x 50 columns and 80 rows"):
        result = estimate(x, y, **FAST)  # no canonical pair covers its penalty: the learned critic alone
    assert result.critic == "mixture" and result.bias_correction == 0.0


def test_a_large_gaussian_fit_correction_is_named():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 20))
    y = x + rng.normal(size=(600, 20))
    with pytest.warns(
        MIBoundsWarning, match=r"the Gaussian critic fits 20 x 20 cross-covariances from 480 rows per fold"
    ):
        result = estimate(x, y, **FAST)
    assert result.bias_correction == pytest.approx(400 / 960)


def test_wide_rows_keep_the_canonical_pairs_that_held_out_rows_support():
    # 60 + 60 columns, 1,200 rows a fold: the full Gaussian fit estimates 3,600 cross-covariances
    # and scored 1.26 [1.08, 1.70] here (lower bound -0.24) where 2 pairs carry 1.661 nats.
    rng = np.random.default_rng(0)
    n, d, rho = 1500, 60, 0.9
    x, noise = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    y = noise.copy()
    y[:, :2] = rho * x[:, :2] + np.sqrt(1 - rho**2) * noise[:, :2]
    truth = -np.log(1 - rho**2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimate(x, y, critic=None, progress=False, random_state=0)
    assert result.ci_low <= truth <= result.ci_high and result.lower_bound <= truth
    assert abs(result.estimate - truth) < 0.1, result.estimate
    issued = [str(w.message) for w in caught]
    assert any(m.startswith("the Gaussian critic keeps 2 of 60 canonical pairs") for m in issued), issued
    assert not any("max_steps" in m or "not jointly Gaussian" in m for m in issued), issued
    assert result.stopped == "no_parameters"


def test_wide_independent_rows_leave_the_gaussian_critic_out():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(600, 40)), rng.normal(size=(600, 40))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = estimate(x, y, **FAST)
    assert result.critic == "mixture" and result.gaussian_mi is None
    assert any("no canonical pair's held-out log ratio covered its fitting penalty" in str(w.message) for w in caught)
    assert result.ci_low <= 0.05 and result.estimate < 0.2  # no confident dependence from noise
