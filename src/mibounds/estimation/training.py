"""Training a critic on a bound: minibatch Adam, early stopping on validation, best weights kept.

The loop maximizes the bound (minimizes ``-bound``) on random batches of K training pairs, checks
the bound on the whole validation split every ``eval_every`` steps, keeps the weights of the best
check, and stops after ``patience`` checks without improvement, at ``max_steps``, or when the loss,
the validation value, the weights or Adam's moments become NaN/inf (divergence). The weights of
the best check are restored in every case.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from mibounds._progress import progress_bar

__all__ = ["AdamW", "BoundObjective", "MemberList", "TrainingOutcome", "batch_values", "nonfinite_rows", "train"]


class AdamW:
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), in a few vectorized ops.

    For each parameter :math:`\theta` with gradient :math:`g` at step :math:`t`:

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \theta(1 - \eta\lambda)
            - \eta\,\frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}

    The same update as ``torch.optim.AdamW``; written here because constructing the first
    ``torch.optim`` optimizer of a process imports ``torch._dynamo`` (2-4 s on a small CPU), which
    would dominate a command-line estimate.

    Args:
        params: Tensors to optimize (those without a gradient at a step are skipped).
        lr: Step size :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`.
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
    """

    def __init__(
        self,
        params: list[Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        """Drop every gradient."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        self.t += 1
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        m = [self.exp_avg[i] for i in live]
        v = [self.exp_avg_sq[i] for i in live]
        beta1, beta2 = self.betas
        if self.weight_decay:
            torch._foreach_mul_(params, 1.0 - self.lr * self.weight_decay)
        torch._foreach_lerp_(m, grads, 1.0 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - beta2)
        bias1 = 1.0 - beta1**self.t
        bias2 = 1.0 - beta2**self.t
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, value=-self.lr / bias1)

    def is_finite(self) -> bool:
        """Whether every parameter and both moment estimates are free of NaN/inf (see
        :func:`nonfinite_rows`)."""
        return not bool(nonfinite_rows([*self.params, *self.exp_avg, *self.exp_avg_sq], 1)[0])


@torch.no_grad()
def nonfinite_rows(tensors: Iterable[Tensor], rows: int) -> Tensor:
    """Which of ``rows`` slices along the leading axis hold NaN/inf in any of ``tensors``, ``[rows]`` bool.

    With ``rows = 1`` every tensor counts as one slice (any shape); with ``rows = M`` every tensor
    has the member axis of a stack of M critics first, and slice m is member m.

    Why it matters: a gradient too large for the dtype (e.g. of e^f at scores of tens of nats)
    overflows Adam's second moment to inf; the update m / sqrt(v) of those weights is then 0 and
    they stop learning for good, while the loss stays finite. So the weights and the optimizer's
    moments are checked, not only the loss.
    """
    flags = [~torch.isfinite(t).reshape(rows, -1).all(1) for t in tensors]
    if not flags:
        return torch.zeros(rows, dtype=torch.bool)
    return torch.stack(flags).any(0).cpu()  # one device-to-host copy


class BoundObjective(nn.Module):
    """A critic (or an ensemble of M critics), its bound and, for TUBA-type bounds, a baseline.

    ``forward(x, y)`` returns a 0-d tensor whose value is the bound in nats and whose gradient is
    the training gradient.

    With one critic (``num_members = 1``), ``x [K, dx], y [K, dy]`` and the bound of the critic's
    ``[K, K]`` scores. With an ensemble (``num_members = M > 1``, the critic maps to
    ``[M, K, K]``):

    - training mode takes one batch per member, ``x [M, K, dx], y [M, K, dy]``, and returns the
      mean of the members' own bounds, so each member is trained as if alone;
    - evaluation mode takes one batch ``x [K, dx]`` and returns the bound of the averaged scores
      ``mean_m scores[m]`` (and of the averaged ``log a(y)``): one critic, whose errors are the
      members' errors averaged.

    Args:
        critic: Maps ``x, y`` to ``scores [K, K]``, or to ``[M, K, K]`` for an ensemble.
        bounds: One bound module per member (:class:`mibounds.bounds.Bound`; one each because
            MINE keeps a moving average per critic).
        baselines: One module ``y [K, dy] -> log a(y) [K]`` per member, for bounds that need one.
    """

    def __init__(
        self, critic: nn.Module, bounds: list[nn.Module], baselines: list[nn.Module] | None = None
    ) -> None:
        super().__init__()
        self.critic = critic
        self.bounds = nn.ModuleList(bounds)
        self.baselines = None if baselines is None else nn.ModuleList(baselines)
        self.num_members = len(bounds)

    @property
    def bound(self) -> nn.Module:
        """The first member's bound module (name, ceiling)."""
        return self.bounds[0]

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        scores = self.critic(x, y)
        if self.num_members == 1:
            return self.bounds[0](scores, *self._log_baseline(0, y))
        if self.training:
            values = [self.bounds[m](scores[m], *self._log_baseline(m, y[m])) for m in range(self.num_members)]
            return torch.stack(values).mean()
        log_baseline: tuple[Tensor, ...] = ()
        if self.baselines is not None:
            log_baseline = (torch.stack([b(y) for b in self.baselines]).mean(0),)
        return self.bounds[0](scores.mean(0), *log_baseline)

    def _log_baseline(self, m: int, y: Tensor) -> tuple[Tensor, ...]:
        return () if self.baselines is None else (self.baselines[m](y),)


class MemberList(nn.Module):
    """M critics of any kind as one ensemble critic: ``x, y -> scores [M, K, K]``.

    Takes one batch per member (``x [M, K, dx]``) or one batch for all (``x [K, dx]``). The
    stacked critics (:class:`mibounds.critics.StackedSeparableCritic`) do the same in one pass;
    this is the fallback for critics without a stacked form.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.dim() == 3:
            return torch.stack([c(x[m], y[m]) for m, c in enumerate(self.members)])
        return torch.stack([c(x, y) for c in self.members])


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
    values = torch.empty(num, device=x.device)
    with torch.no_grad():
        for b in range(num):
            rows = slice(b * batch_size, (b + 1) * batch_size)
            values[b] = objective(x[rows], y[rows])
    objective.train(was_training)
    return values.cpu().double().numpy()


def _random_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless row-index batches: each epoch a fresh permutation cut into full batches."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


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
        objective: Module mapping a batch ``(x [K, dx], y [K, dy])`` to the 0-d bound; a
            :class:`BoundObjective` ensemble of M members gets ``[M, K, ...]`` training batches.
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
    optimizer = AdamW(list(objective.parameters()), lr=learning_rate, weight_decay=weight_decay)
    # The module that is checked and kept: the raw weights, or their moving average.
    checked = copy.deepcopy(objective) if ema_decay > 0 else objective
    params, averaged = list(objective.parameters()), list(checked.parameters())
    best_state = _copy_state(checked)
    best_value, best_step, stale = -math.inf, 0, 0
    history: dict[str, list[float]] = {"step": [], "train": [], "validation": []}
    running = torch.zeros((), device=train_x.device)
    since_check, step, stopped = 0, 0, "max_steps"
    bar = progress_bar(max_steps, progress, desc="training critic", unit="step", leave=False, dynamic_ncols=True)
    objective.train()
    # One independent batch stream per ensemble member (they see different batches each step).
    members = getattr(objective, "num_members", 1)
    streams = [_random_batches(len(train_x), batch_size, generator) for _ in range(members)]
    try:
        while step < max_steps:
            rows = (next(streams[0]) if members == 1 else torch.stack([next(s) for s in streams])).to(train_x.device)
            value = objective(train_x[rows], train_y[rows])
            optimizer.zero_grad()
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
            if not (math.isfinite(train_mean) and math.isfinite(val) and optimizer.is_finite()):
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
