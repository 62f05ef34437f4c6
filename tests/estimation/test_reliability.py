"""No confident absurd number: learning rates, input scales and deterministic relations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds import tasks
from mibounds.estimation import estimate

_TASK = tasks.Gaussian(dim=2, mi=1.0)
_X, _Y = (t.numpy().astype(np.float64) for t in _TASK.sample(1000, seed=0))
_QUICK = {
    "max_steps": 60,
    "eval_every": 20,
    "random_state": 0,
    "progress": False,
    "critic_kwargs": {"hidden_dim": 16, "embed_dim": 8},
}


@settings(max_examples=14, deadline=None)
@given(
    log_lr=st.floats(-5, 3),
    log_scale=st.sampled_from([-30, -12, 0, 12, 30]),
    standardize=st.sampled_from([True, "zscore", False]),
)
def test_an_estimate_off_by_more_than_a_nat_always_carries_a_warning(log_lr, log_scale, standardize):
    scale = 10.0**log_scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = estimate(_X * scale, _Y * scale, learning_rate=10.0**log_lr, standardize=standardize, **_QUICK)
        except ValueError as error:  # refused with the fix named, never a number
            assert standardize is False and "pass standardize=True" in str(error)
            return
    off = abs(result.estimate - 1.0) > 1.0 or (result.ceiling is not None and result.estimate > result.ceiling + 1e-6)
    assert math.isfinite(result.estimate) and (not off or result.warnings)


def test_learning_rates_that_wreck_the_critic_leave_the_early_stopped_estimate_sane():
    # learning_rate = 1 and 1000 gave 2,020 and 9.4e14 nats with the old default (smile).
    for rate in (1.0, 1000.0):
        result = estimate(_X, _Y, learning_rate=rate, **_QUICK)
        assert abs(result.estimate - 1.0) < 0.25 and result.ci_low <= 1.0 <= result.ci_high


def test_x_equal_to_y_is_reported_as_a_deterministic_relation():
    for columns in (slice(0, 2), slice(0, 1)):
        with pytest.warns(
            UserWarning, match="monotone function of x column 'x\\[0\\]' on every row .* the MI is then infinite"
        ):
            estimate(_X[:, columns], _X[:, columns].copy(), **_QUICK)
    with pytest.warns(UserWarning, match="monotone function"):
        estimate(_X, np.column_stack([_Y[:, 0], -(_X[:, 1] ** 3)]), **_QUICK)  # decreasing map of one column


def test_extreme_scales_are_estimated_or_refused_never_collapsed():
    for scale, standardize in ((1e300, "zscore"), (1e-30, True), (1e30, True)):
        result = estimate(_X * scale, _Y * scale, standardize=standardize, **_QUICK)
        assert abs(result.estimate - 1.0) < 0.25 and result.ci_high - result.ci_low > 0
    for scale in (1e-30, 1e30):
        with pytest.raises(ValueError, match=r"x has columns whose spread is far from 1 .* pass standardize=True"):
            estimate(_X * scale, _Y * scale, standardize=False, **_QUICK)
