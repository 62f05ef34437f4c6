"""Training a critic on a bound: minibatch Adam, early stopping on validation, best weights kept.

The loop maximizes the bound (minimizes ``-bound``) on random batches of K training pairs, checks
the bound on the whole validation split every ``eval_every`` steps, keeps the weights of the best
check, and stops after ``patience`` checks without improvement, at ``max_steps``, or when the loss
or the validation value becomes NaN/inf (divergence). The weights of the best check are restored
in every case.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["BoundObjective", "TrainingOutcome", "batch_values", "train"]


class BoundObjective(nn.Module):
    """A critic, a bound module and (for TUBA-type bounds) a baseline, as one module.

    ``forward(x [K, dx], y [K, dy])`` returns the bound on the critic's ``[K, K]`` scores: a 0-d
    tensor whose value is the estimate in nats and whose gradient is the training gradient.

    Args:
        critic: Maps ``x, y`` to ``scores [K, K]``.
        bound: A :class:`mibounds.bounds.Bound` (or anything called as ``bound(scores, log_baseline)``).
        baseline: Maps ``y [K, dy]`` to ``log a(y) [K]``; only for bounds that need one.
    """

    def __init__(self, critic: nn.Module, bound: nn.Module, baseline: nn.Module | None = None) -> None:
        super().__init__()
        self.critic = critic
        self.bound = bound
        self.baseline = baseline

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        scores = self.critic(x, y)
        if self.baseline is None:
            return self.bound(scores)
        return self.bound(scores, self.baseline(y))


@dataclass
class TrainingOutcome:
    """What happened during :func:`train`.

    Attributes:
        steps: Optimizer steps taken.
        best_step: Step of the restored weights (0: the initial weights).
        best_value: Validation bound at ``best_step`` (``-inf`` if no check was finite).
        stopped: ``"early_stopping"``, ``"max_steps"`` or ``"diverged"``.
        history: ``{"step", "train", "validation"}`` lists, one entry per check.
    """

    steps: int
    best_step: int
    best_value: float
    stopped: str
    history: dict[str, list[float]] = field(default_factory=dict)


def batch_values(objective: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> np.ndarray:
    """The bound on each of the ``len(x) // batch_size`` consecutive disjoint batches.

    Rows past the last full batch are left out (the bound depends on K, so every batch has K
    pairs). Runs without gradients, in evaluation mode (MINE's moving average is not updated).

    Returns:
        ``[B]`` float64 values in nats.
    """
    was_training = objective.training
    objective.eval()
    num = len(x) // batch_size
    values = torch.empty(num, dtype=torch.float64, device=x.device)
    with torch.no_grad():
        for b in range(num):
            rows = slice(b * batch_size, (b + 1) * batch_size)
            values[b] = objective(x[rows], y[rows])
    objective.train(was_training)
    return values.cpu().numpy()


def _random_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless row-index batches: each epoch a fresh permutation cut into full batches."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def _progress_bar(total: int, enabled: bool):  # -> tqdm | None
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional extra: no bar without it
        return None
    return tqdm(total=total, desc="training critic", unit="step", leave=False, dynamic_ncols=True)


def train(
    objective: nn.Module,
    train_xy: tuple[Tensor, Tensor],
    validation_xy: tuple[Tensor, Tensor],
    *,
    batch_size: int,
    max_steps: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    ema_decay: float = 0.0,
    eval_every: int,
    patience: int,
    generator: torch.Generator,
    progress: bool = False,
) -> TrainingOutcome:
    """Train ``objective`` (maximize its bound) with Adam and early stopping on validation.

    Args:
        objective: Module mapping a batch ``(x [K, dx], y [K, dy])`` to the 0-d bound.
        train_xy: Training ``x [n, dx]``, ``y [n, dy]`` on the objective's device.
        validation_xy: Validation pairs, already shuffled (cut into fixed consecutive batches).
        batch_size: K.
        max_steps: Most optimizer steps.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW); 0 is plain Adam.
        ema_decay: Checks, and the restored weights, use an exponential moving average of the
            weights with this decay (Polyak averaging; ramped up as ``min(decay, (1+t)/(10+t))``
            over the first steps); 0 uses the raw weights.
        eval_every: Steps between validation checks.
        patience: Checks without a new best validation value before stopping.
        generator: CPU generator for the batch order.
        progress: Show a tqdm bar (silently none without tqdm).

    Returns:
        The :class:`TrainingOutcome`; ``objective`` holds the best weights, in eval mode.
    """
    train_x, train_y = train_xy
    val_x, val_y = validation_xy
    optimizer = torch.optim.AdamW(objective.parameters(), lr=learning_rate, weight_decay=weight_decay)
    # The module that is checked and kept: the raw weights, or their moving average.
    checked = copy.deepcopy(objective) if ema_decay > 0 else objective
    params, averaged = list(objective.parameters()), list(checked.parameters())
    best_state = _copy_state(checked)
    best_value, best_step, stale = -math.inf, 0, 0
    history: dict[str, list[float]] = {"step": [], "train": [], "validation": []}
    running = torch.zeros((), dtype=torch.float64, device=train_x.device)
    since_check, step, stopped = 0, 0, "max_steps"
    bar = _progress_bar(max_steps, progress)
    objective.train()
    batches = _random_batches(len(train_x), batch_size, generator)
    try:
        while step < max_steps:
            rows = next(batches).to(train_x.device)
            value = objective(train_x[rows], train_y[rows])
            optimizer.zero_grad(set_to_none=True)
            (-value).backward()
            optimizer.step()
            if checked is not objective:
                with torch.no_grad():
                    weight = 1.0 - min(ema_decay, (1.0 + step) / (10.0 + step))
                    torch._foreach_lerp_(averaged, params, weight)
            # Summed on the device; read once per check so a GPU is not synchronized every step.
            running += value.detach()
            since_check += 1
            step += 1
            if bar is not None:
                bar.update(1)
            if step % eval_every and step < max_steps:
                continue
            train_mean = float(running) / since_check
            running.zero_()
            since_check = 0
            if checked is not objective:
                for mine, theirs in zip(checked.buffers(), objective.buffers()):
                    mine.copy_(theirs)
            val = float(batch_values(checked, val_x, val_y, batch_size).mean())
            history["step"].append(step)
            history["train"].append(train_mean)
            history["validation"].append(val)
            if not (math.isfinite(train_mean) and math.isfinite(val)):
                stopped = "diverged"
                break
            if val > best_value:
                best_value, best_step, stale = val, step, 0
                best_state = _copy_state(checked)
            else:
                stale += 1
            if bar is not None:
                bar.set_postfix(validation=f"{val:.3f}", best=f"{best_value:.3f}", refresh=False)
            if stale >= patience:
                stopped = "early_stopping"
                break
    finally:
        if bar is not None:
            bar.close()
    objective.load_state_dict(best_state)
    objective.eval()
    return TrainingOutcome(step, best_step, best_value, stopped, history)


def _copy_state(module: nn.Module) -> dict[str, Tensor]:
    return {name: t.detach().clone() for name, t in module.state_dict().items()}
