"""The training loop: optimizer, batches, early stopping, weight averaging (exact algebra)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mibounds.estimation.training import AdamW, batch_values, train


class _Scalar(nn.Module):
    """An 'objective' whose bound value is its one parameter: gradient ascent moves it up by ~lr."""

    def __init__(self, start: float = 0.0, learns: bool = True) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(start), requires_grad=learns)
        self.offset = nn.Parameter(torch.tensor(0.0))  # gets a gradient, changes nothing when frozen

    def forward(self, x, y):
        if self.value.requires_grad:
            return self.value + 0.0 * x.sum()
        return self.value + 0.0 * self.offset + 0.0 * x.sum()


def _data(n: int = 64):
    return torch.zeros(n, 1), torch.zeros(n, 1)


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
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_batch_values_use_full_batches_only():
    class Mean(nn.Module):
        def forward(self, x, y):
            return x.mean()

    x = torch.arange(10.0)[:, None]
    values = batch_values(Mean(), x, x, batch_size=4)  # rows 8, 9 left out
    assert values.tolist() == [1.5, 5.5]


def test_early_stopping_counts_checks_without_improvement():
    frozen = _Scalar(learns=False)
    out = train(frozen, _data(), _data(), batch_size=8, max_steps=1000, learning_rate=0.1,
                eval_every=10, patience=3, generator=torch.Generator().manual_seed(0))
    # The first check sets the best; 3 more without improvement stop at step 40.
    assert (out.steps, out.best_step, out.stopped) == (40, 10, "early_stopping")
    assert out.history["step"] == [10, 20, 30, 40] and out.history["validation"] == [0.0] * 4


def test_max_steps_and_last_partial_interval_is_checked():
    out = train(_Scalar(), _data(), _data(), batch_size=8, max_steps=25, learning_rate=0.1,
                eval_every=10, patience=3, generator=torch.Generator().manual_seed(0))
    assert out.stopped == "max_steps" and out.history["step"] == [10, 20, 25] and out.best_step == 25


def test_moving_average_of_the_weights_is_what_is_kept():
    lr, decay, steps = 0.01, 0.9, 30
    model = _Scalar()
    train(model, _data(), _data(), batch_size=8, max_steps=steps, learning_rate=lr, ema_decay=decay,
          eval_every=steps, patience=1, generator=torch.Generator().manual_seed(0))
    # Replay: Adam with a constant gradient moves the raw weight by lr * g / (|g| + eps) per step.
    raw, average = 0.0, 0.0
    for t in range(steps):
        raw += lr / (1.0 + 1e-8)
        average += (raw - average) * (1.0 - min(decay, (1.0 + t) / (10.0 + t)))
    assert model.value.item() == pytest.approx(average, rel=1e-5)
    assert model.value.item() < raw - 0.02  # the average lags the raw weight


class _HugeGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by 1e30, so g^2 overflows float32."""

    @staticmethod
    def forward(ctx, t):
        return t.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * 1e30


class _Overflowing(nn.Module):
    """A finite loss whose parameter's gradient overflows Adam's second moment from step 16 on."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(0.0))
        self.calls = 0

    def forward(self, x, y):
        if self.training:
            self.calls += 1
            if self.calls > 15:
                return _HugeGradient.apply(self.value) + 0.0 * x.sum()
        return self.value + 0.0 * x.sum()


def test_adam_state_overflow_is_found():
    opt = AdamW([nn.Parameter(torch.tensor([1.0, 2.0]))], lr=0.1)
    assert opt.is_finite()
    opt.params[0].grad = torch.tensor([1e30, 0.0])
    opt.step()
    assert torch.isinf(opt.exp_avg_sq[0][0]) and not opt.is_finite()


def test_overflowed_optimizer_state_stops_training_as_diverged():
    # The loss stays finite, but from step 16 the weight is frozen (m / sqrt(inf) = 0): without
    # the state check training runs on, learning nothing, until patience ends it at step 520.
    model = _Overflowing()
    out = train(model, _data(), _data(), batch_size=8, max_steps=1000, learning_rate=0.1,
                eval_every=10, patience=50, generator=torch.Generator().manual_seed(0))
    assert (out.stopped, out.steps, out.best_step) == ("diverged", 20, 10)
    assert all(torch.isfinite(p).all() for p in model.parameters())
