"""Bounds on NaN/inf scores never return a silent NaN; in float16 the overflow guard fits the dtype.

A bound still returns what the arithmetic gives (NaN or inf), so that a training loop can see its
critic diverge and stop, but it says so with a warning that names the cause; in float16, ``exp``
overflows above about 11, so the guard that replaces ``exp`` by its tangent must sit below that.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mibounds import bounds
from mibounds.bounds._reductions import exp_linearization_threshold, exp_linearized
from mibounds.validation import NonFiniteScoresWarning

K = 6

# Every bound function, on a [K, K] score matrix (the structured ones read it as log p(y_j | x_i)).
BOUNDS = {
    "tuba": lambda s: bounds.tuba(s, torch.zeros(K, dtype=s.dtype)),
    "nwj": bounds.nwj,
    "dv": bounds.dv,
    "mine": lambda s: bounds.mine(s, 0.0),
    "infonce": bounds.infonce,
    "infonce-symmetric": lambda s: bounds.infonce(s, symmetric=True),
    "js": bounds.js,
    "js_fgan": bounds.js_fgan,
    "smile": bounds.smile,
    "interpolated": lambda s: bounds.interpolated(s, 0.0, 0.5),
    "tnce": bounds.tnce,
    "ba": lambda s: bounds.ba(s.diagonal(), 1.0),
    "rate": lambda s: bounds.rate(s, s.mean(0)),
    "leave_one_out_upper": bounds.leave_one_out_upper,
    "club": bounds.club,
}
MODULES = {
    name: (lambda n: lambda s: bounds.make(n)(s, *(0.0,) * bounds.make(n).needs_baseline))(name)
    for name in ("tuba", "nwj", "dv", "mine", "infonce", "js", "smile", "interpolated")
}


def _scores(bad: float) -> torch.Tensor:
    scores = torch.randn(K, K, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    scores[1, 1] = bad  # a positive pair: every bound reads it
    scores[2, 3] = bad
    return scores.requires_grad_()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", [*BOUNDS, *(f"module-{n}" for n in MODULES)])
def test_non_finite_scores_are_never_a_silent_nan(name: str, bad: float) -> None:
    call = BOUNDS[name] if name in BOUNDS else MODULES[name.removeprefix("module-")]
    scores = _scores(bad)
    with pytest.warns(
        NonFiniteScoresWarning, match=r"(2|1) NaN or infinite entries \(of (36|6)\).*check the critic's inputs"
    ):
        value = call(scores)
    assert value.shape == ()


@pytest.mark.parametrize("name", list(BOUNDS))
def test_finite_scores_give_no_warning(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteScoresWarning)
        assert math.isfinite(float(BOUNDS[name](_scores(0.5)).detach()))


def test_a_non_finite_baseline_is_not_silent_either() -> None:
    baseline = torch.zeros(K)
    baseline[2] = math.nan
    with pytest.warns(NonFiniteScoresWarning, match="log_baseline"):
        bounds.tuba(torch.zeros(K, K), baseline)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_the_overflow_guard_sits_below_the_overflow_of_each_dtype(dtype: torch.dtype) -> None:
    threshold = exp_linearization_threshold(dtype)
    finfo = torch.finfo(dtype)
    assert threshold <= math.log(finfo.max) / 2  # exp of it, times a slope up to the same size, fits
    assert threshold == pytest.approx(min(50.0, math.log(finfo.max) / 2))
    big = torch.tensor([20.0, 100.0, 200.0], dtype=dtype)
    assert torch.isfinite(exp_linearized(big)).all()


@pytest.mark.parametrize("name", ["nwj", "js", "tuba", "interpolated", "mine", "dv", "smile", "infonce"])
def test_float16_bounds_are_finite_for_scores_of_20(name: str) -> None:
    scores = torch.full((8, 8), 20.0, dtype=torch.float16)
    scores.fill_diagonal_(21.0)
    value = {**BOUNDS, "tuba": lambda s: bounds.tuba(s, 0.0)}[name](scores)
    assert value.dtype == torch.float16 and torch.isfinite(value), (name, value)


def test_float16_agrees_with_float32_below_the_guard() -> None:
    scores = torch.randn(16, 16, generator=torch.Generator().manual_seed(1))
    for name in ("nwj", "js", "dv", "infonce", "smile"):
        half, full = float(BOUNDS[name](scores.half())), float(BOUNDS[name](scores))
        assert half == pytest.approx(full, abs=0.02), name


def test_bounds_still_run_under_vmap() -> None:
    scores = torch.randn(3, K, K, generator=torch.Generator().manual_seed(2))
    batched = torch.vmap(bounds.nwj)(scores)
    assert torch.allclose(batched, torch.stack([bounds.nwj(s) for s in scores]))
