"""The staircase's stacked training loop, its checkpoints, and the structured bounds' evaluation.

All the critics of a job, every (task, bound) pair, are one stacked critic
(:class:`mibounds.critics.StackedSeparableCritic` or :class:`~mibounds.critics.StackedConcatCritic`,
M members, one forward giving ``[M, K, K]``); member m's bound is taken on its slice, the losses
are summed, and one backward and one Adam step train everything. The members share no parameter
and Adam is elementwise, so this is exactly M separate trainings. The baselines are stacked too.

Example:
    >>> from mibounds.experiments.staircase import BoundSpec, StaircaseConfig, train_stack
    >>> config = StaircaseConfig(tasks=("gaussian",), critics=("separable",), dim=2, levels=(1.0,),
    ...                          steps_per_level=3, hidden_dim=4, embed_dim=2, baseline_hidden_dim=4, window=3)
    >>> run = train_stack(config, "separable", ["gaussian"], [BoundSpec.parse("nwj"), BoundSpec.parse("tuba")])
    >>> run.values.shape, run.num_members  # [tasks, bounds, steps]
    ((1, 2, 3), 2)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mibounds import bounds, critics, tasks
from mibounds._progress import progress_bar
from mibounds.estimation.training import nonfinite_rows
from mibounds.experiments.outputs import replacing
from mibounds.experiments.staircase.config import STACKED_CRITICS, BoundSpec, StaircaseConfig
from mibounds.validation import unknown_name_error

__all__ = [
    "HEALTH_CHECK_EVERY",
    "StackRun",
    "evaluate_structured",
    "nonfinite_members",
    "stacked_critic",
    "train_stack",
]


def stacked_critic(config: StaircaseConfig, critic: str, num_members: int, dim_x: int, dim_y: int) -> nn.Module:
    """The stack of ``num_members`` independent critics of architecture ``critic``."""
    if critic == "separable":
        return critics.StackedSeparableCritic(
            num_members, dim_x, dim_y, config.embed_dim, config.hidden_dim, config.num_layers
        )
    if critic == "concat":
        # On a CPU the [M, K^2, H] activations of all members at once fall out of the cache: one
        # member per pass is faster there (same result); a GPU takes them all at once.
        per_pass = 1 if torch.device(config.device or "cpu").type == "cpu" else None
        return critics.StackedConcatCritic(
            num_members, dim_x, dim_y, config.hidden_dim, config.num_layers, members_per_pass=per_pass
        )
    raise unknown_name_error("staircase critic", critic, STACKED_CRITICS)


def _step_seed(seed: int, step: int) -> int:
    # Distinct, reproducible seeds per (run seed, step); every task reuses the step's seed.
    return (seed * 1_000_003 + step) % (2**63)


class _Batches:
    """Fresh paired batches: ``batch(step)`` gives ``x, y`` ``[T, K, d]`` for the step's MI level."""

    def __init__(self, config: StaircaseConfig, device: torch.device, dtype: torch.dtype) -> None:
        self.config, self.device, self.dtype = config, device, dtype
        self.generator = torch.Generator()
        self.level: float | None = None
        self.tasks: list[tasks.Task] = []

    def tasks_at(self, mi: float) -> list[tasks.Task]:
        if mi != self.level:
            self.tasks = [self.config.task_at(name, mi) for name in self.config.tasks]
            self.level = mi
        return self.tasks

    def batch(self, step: int, mi: float) -> tuple[list[tasks.Task], Tensor, Tensor]:
        current = self.tasks_at(mi)
        xs, ys = [], []
        for task in current:
            self.generator.manual_seed(_step_seed(self.config.seed, step))
            x, y = task.sample(self.config.batch_size, generator=self.generator, dtype=self.dtype, device=self.device)
            xs.append(x)
            ys.append(y)
        return current, torch.stack(xs), torch.stack(ys)


def _by_member(t: Tensor, copies: int) -> Tensor:
    """``[T, K, d]`` -> ``[T * copies, K, d]``, member ``t * copies + b`` getting task t's batch.

    With one task the batch stays ``[K, d]``: shared by every member, which the stacks' first
    layer computes as one wide matmul.
    """
    n_tasks, k, d = t.shape
    if n_tasks == 1:
        return t[0]
    return t.unsqueeze(1).expand(n_tasks, copies, k, d).reshape(n_tasks * copies, k, d)


class _Progress:
    """Progress of a loop: a tqdm bar (``"bar"``, when tqdm is installed), a line every tenth of
    the steps on stdout (``"log"``, for worker processes and logs), or nothing (``None``)."""

    def __init__(self, steps: int, description: str, mode: str | None) -> None:
        self.steps, self.description, self.done = steps, description, 0
        self.start = time.perf_counter()
        self.every = max(1, steps // 10) if mode == "log" else 0
        self.bar = progress_bar(steps, mode == "bar", desc=description, unit="step", mininterval=2.0)

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.every and (self.done % self.every == 0 or self.done == self.steps):
            seconds = time.perf_counter() - self.start
            print(
                f"{self.description}: step {self.done}/{self.steps}, {seconds:.0f} s "
                f"({1e3 * seconds / self.done:.1f} ms/step)",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class StackRun:
    """What one job returns.

    Attributes:
        values: ``[tasks, bounds, steps]`` per-step estimates (nats).
        seconds: Wall-clock of the loop.
        cpu_seconds: CPU time of the process over the loop.
        num_members: Critics trained together (0 for the structured bounds).
        frozen: ``[tasks, bounds]`` the first checked step at which a critic's weights or Adam
            state held NaN/inf (from then on it no longer learns), or -1.
    """

    values: np.ndarray
    seconds: float
    cpu_seconds: float
    num_members: int
    frozen: np.ndarray | None = None


def _adam(parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    # The fused kernel updates every parameter in one pass (the loop version makes about ten);
    # it is elementwise like the loop, so stacked members still train independently.
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without a fused kernel
        return torch.optim.Adam(parameters, lr=lr)


#: Steps between checks that every member's weights and Adam state are finite.
HEALTH_CHECK_EVERY = 100


def nonfinite_members(optimizer: torch.optim.Optimizer, stack: nn.Module) -> Tensor:
    """Which members of a stack hold NaN/inf in their weights or their Adam moments, ``[M]`` bool.

    Such a member has stopped learning for good (see :func:`mibounds.estimation.training.nonfinite_rows`).
    Every parameter of a stack has the member axis first.
    """
    parameters = list(stack.parameters())
    if not parameters:
        raise ValueError("the stack has no parameters")
    tensors = [
        t
        for p in parameters
        for t in (p, *(v for v in optimizer.state.get(p, {}).values() if isinstance(v, Tensor) and v.shape == p.shape))
    ]
    return nonfinite_rows(tensors, len(parameters[0]))


def _seeded_stack(build: Callable[[int], nn.Module], per_task: int, seeds: Sequence[int]) -> nn.Module:
    """A stack of ``per_task * len(seeds)`` members, task t's block initialized from ``seeds[t]``.

    So a (task, bound) member starts from the same weights whether the tasks share one stack or
    run in separate worker processes. Every parameter of a stack has the member axis first.
    """
    blocks = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(seed)
            blocks.append(build(per_task))
        if len(blocks) == 1:
            return blocks[0]
        stack = build(per_task * len(seeds))
    with torch.no_grad():
        for name, parameter in stack.named_parameters():
            parameter.copy_(torch.cat([dict(b.named_parameters())[name] for b in blocks]))
    return stack


def train_stack(
    config: StaircaseConfig,
    critic: str,
    task_names: Sequence[str],
    specs: Sequence[BoundSpec],
    progress: str | None = None,
    *,
    checkpoint: Path | None = None,
    checkpoint_every: int = 1000,
) -> StackRun:
    """Train one stacked critic (every task of ``task_names`` x every bound of ``specs``) through the staircase.

    Args:
        config: The staircase (its ``tasks`` give each task's seed by position).
        critic: ``"separable"`` or ``"concat"``.
        task_names: Tasks of this job (a subset of ``config.tasks``).
        specs: Score-based bounds, one critic each per task.
        progress: ``"bar"``, ``"log"`` or None (see the staircase's ``progress``).
        checkpoint: A file for the training state (networks, Adam, MINE averages, estimates so far),
            written every ``checkpoint_every`` steps and at the end. If it holds a checkpoint of
            the same job, training resumes from it, with the same result as an uninterrupted run
            (the batches are seeded per step); a checkpoint of another job is overwritten.
        checkpoint_every: Steps between checkpoints.

    Returns:
        The per-step estimates and the timing (seconds summed over resumed parts).
    """
    seeds = [config.seed * 1_000 + config.tasks.index(name) for name in task_names]
    config = dataclasses.replace(config, tasks=tuple(task_names))
    device = torch.device(config.device or "cpu")
    dtype = getattr(torch, config.dtype)
    n_tasks, n_bounds = len(config.tasks), len(specs)
    members = n_tasks * n_bounds
    with_baseline = [b for b, spec in enumerate(specs) if "log_baseline" in spec.info.needs]
    probe = config.task_at(config.tasks[0], config.levels[0])
    dim_x, dim_y = probe.dim_x, probe.dim_y

    def new_stack(size: int) -> nn.Module:
        return stacked_critic(config, critic, size, dim_x, dim_y)

    def new_baseline(size: int) -> nn.Module:
        return critics.stacked_mlp(size, dim_y, config.baseline_hidden_dim, 1, config.baseline_num_layers)

    stack = _seeded_stack(new_stack, n_bounds, seeds)
    baseline = _seeded_stack(new_baseline, len(with_baseline), seeds) if with_baseline else None
    stack.to(device=device, dtype=dtype)
    parameters = list(stack.parameters())
    if baseline is not None:
        baseline.to(device=device, dtype=dtype)
        parameters += list(baseline.parameters())
    optimizer = _adam(parameters, config.learning_rate)
    # One module per member: MINE keeps its moving average per critic.
    modules = [bounds.make(spec.name, **spec.kwargs).to(device) for _ in config.tasks for spec in specs]
    # For member m = t * B + b: the row of the baseline output it uses (or -1).
    baseline_row = [
        t * len(with_baseline) + with_baseline.index(b) if b in with_baseline else -1
        for t in range(n_tasks)
        for b in range(n_bounds)
    ]
    schedule = config.schedule()
    batches = _Batches(config, device, dtype)
    record = torch.empty(config.steps, members, device=device, dtype=dtype)
    stateful = {"stack": stack, "baseline": baseline, "optimizer": optimizer, "modules": nn.ModuleList(modules)}
    identity = json.dumps(
        {"config": config.to_dict(), "critic": critic, "bounds": [s.label for s in specs], "seeds": seeds},
        sort_keys=True,
    )
    # First step at which member m was found non-finite (-1: never); kept in the checkpoint.
    frozen = torch.full((members,), -1, dtype=torch.long)
    first, spent, cpu_spent = _restore(checkpoint, identity, stateful, record, frozen)
    bar = _Progress(config.steps, f"staircase {critic} on {'+'.join(task_names)}", progress)
    bar.done = first
    start, cpu_start = time.perf_counter(), time.process_time()

    def save(step: int) -> None:
        if checkpoint is not None:
            _save_checkpoint(
                checkpoint,
                identity,
                stateful,
                record,
                step,
                spent + time.perf_counter() - start,
                cpu_spent + time.process_time() - cpu_start,
                frozen,
            )

    def check_health(step: int) -> None:
        bad = nonfinite_members(optimizer, stack)
        if baseline is not None:
            bad_baseline = nonfinite_members(optimizer, baseline)
            bad = bad | torch.tensor([row >= 0 and bool(bad_baseline[row]) for row in baseline_row])
        frozen[(frozen < 0) & bad] = step

    for step in range(first, config.steps):
        if step > first and step % checkpoint_every == 0:
            save(step)
        _, x, y = batches.batch(step, float(schedule[step]))
        scores = stack(_by_member(x, n_bounds), _by_member(y, n_bounds))  # [M, K, K]
        log_baselines = None
        if baseline is not None:
            log_baselines = baseline(_by_member(y, len(with_baseline))).squeeze(-1)  # [Mb, K]
        values = torch.stack(
            [
                module(scores[m], log_baselines[row]) if row >= 0 and log_baselines is not None else module(scores[m])
                for m, (module, row) in enumerate(zip(modules, baseline_row, strict=True))
            ]
        )
        optimizer.zero_grad(set_to_none=True)
        # Members are independent, so the gradient of the sum is every member's own gradient.
        (-values.sum()).backward()
        optimizer.step()
        record[step] = values.detach()
        if (step + 1) % HEALTH_CHECK_EVERY == 0 or step + 1 == config.steps:
            check_health(step + 1)
        bar.update()
    trained = first < config.steps  # False when a finished job's checkpoint was loaded
    seconds = spent + (time.perf_counter() - start if trained else 0.0)
    cpu_seconds = cpu_spent + (time.process_time() - cpu_start if trained else 0.0)
    if checkpoint is not None and trained:
        _save_checkpoint(checkpoint, identity, stateful, record, config.steps, seconds, cpu_seconds, frozen)
    bar.close()
    values = record.float().cpu().numpy().T.reshape(n_tasks, n_bounds, config.steps)
    return StackRun(values, seconds, cpu_seconds, members, frozen.numpy().reshape(n_tasks, n_bounds))


def _state(stateful: dict[str, Any]) -> dict[str, Any]:
    return {name: obj.state_dict() for name, obj in stateful.items() if obj is not None}


def _save_checkpoint(
    path: Path,
    identity: str,
    stateful: dict[str, Any],
    record: Tensor,
    step: int,
    seconds: float,
    cpu_seconds: float,
    frozen: Tensor,
) -> None:
    """Write the training state after ``step`` steps (atomically: a crash leaves the last one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, binary=True) as handle:
        torch.save(
            {
                "identity": identity,
                "step": step,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "record": record[:step].cpu(),
                "state": _state(stateful),
                "frozen": frozen.clone(),
            },
            handle,
        )


def _restore(
    path: Path | None, identity: str, stateful: dict[str, Any], record: Tensor, frozen: Tensor
) -> tuple[int, float, float]:
    """Load a checkpoint of the same job into ``stateful``, ``record`` and ``frozen``; return
    (steps done, seconds and CPU seconds spent). A missing checkpoint, or one of another job,
    starts at 0."""
    if path is None or not path.exists():
        return 0, 0.0, 0.0
    saved = torch.load(path, map_location=record.device, weights_only=True)
    if saved["identity"] != identity:
        return 0, 0.0, 0.0
    for name, state in saved["state"].items():
        stateful[name].load_state_dict(state)
    step = int(saved["step"])
    record[:step] = saved["record"].to(record)
    if "frozen" in saved:  # checkpoints written before the health check have none
        frozen.copy_(saved["frozen"])
    return step, float(saved["seconds"]), float(saved["cpu_seconds"])


def _structured_inputs(task: tasks.Task, x: Tensor, y: Tensor, needs: AbstractSet[str]) -> dict[str, Tensor]:
    inputs = {"log_conditional": task.log_conditional(x, y)}
    if "log_marginal" in needs:
        inputs["log_marginal"] = task.log_marginal_y(y)
    return inputs


def evaluate_structured(config: StaircaseConfig, specs: Sequence[BoundSpec], progress: str | None) -> StackRun:
    """The bounds that use the task's true conditional, on the same batches (no training)."""
    device = torch.device(config.device or "cpu")
    dtype = getattr(torch, config.dtype)
    needs = {need for spec in specs for need in spec.info.needs}
    schedule = config.schedule()
    batches = _Batches(config, device, dtype)
    record = torch.empty(config.steps, len(config.tasks), len(specs), dtype=torch.float64)
    bar = _Progress(config.steps, "staircase structured bounds (true conditional)", progress)
    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for step in range(config.steps):
            current, x, y = batches.batch(step, float(schedule[step]))
            for t, task in enumerate(current):
                inputs = _structured_inputs(task, x[t], y[t], needs)
                for b, spec in enumerate(specs):
                    args = [inputs[need] for need in spec.info.needs]
                    record[step, t, b] = spec.info.fn(*args, **spec.kwargs)
            bar.update()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    bar.close()
    return StackRun(record.numpy().transpose(1, 2, 0), seconds, cpu_seconds, 0)
