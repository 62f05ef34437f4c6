r"""The MI staircase of Poole et al. 2019 (their figure 2): every bound trained through rising MI.

A 20-d correlated Gaussian (and its cubic version) steps through 2, 4, 6, 8, 10 nats, 4,000 training
steps each, with a fresh batch of K = 64 pairs every step. Each lower bound trains its own critic
(and baseline, for TUBA and :math:`I_\alpha`) through all the stages with Adam (lr 5e-4); the
structured bounds (TNCE, the upper bounds) use the task's true conditional and need no training.
The output is the per-step estimates, per-stage bias, variance and MSE over the last 500 steps of
each stage, a figure laid out like the paper's, and Markdown/CSV tables.

Speed: at batch 64 a training step is dominated by per-step overhead (kernel launches, Python),
not arithmetic. So all the critics of a run, every (task, bound) pair, are one stacked critic
(:class:`mibounds.critics.StackedSeparableCritic` or :class:`~mibounds.critics.StackedConcatCritic`,
M members, one forward giving ``[M, K, K]``); member m's bound is taken on its slice, the losses
are summed, and one backward and one Adam step train everything. The members share no parameter
and Adam is elementwise, so this is exactly M separate trainings. The baselines are stacked too.
Every task sees the same underlying normal draws at a step (the cubic task is the Gaussian's
samples cubed), and both critics see the same batches: the comparisons are paired.

Example:
    >>> from mibounds.experiments import staircase
    >>> config = staircase.StaircaseConfig(
    ...     tasks=("gaussian",), critics=("separable",), bounds=("infonce", "nwj"), levels=(2.0,),
    ...     steps_per_level=5, hidden_dim=8, embed_dim=4, baseline_hidden_dim=8, window=5)
    >>> result = staircase.run_staircase(config, progress=False)
    >>> result.series("gaussian", "separable", "infonce").shape
    (5,)

Reference:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML. arXiv:1905.06922, section 4 and figure 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mibounds import bounds, critics, tasks
from mibounds._progress import progress_bar
from mibounds.estimation.training import nonfinite_rows
from mibounds.experiments.executors import exit_when_orphaned
from mibounds.experiments.figures import StaircasePanel, Table, save_figure, short, staircase_figure
from mibounds.validation import unknown_name_error

__all__ = [
    "DEFAULT_BOUNDS",
    "HEALTH_CHECK_EVERY",
    "BoundSpec",
    "StaircaseConfig",
    "JobTiming",
    "main",
    "StackRun",
    "StaircaseResult",
    "merge_results",
    "nonfinite_members",
    "run_staircase",
    "stacked_critic",
    "train_stack",
]

#: The bounds of the full staircase, as :meth:`BoundSpec.parse` labels.
DEFAULT_BOUNDS: tuple[str, ...] = (
    "nwj",
    "tuba",
    "infonce",
    "js",
    "dv",
    "mine",
    "smile:1",
    "smile:5",
    "smile:inf",
    "interpolated:0.01",
    "interpolated:0.5",
    "interpolated:0.99",
    "tnce",
    "rate",
    "leave_one_out_upper",
    "club",
)

# The hyper-parameter a "name:value" label sets, per bound.
_LABEL_PARAM = {"smile": "clip", "interpolated": "alpha", "mine": "rate"}
_STACKED_CRITICS: dict[str, type[nn.Module]] = {
    "separable": critics.StackedSeparableCritic,
    "concat": critics.StackedConcatCritic,
}
#: The critic name under which the structured bounds (true conditional, no training) are stored.
CONDITIONAL = "conditional"


def _format_value(value: Any) -> str:
    if value is None:
        return "inf"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class BoundSpec:
    """One curve of the staircase: a registry bound with fixed hyper-parameters.

    Attributes:
        label: Unique label, ``name`` or ``name:value`` (e.g. ``"smile:5"``, ``"interpolated:0.5"``).
        name: Registry name (:func:`mibounds.bounds.get`).
        params: Hyper-parameters as ``(key, value)`` pairs.
    """

    label: str
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, text: str) -> BoundSpec:
        """Parse ``"name"``, ``"name:value"`` or ``"name:key=value"``.

        ``value`` sets the bound's main hyper-parameter: ``clip`` for smile (``inf`` or ``none``
        for no clipping), ``alpha`` for interpolated, ``rate`` for mine.

        Raises:
            ValueError: For an unknown bound, a bound that takes no such parameter, or a value
                that is not a number.
        """
        name, _, value = str(text).strip().partition(":")
        info = bounds.get(name)
        if not value:
            return cls(info.name, info.name)
        key, eq, raw = value.partition("=")
        if not eq:
            key, raw = _LABEL_PARAM.get(info.name, ""), value
        if key not in info.params:
            allowed = ", ".join(info.params) or "none"
            raise ValueError(
                f"bound label {text!r}: bound {info.name!r} has no parameter {key or '(main)'!r}; "
                f"its parameters: {allowed}; write e.g. 'smile:5' or 'interpolated:alpha=0.5'"
            )
        parsed: Any
        if raw.strip().lower() in ("inf", "none"):
            parsed = None
        else:
            try:
                parsed = float(raw)
            except ValueError:
                raise ValueError(f"bound label {text!r}: {raw!r} is not a number (or 'inf')") from None
        label = f"{info.name}:{_format_value(parsed)}" if not eq else f"{info.name}:{key}={_format_value(parsed)}"
        return cls(label, info.name, ((key, parsed),))

    @property
    def info(self) -> bounds.BoundInfo:
        """The registry entry."""
        return bounds.get(self.name)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The hyper-parameters as keyword arguments."""
        return dict(self.params)

    @property
    def trained(self) -> bool:
        """True for bounds computed from a learned critic's scores."""
        return self.info.score_based

    def ceilings(self, k: int) -> dict[str, float]:
        """The published ceilings at batch size ``k`` (drawn dashed): label -> nats.

        ``log K`` for InfoNCE and TNCE; ``1 + log(K / alpha)`` for the interpolated bound
        (Poole et al. 2019, §2.4; the registry's tighter ``1 + log((K-1)/alpha)`` lies under it).
        """
        if self.name in ("infonce", "tnce"):
            return {"log K": math.log(k)}
        if self.name == "interpolated":
            alpha = self.kwargs.get("alpha", self.info.params.get("alpha"))
            if alpha:
                return {"1 + log(K/α)": 1.0 + math.log(k / alpha)}
        return {}


def _parse_specs(labels: Iterable[str]) -> list[BoundSpec]:
    specs = [BoundSpec.parse(label) for label in labels]
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            raise ValueError(f"bound {spec.label!r} is listed twice; list each bound once")
        seen.add(spec.label)
        missing = set(spec.info.needs) - {"scores", "log_baseline", "state", "log_conditional", "log_marginal"}
        if missing:
            raise ValueError(
                f"bound {spec.label!r} needs {', '.join(sorted(missing))}, which the staircase tasks do "
                "not provide (they give the critic's scores, log p(y|x) and log p(y)); leave it out"
            )
    return specs


@dataclass(frozen=True)
class StaircaseConfig:
    """Everything that defines a staircase run (defaults: Poole et al. 2019, §4).

    Attributes:
        tasks: Task family names (built with ``tasks.make(name, dim=dim, mi=level)``).
        critics: Learned critic architectures: ``"separable"`` and/or ``"concat"``.
        bounds: Bound labels (see :meth:`BoundSpec.parse`); score-based ones are trained, the
            structured ones use the task's ``log_conditional`` (and ``log_marginal_y``).
        dim: Dimension of x and of y.
        levels: MI levels (nats), visited in order.
        steps_per_level: Training steps per level.
        batch_size: K, pairs per step.
        learning_rate: Adam's learning rate.
        hidden_dim: Hidden units per layer of the critics.
        num_layers: Hidden layers of the critics (and baselines).
        embed_dim: Embedding size of the separable critic.
        baseline_hidden_dim: Hidden units per layer of the baseline MLP ``log a(y)``.
        baseline_num_layers: Hidden layers of the baseline MLP.
        window: Steps at the end of each stage over which bias, variance and MSE are taken.
        ema_span: Span of the EMA drawn in the figure.
        seed: Seeds the networks and the batches (batch t of every task uses the same seed).
        device: Torch device (default CPU).
        dtype: ``"float32"`` or ``"float64"``.
    """

    tasks: tuple[str, ...] = ("gaussian", "cubic")
    critics: tuple[str, ...] = ("separable", "concat")
    bounds: tuple[str, ...] = DEFAULT_BOUNDS
    dim: int = 20
    levels: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    steps_per_level: int = 4000
    batch_size: int = 64
    learning_rate: float = 5e-4
    hidden_dim: int = 256
    num_layers: int = 2
    embed_dim: int = 32
    baseline_hidden_dim: int = 512
    baseline_num_layers: int = 2
    window: int = 500
    ema_span: float = 200.0
    seed: int = 0
    device: str | None = None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("tasks", "critics", "bounds", "levels"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
            if not getattr(self, name):
                raise ValueError(f"{name} is empty; give at least one")
        object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))
        for name in self.tasks:
            tasks.get(name)
        for name in self.critics:
            if name not in _STACKED_CRITICS:
                raise unknown_name_error("staircase critic", name, _STACKED_CRITICS)
        _parse_specs(self.bounds)
        for name in ("dim", "steps_per_level", "window", "hidden_dim", "embed_dim", "baseline_hidden_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2 (the bounds need negatives), got {self.batch_size!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

    @property
    def steps(self) -> int:
        """Total training steps."""
        return len(self.levels) * self.steps_per_level

    @property
    def specs(self) -> list[BoundSpec]:
        """The parsed bounds, in order."""
        return _parse_specs(self.bounds)

    def schedule(self) -> np.ndarray:
        """The true MI per step, ``[steps]`` (nats)."""
        return tasks.mi_schedule(self.levels, self.steps_per_level)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StaircaseConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown staircase settings {unknown}; valid: {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# -- training ----------------------------------------------------------------------------------


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
    raise unknown_name_error("staircase critic", critic, _STACKED_CRITICS)


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
            self.tasks = [tasks.make(name, dim=self.config.dim, mi=mi) for name in self.config.tasks]
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
            print(f"{self.description}: step {self.done}/{self.steps}, {seconds:.0f} s "
                  f"({1e3 * seconds / self.done:.1f} ms/step)", flush=True)

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
        members: Critics trained together (0 for the structured bounds).
        frozen: ``[tasks, bounds]`` the first checked step at which a critic's weights or Adam
            state held NaN/inf (from then on it no longer learns), or -1.
    """

    values: np.ndarray
    seconds: float
    cpu_seconds: float
    members: int
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
    tensors = [t for p in parameters
               for t in (p, *(v for v in optimizer.state.get(p, {}).values()
                              if isinstance(v, Tensor) and v.shape == p.shape))]
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
    probe = tasks.make(config.tasks[0], dim=config.dim, mi=config.levels[0])
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
    stateful = {"stack": stack, "baseline": baseline, "optimizer": optimizer,
                "modules": nn.ModuleList(modules)}
    identity = json.dumps({"config": config.to_dict(), "critic": critic, "bounds": [s.label for s in specs],
                           "seeds": seeds}, sort_keys=True)
    # First step at which member m was found non-finite (-1: never); kept in the checkpoint.
    frozen = torch.full((members,), -1, dtype=torch.long)
    first, spent, cpu_spent = _restore(checkpoint, identity, stateful, record, frozen)
    bar = _Progress(config.steps, f"staircase {critic} on {'+'.join(task_names)}", progress)
    bar.done = first
    start, cpu_start = time.perf_counter(), time.process_time()

    def save(step: int) -> None:
        if checkpoint is not None:
            _save_checkpoint(checkpoint, identity, stateful, record, step,
                             spent + time.perf_counter() - start, cpu_spent + time.process_time() - cpu_start,
                             frozen)

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
                module(scores[m], log_baselines[row]) if row >= 0 else module(scores[m])
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


def _save_checkpoint(path: Path, identity: str, stateful: dict[str, Any], record: Tensor, step: int,
                     seconds: float, cpu_seconds: float, frozen: Tensor) -> None:
    """Write the training state after ``step`` steps (atomically: a crash leaves the last one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save({"identity": identity, "step": step, "seconds": seconds, "cpu_seconds": cpu_seconds,
                "record": record[:step].cpu(), "state": _state(stateful), "frozen": frozen.clone()}, partial)
    partial.replace(path)


def _restore(path: Path | None, identity: str, stateful: dict[str, Any], record: Tensor,
             frozen: Tensor) -> tuple[int, float, float]:
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


def _structured_inputs(task: tasks.Task, x: Tensor, y: Tensor, needs: set[str]) -> dict[str, Tensor]:
    inputs = {"log_conditional": task.log_conditional(x, y)}
    if "log_marginal" in needs:
        inputs["log_marginal"] = task.log_marginal_y(y)
    return inputs


def _evaluate_structured(config: StaircaseConfig, specs: Sequence[BoundSpec], progress: str | None) -> StackRun:
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


@dataclass(frozen=True)
class JobTiming:
    """Wall-clock of one job of a staircase run.

    Attributes:
        critic: ``"separable"``, ``"concat"`` or ``"conditional"`` (structured bounds, no training).
        tasks: The tasks the job ran (stacked in one critic when several).
        members: Critics trained together in the stack (0 for the structured bounds).
        steps: Steps per task.
        seconds: Wall-clock of the job's loop.
        cpu_seconds: CPU time of the job's process over the loop (all its threads).
    """

    critic: str
    tasks: tuple[str, ...]
    members: int
    steps: int
    seconds: float
    cpu_seconds: float


def _job(
    config: dict[str, Any], critic: str, task_names: tuple[str, ...], progress: str | None, threads: int | None,
    checkpoint_dir: str | None = None,
) -> StackRun:
    """One unit of work (module level, so worker processes can run it)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        cfg = StaircaseConfig.from_dict(config)
        if critic == CONDITIONAL:
            return _evaluate_structured(cfg, [s for s in cfg.specs if not s.trained], progress)
        checkpoint = Path(checkpoint_dir) / f"{critic}-{'+'.join(task_names)}.pt" if checkpoint_dir else None
        return train_stack(cfg, critic, task_names, [s for s in cfg.specs if s.trained], progress,
                           checkpoint=checkpoint)
    finally:
        torch.set_num_threads(previous)


def run_staircase(
    config: StaircaseConfig | None = None,
    *,
    workers: int = 1,
    threads: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    checkpoint_dir: str | Path | None = None,
) -> StaircaseResult:
    """Run the staircase: train every score-based bound's critic, evaluate the structured bounds.

    The work is split into jobs: with ``workers == 1`` one job per critic architecture (every task
    and bound in one stacked critic) plus one for the structured bounds, run in this process;
    with ``workers > 1`` one job per (critic, task), run by that many worker processes. Results
    do not depend on the split: every (task, bound) critic has its own seeded initialization and
    the same batches. At batch 64 each job is compute-bound on a CPU core and intra-op threads
    gain little (and lose much when the cores are shared), so on a CPU the fastest setup is
    ``workers`` = the number of cores with ``threads=1`` (the default when ``workers > 1``).

    Args:
        config: The setup (default: the full Poole et al. 2019 staircase, both critics).
        workers: Worker processes (1: everything in this process).
        threads: Torch intra-op threads per job (default: torch's setting when ``workers == 1``,
            else 1).
        progress: Show progress: tqdm bars with ``workers == 1`` (when tqdm is installed), else a
            line per tenth of each job on stdout.
        log: Called with a line of text after each job finishes (e.g. ``print``).
        checkpoint_dir: A folder for each training job's checkpoint (see :func:`train_stack`):
            run the same staircase with the same folder again after an interruption and every
            job resumes where it stopped (finished jobs are not repeated).

    Returns:
        A :class:`StaircaseResult` with every per-step estimate and the wall-clock per job.
    """
    config = config or StaircaseConfig()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    specs = config.specs
    # The short jobs first: the structured bounds, then the separable critic, then the concat one.
    groups: dict[str, list[BoundSpec]] = {}
    if any(not s.trained for s in specs):
        groups[CONDITIONAL] = [s for s in specs if not s.trained]
    for critic in config.critics:
        if any(s.trained for s in specs):
            groups[critic] = [s for s in specs if s.trained]
    split = [(task,) for task in config.tasks]  # one job per task, for worker processes
    jobs = [(critic, names) for critic in groups
            for names in ([config.tasks] if workers == 1 or critic == CONDITIONAL else split)]
    if workers > 1 and threads is None:
        threads = 1
    payload = config.to_dict()
    folder = None if checkpoint_dir is None else str(checkpoint_dir)
    start = time.perf_counter()
    runs: dict[tuple[str, tuple[str, ...]], StackRun] = {}

    def done(job: tuple[str, tuple[str, ...]], run: StackRun) -> None:
        runs[job] = run
        if log is not None:
            critic, names = job
            log(
                f"staircase {critic} on {'+'.join(names)}: {len(groups[critic])} bounds, {config.steps} steps in "
                f"{run.seconds:.1f} s ({run.cpu_seconds:.1f} s CPU, {1e3 * run.seconds / config.steps:.2f} ms/step)"
            )

    if workers == 1:
        for job in jobs:
            done(job, _job(payload, *job, "bar" if progress else None, threads, folder))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Workers die with the parent (no orphan trains on after a kill); checkpoints keep the work.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=exit_when_orphaned) as pool:
            futures = {pool.submit(_job, payload, *job, "log" if progress else None, threads, folder): job
                       for job in jobs}
            for future in as_completed(futures):
                done(futures[future], future.result())
    wall_seconds = time.perf_counter() - start

    keys: list[tuple[str, str, str]] = []
    blocks: list[np.ndarray] = []
    timings: list[JobTiming] = []
    frozen: dict[tuple[str, str, str], int] = {}
    for critic, group in groups.items():
        for job in (j for j in jobs if j[0] == critic):
            run = runs[job]
            for t, task in enumerate(job[1]):
                for b, spec in enumerate(group):
                    keys.append((task, critic, spec.label))
                    blocks.append(run.values[t, b])
                    if run.frozen is not None and run.frozen[t, b] >= 0:
                        frozen[(task, critic, spec.label)] = int(run.frozen[t, b])
            timings.append(JobTiming(critic, job[1], run.members, config.steps, run.seconds, run.cpu_seconds))
    order = sorted(range(len(keys)), key=lambda i: (config.tasks.index(keys[i][0]), keys[i][1] == CONDITIONAL, i))
    values = np.stack([blocks[i] for i in order]).astype(np.float32) if blocks else np.empty((0, config.steps), np.float32)
    if log is not None:
        log(f"staircase: {len(jobs)} jobs on {workers} worker(s) in {wall_seconds:.1f} s wall-clock")
    return StaircaseResult(config, config.schedule(), [keys[i] for i in order], values, timings, wall_seconds,
                           frozen)


# -- results -----------------------------------------------------------------------------------


def stage_statistics(values: np.ndarray, truth: float) -> dict[str, float]:
    """Bias, variance and MSE (nats, nats²) of estimates ``values`` of the true MI ``truth``.

    Non-finite estimates are left out of the moments and counted in ``"nonfinite"``.
    """
    finite = values[np.isfinite(values)].astype(np.float64)
    n = finite.size
    nan = float("nan")
    mean = float(finite.mean()) if n else nan
    return {
        "mean": mean,
        "bias": mean - truth,
        "variance": float(finite.var(ddof=1)) if n > 1 else nan,
        "mse": float(np.mean((finite - truth) ** 2)) if n else nan,
        "nonfinite": int(values.size - n),
    }


@dataclass
class StaircaseResult:
    """Per-step estimates of a staircase run and what is derived from them.

    Attributes:
        config: The configuration that produced it.
        true_mi: ``[steps]`` true MI per step (nats).
        keys: ``(task, critic, bound label)`` per row of ``values``; the structured bounds have the
            critic ``"conditional"`` (the task's true ``log p(y|x)``).
        values: ``[len(keys), steps]`` estimates (nats).
        timings: Wall-clock of every job.
        wall_seconds: Wall-clock of the whole run.
        frozen: ``(task, critic, bound label) -> step`` for critics whose weights or Adam state
            were found NaN/inf at that step (checked every :data:`HEALTH_CHECK_EVERY` steps): from
            then on the critic no longer learns, and its estimates say so, not the bound.
    """

    config: StaircaseConfig
    true_mi: np.ndarray
    keys: list[tuple[str, str, str]]
    values: np.ndarray
    timings: list[JobTiming] = field(default_factory=list)
    wall_seconds: float = float("nan")
    frozen: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def series(self, task: str, critic: str, bound: str) -> np.ndarray:
        """The per-step estimates of one bound (label) trained with one critic on one task."""
        try:
            return self.values[self.keys.index((task, critic, bound))]
        except ValueError:
            raise KeyError(
                f"no series ({task!r}, {critic!r}, {bound!r}); this run has tasks {list(self.config.tasks)}, "
                f"critics {sorted({k[1] for k in self.keys})} and bounds {list(self.config.bounds)}"
            ) from None

    @property
    def critics(self) -> list[str]:
        """The critics present (learned ones first, then ``"conditional"``), in run order."""
        return list(dict.fromkeys(k[1] for k in self.keys))

    def stage_table(self) -> Table:
        """Per (task, critic, bound, stage): estimates over the last ``window`` steps of the stage.

        Columns: task, critic, bound, kind, stage, true_mi, mean, bias, variance, mse, max (the
        largest estimate anywhere in the stage), ceiling (published, or NaN), nonfinite.
        """
        cfg = self.config
        window = min(cfg.window, cfg.steps_per_level)
        specs = {s.label: s for s in cfg.specs}
        table = Table(
            ("task", "critic", "bound", "kind", "stage", "true_mi", "mean", "bias", "variance", "mse",
             "max", "ceiling", "nonfinite"),
            title=f"Staircase: estimates over the last {window} steps of each stage (nats)",
        )
        for (task, critic, label), series in zip(self.keys, self.values, strict=True):
            spec = specs[label]
            ceiling = min(spec.ceilings(cfg.batch_size).values(), default=float("nan"))
            for stage, level in enumerate(cfg.levels):
                end = (stage + 1) * cfg.steps_per_level
                stats = stage_statistics(series[end - window : end], level)
                whole = series[end - cfg.steps_per_level : end]
                whole = whole[np.isfinite(whole)]
                top = float(whole.max()) if whole.size else float("nan")
                table.rows.append((
                    task, critic, label, spec.info.kind, stage + 1, level, stats["mean"], stats["bias"],
                    stats["variance"], stats["mse"], top, ceiling, stats["nonfinite"],
                ))
        return table

    def timing_table(self) -> Table:
        """Wall-clock per job (training loop, or evaluation for the structured bounds), and in all."""
        table = Table(("critic", "tasks", "critics_in_stack", "steps", "seconds", "ms_per_step", "cpu_seconds"),
                      title=f"Staircase wall-clock: {self.wall_seconds:.1f} s in all")
        for job in self.timings:
            table.rows.append((job.critic, "+".join(job.tasks), job.members, job.steps, job.seconds,
                               1e3 * job.seconds / job.steps, job.cpu_seconds))
        return table

    def markdown(self) -> str:
        """The stage table as one compact Markdown table per (task, critic), plus the timing."""
        cfg = self.config
        stages = self.stage_table()
        parts = [stages.title and f"### {stages.title}\n",
                 "Each cell: bias / variance / MSE over the last "
                 f"{min(cfg.window, cfg.steps_per_level)} steps of the stage; `max`: largest estimate "
                 "in the whole run; `ceiling`: published ceiling.\n"]
        for task in cfg.tasks:
            for critic in self.critics:
                rows = stages.where(task=task, critic=critic)
                if not rows.rows:
                    continue
                columns = ("bound", *(f"I = {lvl:g}" for lvl in cfg.levels), "max", "ceiling")
                compact = Table(columns, title=f"{task}, critic: {critic}")
                for label in dict.fromkeys(rows.column("bound")):
                    recs = rows.where(bound=label).records()
                    cells = [f"{short(r['bias'])} / {r['variance']:.3g} / {r['mse']:.3g}" for r in recs]
                    compact.rows.append((label, *cells, max(r["max"] for r in recs), recs[0]["ceiling"]))
                parts.append(compact.to_markdown(digits=2))
        checks = self.checks()
        if checks.rows:
            parts.append(checks.to_markdown(digits=3))
        if self.frozen:
            parts.append("**Critics that stopped learning** (weights or Adam state NaN/inf, e.g. a gradient "
                         "of e^f too large for the dtype; their later estimates are a frozen critic's):\n")
            parts += [f"- {task}, {critic}, {label}: from step {step}" for (task, critic, label), step
                      in sorted(self.frozen.items(), key=lambda item: (item[1], item[0]))]
            parts.append("")
        parts.append(self.timing_table().to_markdown(digits=2))
        return "\n".join(parts)

    def checks(self) -> Table:
        """The published behaviour (Poole et al. 2019, §4), checked on this run's stage table.

        Per task and learned critic: InfoNCE never above log K (every step); InfoNCE within 0.3
        nats of the truth at the first level; NWJ and JS with a larger variance than InfoNCE at
        the two highest levels; every I_alpha under its ceiling 1 + log(K/alpha) (every step).
        Checks whose bounds are not in the run are left out.

        Returns:
            Columns: task, critic, check, observed, expected, holds (``"yes"``/``"no"``).
        """
        cfg = self.config
        stages = self.stage_table()
        labels = {s.label for s in cfg.specs}
        table = Table(("task", "critic", "check", "observed", "expected", "holds"),
                      title="Published behaviour, checked on this run")

        def add(task: str, critic: str, check: str, observed: float, expected: str, holds: bool) -> None:
            table.rows.append((task, critic, check, observed, expected, "yes" if holds else "no"))

        log_k = math.log(cfg.batch_size)
        high = cfg.levels[-2:]
        for task in cfg.tasks:
            for critic in (c for c in self.critics if c != CONDITIONAL):
                rows = stages.where(task=task, critic=critic)
                if "infonce" in labels:
                    top = float(np.nanmax(self.series(task, critic, "infonce")))
                    add(task, critic, "max InfoNCE estimate (any step)", top, f"<= log K = {log_k:.3f}", top <= log_k)
                    first = rows.where(bound="infonce", stage=1).records()[0]
                    add(task, critic, f"InfoNCE bias at I = {cfg.levels[0]:g}", first["bias"], "abs(bias) <= 0.3",
                        abs(first["bias"]) <= 0.3)
                    for other in ("nwj", "js"):
                        if other not in labels:
                            continue
                        for level in high:
                            mine = rows.where(bound=other, true_mi=level).records()[0]["variance"]
                            ref = rows.where(bound="infonce", true_mi=level).records()[0]["variance"]
                            add(task, critic, f"variance {other} / infonce at I = {level:g}", mine / ref, "> 1",
                                mine > ref)
                for spec in (s for s in cfg.specs if s.name == "interpolated"):
                    ceiling = spec.ceilings(cfg.batch_size)["1 + log(K/α)"]
                    top = float(np.nanmax(self.series(task, critic, spec.label)))
                    add(task, critic, f"max {spec.label} estimate (any step)", top, f"<= {ceiling:.3f}",
                        top <= ceiling)
        return table

    def panels(self, task: str) -> list[StaircasePanel]:
        """One figure panel per bound of ``task``: every critic's series, and the ceilings."""
        panels = []
        for spec in self.config.specs:
            curves = {c: self.series(task, c, spec.label) for c in self.critics if (task, c, spec.label) in self.keys}
            panels.append(StaircasePanel(spec.label, curves, spec.ceilings(self.config.batch_size)))
        return panels

    def figure(self, task: str) -> Any:
        """The staircase figure of one task (a matplotlib ``Figure``)."""
        cfg = self.config
        return staircase_figure(
            self.panels(task), self.true_mi, span=cfg.ema_span,
            title=f"{task} (d = {cfg.dim}, K = {cfg.batch_size}): raw estimates (light), "
            f"EMA span {cfg.ema_span:g} (dark), true MI (black), ceilings (dashed)",
        )

    def save(self, directory: str | Path, *, figures: bool = True, dpi: int = 100) -> dict[str, Path]:
        """Write the estimates (npz, CSV), the stage table (CSV, Markdown), timing and figures.

        Files: ``staircase_estimates.npz`` (reload with :meth:`load`), ``staircase_estimates.csv``
        (one column per series), ``staircase_stages.csv``, ``staircase.md``,
        ``staircase_timing.csv`` and ``staircase_<task>.png``.

        Returns:
            What was written: name -> path.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        keys = np.array(["|".join(k) for k in self.keys], dtype=np.str_)
        meta = json.dumps({"config": self.config.to_dict(), "wall_seconds": self.wall_seconds,
                           "timings": [dataclasses.asdict(t) for t in self.timings],
                           "frozen": [["|".join(k), step] for k, step in self.frozen.items()]})
        written["npz"] = out / "staircase_estimates.npz"
        np.savez_compressed(written["npz"], true_mi=self.true_mi, values=self.values, keys=keys,
                            meta=np.array(meta, dtype=np.str_))
        written["estimates_csv"] = out / "staircase_estimates.csv"
        columns = np.column_stack([np.arange(len(self.true_mi)), self.true_mi, self.values.T])
        np.savetxt(written["estimates_csv"], columns, fmt="%.7g", delimiter=",", comments="",
                   header=",".join(["step", "true_mi", *("/".join(k) for k in self.keys)]))
        written["stages_csv"] = self.stage_table().to_csv(out / "staircase_stages.csv")
        written["timing_csv"] = self.timing_table().to_csv(out / "staircase_timing.csv")
        written["markdown"] = out / "staircase.md"
        written["markdown"].write_text(self.markdown())
        if figures:
            for task in self.config.tasks:
                written[f"png_{task}"] = save_figure(self.figure(task), out / f"staircase_{task}.png", dpi=dpi)
        return written

    @classmethod
    def load(cls, path: str | Path) -> StaircaseResult:
        """Read a result written by :meth:`save` (a directory or the ``.npz`` file)."""
        path = Path(path)
        if path.is_dir():
            path = path / "staircase_estimates.npz"
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            keys = [tuple(str(k).split("|")) for k in data["keys"]]
            timings = [JobTiming(**{**t, "tasks": tuple(t["tasks"])}) for t in meta["timings"]]
            frozen = {tuple(k.split("|")): int(step) for k, step in meta.get("frozen", [])}
            return cls(StaircaseConfig.from_dict(meta["config"]), data["true_mi"], keys,  # type: ignore[arg-type]
                       data["values"], timings, meta["wall_seconds"], frozen)  # type: ignore[arg-type]



def merge_results(results: Sequence[StaircaseResult]) -> StaircaseResult:
    """One result from runs of the same staircase with different critics (e.g. run separately).

    Series present in several runs (the structured bounds) are taken from the first; the wall-clock
    is the sum of the runs' (they ran one after the other).

    Raises:
        ValueError: If the runs differ in anything but the critics.
    """
    if not results:
        raise ValueError("merge_results needs at least one result")
    first = results[0]
    base = dataclasses.replace(first.config, critics=("separable",))
    for other in results[1:]:
        if dataclasses.replace(other.config, critics=("separable",)) != base:
            raise ValueError(
                "can only merge staircase runs that differ in their critics; these differ in "
                + ", ".join(k for k, v in first.config.to_dict().items()
                            if k != "critics" and other.config.to_dict()[k] != v)
            )
    keys, rows = [], []
    for result in results:
        for key, row in zip(result.keys, result.values, strict=True):
            if key not in keys:
                keys.append(key)
                rows.append(row)
    critics_run = tuple(dict.fromkeys(c for r in results for c in r.config.critics))
    order = sorted(range(len(keys)), key=lambda i: (first.config.tasks.index(keys[i][0]), keys[i][1] == CONDITIONAL, i))
    return StaircaseResult(
        dataclasses.replace(first.config, critics=critics_run), first.true_mi, [keys[i] for i in order],
        np.stack([rows[i] for i in order]), [t for r in results for t in r.timings],
        sum(r.wall_seconds for r in results), {k: v for r in reversed(results) for k, v in r.frozen.items()},
    )


def main(args: Any) -> int:
    """``mibounds bench staircase`` (arguments defined in :mod:`mibounds.cli.bench`)."""
    import os

    from mibounds.experiments.figures import require_matplotlib

    if not args.no_figures:
        require_matplotlib("--no-figures")  # now, not after hours of training
    if args.from_dirs:
        result = merge_results([StaircaseResult.load(path) for path in args.from_dirs])
    else:
        config = StaircaseConfig(
            tasks=tuple(args.tasks), critics=tuple(args.critics), bounds=tuple(args.bounds or DEFAULT_BOUNDS),
            levels=tuple(args.levels), steps_per_level=args.steps_per_level, batch_size=args.batch_size,
            learning_rate=args.lr, hidden_dim=args.hidden_dim, embed_dim=args.embed_dim,
            baseline_hidden_dim=args.baseline_hidden_dim, window=args.window, seed=args.seed, device=args.device,
        )
        workers = args.workers
        if workers is None:
            on_cpu = torch.device(config.device or "cpu").type == "cpu"
            jobs = len(config.critics) * len(config.tasks) + 1
            workers = min(os.cpu_count() or 1, jobs) if on_cpu else 1
        result = run_staircase(config, workers=workers, threads=args.threads, progress=not args.no_progress,
                               log=print, checkpoint_dir=Path(args.out) / "checkpoints")
    written = result.save(args.out, figures=not args.no_figures)
    print(result.timing_table().to_markdown(digits=1))
    for path in written.values():
        print(f"wrote {path}")
    print(f"staircase wall-clock: {result.wall_seconds:.1f} s")
    return 0
