"""Fold members in groups on threads: the same run as on one thread, to float32 rounding (exact algebra)."""

from __future__ import annotations

import contextvars
import copy
import threading

import numpy as np
import pytest
import torch
from torch import nn

import mibounds
from mibounds.estimation import member_groups
from mibounds.estimation.fold_critics import build_fold_critic
from mibounds.estimation.member_groups import member_groups as groups_of
from mibounds.estimation.member_groups import run_in_groups, thread_plan
from mibounds.estimation.settings import EstimatorSettings
from mibounds.estimation.training import fold_plan, train


def test_groups_cut_the_members_into_runs_of_nearly_equal_size():
    assert groups_of(5, 1) == [[0, 1, 2, 3, 4]]
    assert groups_of(5, 2) == [[0, 1, 2], [3, 4]]
    assert groups_of(5, 3) == [[0, 1], [2, 3], [4]]
    assert groups_of(3, 8) == [[0], [1], [2]]


def test_the_threads_setting_gives_groups_then_threads_within_them(monkeypatch):
    assert thread_plan(1, 5) == (1, 1)
    assert thread_plan(2, 5) == (2, 1)
    assert thread_plan(7, 5) == (5, 1)
    assert thread_plan(10, 5) == (5, 2)
    monkeypatch.setattr(member_groups, "usable_cores", lambda: 1)
    assert thread_plan(None, 5) == (1, 1)  # one core: no threads to spare
    monkeypatch.setattr(member_groups, "usable_cores", lambda: 64)
    assert thread_plan(None, 5) == (member_groups.DEFAULT_MAX_GROUPS, 1)


def test_run_in_groups_keeps_the_order_the_context_and_the_first_error():
    flag: contextvars.ContextVar[str] = contextvars.ContextVar("flag", default="unset")
    flag.set("caller")
    seen = run_in_groups(lambda item: (item, flag.get(), threading.current_thread().name), [0, 1, 2])
    assert [s[:2] for s in seen] == [(0, "caller"), (1, "caller"), (2, "caller")]
    assert seen[0][2] == threading.current_thread().name  # the first item runs here
    assert {s[2] for s in seen[1:]} != {threading.current_thread().name}

    ended = []

    def fails_on_one(item):
        if item == 1:
            raise ValueError("group 1 failed")
        ended.append(item)
        return item

    with pytest.raises(ValueError, match="group 1 failed"):
        run_in_groups(fails_on_one, [0, 1, 2])
    assert sorted(ended) == [0, 2]  # the others ran to their end


def _estimate(x, y, threads, **kwargs):
    return mibounds.estimate(
        x, y, random_state=3, progress=False, max_steps=120, eval_every=20, threads=threads, **kwargs
    )


def _same_result(a, b):
    """The same run up to float32 rounding: a stack of fewer members sums its gradients in another
    order, so the weights drift apart by a few units in the last place over the steps."""
    for field in ("steps", "best_step", "stopped"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("estimate", "ci_low", "ci_high", "lower_bound", "log_normalizer"):
        if getattr(b, field) is None:  # bounds without a log ratio have no normalizer
            assert getattr(a, field) is None, field
        else:
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-5, abs=1e-5), field
    for key in ("train", "validation"):
        assert a.history[key] == pytest.approx(b.history[key], rel=1e-5, nan_ok=True), key


@pytest.mark.parametrize(
    "options",
    [
        {},  # the default: Gaussian plus the stacked mixture critic
        {"critic": "separable", "gaussian": False},
        {"bound": "mine"},  # a moving average per member, kept in the bound module
        {"bound": "tuba", "critic_kwargs": {"hidden_dim": 32}},  # a baseline network per member
        {"bound": "infonce", "critic": "concat", "critic_kwargs": {"hidden_dim": 16}},
    ],
    ids=["default", "separable", "mine", "tuba", "infonce-concat"],
)
def test_an_estimate_is_the_same_run_on_one_thread_and_in_groups(options):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = x @ rng.normal(size=(3, 2)) + np.tanh(x[:, :2]) + 0.5 * rng.normal(size=(600, 2))
    one = _estimate(x, y, 1, **options)
    for threads in (2, 3) if not options else (2,):
        grouped = _estimate(x, y, threads, **options)
        _same_result(one, grouped)
        assert grouped.threads == threads


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(2, 4), nn.Linear(2, 4)

    def forward(self, x, y):
        return self.a(x) @ self.b(y).T


def test_a_users_module_trains_in_place_in_its_group():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    y = x + rng.normal(size=(500, 2))
    torch.manual_seed(0)
    one = _estimate(x, y, 1, critic=_Tiny())
    torch.manual_seed(0)
    _same_result(one, _estimate(x, y, 2, critic=_Tiny()))


def _fold_critic(rows: int, columns: int):
    """Rows of a noisy copy, their fold plan, and the default fold critic built on them."""
    x = torch.randn(rows, columns)
    y = x + torch.randn(rows, columns)
    plan = fold_plan(rows, 5, np.random.default_rng(0))
    torch.manual_seed(0)
    return x, y, plan, build_fold_critic(EstimatorSettings(), x, y, plan)[0]


def test_a_subset_trains_apart_and_is_written_back_into_its_members_only():
    x, y, _, model = _fold_critic(400, 3)
    before = copy.deepcopy(model.state_dict())
    part = model.subset([3, 4])
    assert part.num_members == 2
    assert torch.equal(
        part(x[:8].expand(2, 8, 3), y[:8].expand(2, 8, 3)), model(x[:8].expand(5, 8, 3), y[:8].expand(5, 8, 3))[3:]
    )
    with torch.no_grad():
        for p in part.parameters():
            p.add_(1.0)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # a copy until absorbed
    model.absorb(part, [3, 4])
    for key, value in model.residual.state_dict().items():
        old = before[f"residual.{key}"]
        assert torch.equal(value[:3], old[:3]) and torch.equal(value[3:], old[3:] + 1.0), key


def test_training_in_groups_gives_the_same_weights():
    x, y, plan, model = _fold_critic(600, 2)
    options = dict(batch_size=16, max_steps=60, learning_rate=1e-3, eval_every=20, patience=2)
    alone, grouped = copy.deepcopy(model), copy.deepcopy(model)
    first = train(alone, x, y, plan, generator=torch.Generator().manual_seed(0), **options)
    second = train(grouped, x, y, plan, generator=torch.Generator().manual_seed(0), groups=2, **options)
    assert first.best_step == second.best_step and first.history["step"] == second.history["step"]
    assert first.history["validation"] == pytest.approx(second.history["validation"], rel=1e-5)
    for (key, a), (_, b) in zip(alone.state_dict().items(), grouped.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=key)
    # One group is the stack itself: exactly the same run as before groups existed.
    again = copy.deepcopy(model)
    third = train(again, x, y, plan, generator=torch.Generator().manual_seed(0), groups=1, **options)
    assert third.history == first.history
    assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), again.state_dict().values(), strict=True))


def test_groups_leave_the_global_generator_alone():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2))
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    _estimate(x, x + rng.normal(size=(300, 2)), 2)  # the subsets build (and copy into) new modules
    assert torch.rand(1) == expected


@pytest.mark.parametrize("threads", [1, 2])
def test_an_estimate_trains_under_a_callers_no_grad(threads):
    """A notebook cell that evaluates under torch.no_grad() may call the estimator there too."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 2))
    y = x + rng.normal(size=(300, 2))
    expected = _estimate(x, y, threads)
    with torch.no_grad():
        inside = _estimate(x, y, threads)
        assert not torch.is_grad_enabled()  # left as the caller set it
    assert inside.estimate == expected.estimate and inside.steps == expected.steps
