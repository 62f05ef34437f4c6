"""The training loop: folds, optimizer, early stopping, divergence (exact algebra)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mibounds import bounds
from mibounds.estimation import training
from mibounds.estimation.training import AdamW, FoldCritic, MemberList, fold_plan, train, validation_batches


class _Positives(nn.Module):
    """Scores ``c`` on the positives and 0 elsewhere: the JS objective rises with c."""

    def __init__(self, learns: bool = True) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(0.0))
        self.learns = learns

    def forward(self, x, y):
        eye = torch.eye(len(x))
        return (self.c if self.learns else 0.0 * self.c) * eye + 0.0 * x.sum()


def _model(learns: bool = True, members: int = 3) -> FoldCritic:
    residual = MemberList([_Positives(learns) for _ in range(members)])
    return FoldCritic(residual, None, [bounds.make("js") for _ in range(members)])


def _data(n: int = 60):
    return torch.zeros(n, 1), torch.zeros(n, 1)


def _train(model, **kwargs):
    x, y = _data()
    settings = dict(
        batch_size=8,
        max_steps=1000,
        learning_rate=0.1,
        eval_every=10,
        patience=3,
        generator=torch.Generator().manual_seed(0),
    )
    return train(model, x, y, fold_plan(60, model.num_members, np.random.default_rng(0)), **{**settings, **kwargs})


def test_every_row_is_evaluated_once_by_a_critic_that_never_saw_it():
    plan = fold_plan(103, 5, np.random.default_rng(1))
    assert sorted(np.concatenate([plan.evaluation(m) for m in range(5)]).tolist()) == list(range(103))
    for m in range(5):
        seen = set(plan.training(m)) | set(plan.validation(m))
        assert not seen & set(plan.evaluation(m))
        assert len(plan.training(m)) + len(plan.validation(m)) + len(plan.evaluation(m)) == 103
    assert {len(f) for f in plan.folds} == {20, 21}
    batches = validation_batches(plan, 8)
    assert batches.shape == (5, 2, 8) and all(
        set(batches[m].flatten().tolist()) <= set(plan.validation(m)) for m in range(5)
    )


def test_adamw_matches_torch():
    torch.manual_seed(0)
    ours, ref = nn.Linear(5, 3), nn.Linear(5, 3)
    ref.load_state_dict(ours.state_dict())
    opt_ours = AdamW(list(ours.parameters()), lr=1e-2, weight_decay=0.1)
    opt_ref = torch.optim.AdamW(ref.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(30):
        x = torch.randn(8, 5)
        for model, opt in ((ours, opt_ours), (ref, opt_ref)):
            opt.zero_grad()
            (model(x) ** 2).sum().backward()
            opt.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_early_stopping_counts_checks_without_improvement():
    out = _train(_model(learns=False))
    # The initial critic is check 0 and stays best; 3 more checks without improvement stop at step 30.
    assert (out.steps, out.best_step, out.stopped) == (30, 0, "early_stopping")
    assert out.history["step"] == [0, 10, 20, 30] and len(set(out.history["validation"])) == 1
    assert not out.still_improving


class _LearnsUntil(nn.Module):
    """``min(c, cap)`` on the positives: the validation objective rises until c reaches the cap
    (about cap / lr steps of Adam), then stays flat."""

    def __init__(self, cap: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(0.0))
        self.cap = cap

    def forward(self, x, y):
        return self.c.clamp(max=self.cap) * torch.eye(len(x)) + 0.0 * x.sum()


def test_min_patience_waits_as_long_again_as_the_best_took():
    def model():
        return FoldCritic(
            MemberList([_LearnsUntil(4.0) for _ in range(3)]), None, [bounds.make("js") for _ in range(3)]
        )

    fixed = _train(model(), patience=30)
    # Rising for some tens of steps, then flat: the full patience of 30 checks runs past the best.
    assert 30 <= fixed.best_step <= 150 and fixed.steps - fixed.best_step == 300 and fixed.patience == 30
    shrunk = _train(model(), patience=30, min_patience=3)
    # The same run, cut once it has waited as long again as its best took (best / eval_every checks).
    assert (
        shrunk.best_step == fixed.best_step
        and shrunk.history["validation"] == fixed.history["validation"][: len(shrunk.history["step"])]
    )
    assert shrunk.patience == max(3, fixed.best_step // 10) and shrunk.steps == shrunk.best_step + 10 * shrunk.patience
    # Before any check beats the initial critic the full patience holds.
    still = _train(_model(learns=False), patience=30, min_patience=3)
    assert (still.steps, still.best_step, still.patience) == (300, 0, 30)
    # Never more than the full patience: a best at step 90 waits 5 checks, not 9, when that is all.
    capped = _train(model(), patience=5, min_patience=3)
    assert capped.best_step == fixed.best_step and capped.patience == 5 and capped.steps == capped.best_step + 50


def test_max_steps_and_last_partial_interval_is_checked():
    model = _model()
    out = _train(model, max_steps=25)
    assert out.stopped == "max_steps" and out.history["step"] == [0, 10, 20, 25] and out.best_step == 25
    assert out.still_improving and not model.training
    # Each member moved its own parameter up, by at most lr per step (Adam's step bound).
    assert all(1.0 < m.c.item() <= 25 * 0.1 + 1e-6 for m in model.residual.members)


class _HugeGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by 1e30, so g^2 overflows float32."""

    @staticmethod
    def forward(ctx, t):
        return t.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * 1e30


class _Overflowing(nn.Module):
    """Positive scores whose parameter's gradient overflows Adam's second moment from step 16 on."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(0.0))
        self.calls = 0

    def forward(self, x, y):
        c = self.c
        if self.training:
            self.calls += 1
            if self.calls > 15:
                c = _HugeGradient.apply(c)
        k = x.shape[-2]
        return (c * torch.eye(k)).expand(*x.shape[:-2], k, k) + 0.0 * x.sum()


def test_adam_state_overflow_is_found():
    opt = AdamW([nn.Parameter(torch.tensor([1.0, 2.0]))], lr=0.1)
    assert opt.is_finite()
    opt.params[0].grad = torch.tensor([1e30, 0.0])
    opt.step()
    assert torch.isinf(opt.exp_avg_sq[0][0]) and not opt.is_finite()


def test_overflowed_optimizer_state_stops_training_as_diverged():
    # The loss stays finite, but from step 16 the weight is frozen (m / sqrt(inf) = 0): without
    # the state check training runs on, learning nothing, until patience ends it at step 520.
    model = FoldCritic(_Overflowing(), None, [bounds.make("js") for _ in range(3)])
    out = _train(model, patience=50)
    assert (out.stopped, out.steps, out.best_step) == ("diverged", 20, 10)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_check_scores_at_most_check_rows_of_each_validation_fold(monkeypatch):
    plan = fold_plan(500, 5, np.random.default_rng(2))
    assert validation_batches(plan, 8).shape == (5, 12, 8)
    monkeypatch.setattr(training, "CHECK_ROWS", 40)
    batches = validation_batches(plan, 8)
    assert batches.shape == (5, 5, 8)
    for m in range(5):
        np.testing.assert_array_equal(batches[m].flatten().numpy(), plan.validation(m)[:40])
    assert validation_batches(plan, 64).shape == (5, 1, 64)  # a batch larger than CHECK_ROWS still fits one
