"""Tier 2: every bound with the optimal critic of the 20-d Gaussian (no training, float64).

Tolerances come from the Monte-Carlo standard error over R independent batches of K = 1,024 pairs:
SE = std(batch estimates, ddof=1) / sqrt(R), and a claim "equals I" is checked as
|mean - I| <= 5 SE (a false alarm about once in 1.7 million runs if the batch means were
normal). A claim "<= I" or ">= I" is checked one-sided with the same 5 SE. The SEs are measured
from the batches themselves, so a bound whose variance explodes (NWJ at high MI) gets a wide
but honest tolerance; the test prints none of them, but each failure message shows mean and SE.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from mibounds import bounds, critics, tasks

K = 1024
REPEATS = 16
Z = 5.0
MI_LEVELS = (2.0, 4.0, 6.0)


@functools.cache
def _estimates(mi: float) -> dict[str, torch.Tensor]:
    """Each bound's estimate on REPEATS batches of the optimal critic, as [REPEATS] tensors."""
    task = tasks.Gaussian(dim=20, mi=mi)
    mine = bounds.MINE(rate=0.1)
    exact = critics.ExactCritic(task, shift=1.0)
    out: dict[str, list[float]] = {}

    def put(name: str, value: torch.Tensor) -> None:
        out.setdefault(name, []).append(float(value.detach()))

    for repeat in range(REPEATS):
        x, y = task.sample(K, seed=1000 * int(mi) + repeat, dtype=torch.float64)
        log_conditional = task.log_conditional(x, y)  # [i, j] = log p(y_j | x_i)
        log_marginal = task.log_marginal_y(y)
        # The optimal critic of the JS, DV and InfoNCE objectives (tasks test this identity).
        log_r = log_conditional - log_marginal[None, :]
        put("nwj", bounds.nwj(log_r + 1.0))  # NWJ's optimum is 1 + log r
        put("tuba", bounds.tuba(log_conditional, log_marginal))  # f = log p(y|x), a(y) = p(y)
        put("dv", bounds.dv(log_r))
        put("mine", mine(log_r))
        put("js", bounds.js(log_r))  # JS's optimum is log r; js reports NWJ on log r + 1
        put("smile_inf", bounds.smile(log_r, clip=None))
        put("infonce", bounds.infonce(log_r))
        put("tnce", bounds.tnce(log_conditional))
        # One alpha here (the alpha sweep's algebra and ceilings are tested in test_algebra.py).
        put("interpolated_0.5", bounds.interpolated(log_r, 0.0, 0.5))
        # The decoder p(x | y) = N(rho y, (1 - rho^2) I), written out here independently of tasks.
        var = 1.0 - task.rho**2
        log_decoder = -0.5 * ((x - task.rho * y) ** 2).sum(1) / var - 0.5 * x.shape[1] * math.log(2 * math.pi * var)
        put("ba", bounds.ba(log_decoder, task.entropy_x))
        # UBA is tight for log r plus any function c(y), whose log-partition log E_p(x) e^f is c(y).
        c = 1.0 + torch.sin(y).sum(1)
        put("uba", bounds.uba(exact(x, y) + torch.sin(y).sum(1)[None, :], c))
        # Jensen's bound on InfoNCE's bias (see the test below), from the K positives.
        put("infonce_bias_bound", torch.log1p(torch.expm1(log_r.diagonal()) / K).mean())
        put("rate", bounds.rate(log_conditional, log_marginal))
        # A wrong but normalized marginal q(y) = N(0, 2 I): the rate grows by KL(p(y) || q(y)).
        log_q = -0.5 * y.shape[1] * math.log(2 * math.pi * 2.0) - (y**2).sum(1) / 4.0
        put("rate_wrong_marginal", bounds.rate(log_conditional, log_q))
        put("leave_one_out_upper", bounds.leave_one_out_upper(log_conditional))
        put("club", bounds.club(log_conditional))
    return {name: torch.tensor(values, dtype=torch.float64) for name, values in out.items()}


@pytest.fixture(params=MI_LEVELS, ids=lambda mi: f"I={mi:g}")
def level(request: pytest.FixtureRequest) -> tuple[float, dict[str, torch.Tensor]]:
    return request.param, _estimates(request.param)


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    return float(values.mean()), float(values.std(unbiased=True) / math.sqrt(len(values)))


@pytest.mark.parametrize("name", ["nwj", "tuba", "dv", "mine", "js", "smile_inf", "ba", "uba", "rate"])
def test_tight_bounds_recover_the_closed_form(level, name: str) -> None:
    mi, estimates = level
    mean, se = _mean_se(estimates[name])
    assert abs(mean - mi) <= Z * se, f"{name}: mean {mean:.4f} vs I = {mi} (SE {se:.4f})"


@pytest.mark.parametrize("name", ["rate", "rate_wrong_marginal", "leave_one_out_upper", "club"])
def test_upper_bounds_with_the_true_conditional_are_above_I(level, name: str) -> None:
    mi, estimates = level
    mean, se = _mean_se(estimates[name])
    assert mean >= mi - Z * se, f"{name}: mean {mean:.4f} below I = {mi} (SE {se:.4f})"


def test_a_wrong_marginal_makes_the_rate_strictly_looser(level) -> None:
    mi, estimates = level
    gap = estimates["rate_wrong_marginal"] - estimates["rate"]
    mean, se = _mean_se(gap)
    assert mean > Z * se  # the gap is KL(p(y) || q(y)) > 0


@pytest.mark.parametrize("name", ["infonce", "tnce", "interpolated_0.5"])
def test_contrastive_bounds_stay_below_I_and_their_ceiling(level, name: str) -> None:
    mi, estimates = level
    mean, se = _mean_se(estimates[name])
    assert mean <= mi + Z * se, f"{name}: mean {mean:.4f} above I = {mi} (SE {se:.4f})"
    if name in ("infonce", "tnce"):
        ceiling = math.log(K)
    else:
        ceiling = bounds.get("interpolated").ceiling_for(K, alpha=float(name.split("_")[1]))
    assert float(estimates[name].max()) <= ceiling + 1e-9


def test_infonce_bias_is_within_its_jensen_bound(level) -> None:
    """With the optimal critic r, I - E[InfoNCE] = E log((r_jj + S_j) / K) with S_j the sum of the
    K - 1 negatives' ratios, E[S_j] = K - 1. Jensen on the concave log gives

        0 <= I - E[InfoNCE] <= E_p log(1 + (r - 1) / K),

    a bias set by the upper tail of the information density log r, not by I alone: for the 20-d
    Gaussian at I = 4 nats and K = 1,024 it is about 0.25 nats (the bound is 0.30), although
    I <= log K - 2."""
    mi, estimates = level
    mean, se = _mean_se(estimates["infonce"])
    bias_bound, bound_se = _mean_se(estimates["infonce_bias_bound"])
    assert mean <= mi + Z * se
    assert mean >= mi - bias_bound - Z * math.hypot(se, bound_se), (mean, mi, bias_bound)


def test_infonce_is_within_a_tenth_of_a_nat_at_low_mi() -> None:
    mean, se = _mean_se(_estimates(2.0)["infonce"])
    assert abs(mean - 2.0) <= 0.1 + Z * se, f"infonce: mean {mean:.4f} vs I = 2"
