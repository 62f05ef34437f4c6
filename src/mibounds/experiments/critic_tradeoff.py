"""Separable vs concatenated critic: time per training step and error on the staircase, side by side.

The separable critic ``g(x) . h(y)`` costs O(K) network evaluations per batch, the concatenated
(joint) critic ``f([x, y])`` O(K^2) (every pair), in exchange for being able to represent any
log density ratio. This experiment puts the price and the gain side by side:

- time per training step (forward, backward, Adam) of one critic alone (trained with InfoNCE), of
  a stack of one critic per trained bound, and of the staircase run itself;
- per bound, the MSE and the bias of the staircase estimates with each critic.

The errors come from a staircase run with both critics: a saved one (the output of
``mibounds bench staircase``) or a shorter run made here.

Example:
    >>> from mibounds.experiments.critic_tradeoff import critic_parameters
    >>> from mibounds.experiments.staircase import StaircaseConfig
    >>> config = StaircaseConfig(dim=2, hidden_dim=4, embed_dim=2, num_layers=1)
    >>> critic_parameters(config, "separable"), critic_parameters(config, "concat")
    (44, 25)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mibounds import critics
from mibounds.experiments.figures import Table, short
from mibounds.experiments.outputs import write_text
from mibounds.experiments.staircase.config import StaircaseConfig
from mibounds.experiments.staircase.result import StaircaseResult
from mibounds.experiments.staircase.run import run_staircase
from mibounds.experiments.staircase.training import train_stack

__all__ = [
    "DEFAULT_CONFIG",
    "TIMING_STEPS",
    "CriticTradeoffResult",
    "critic_parameters",
    "critic_tradeoff",
    "run_critic_tradeoff",
    "time_training_step",
]

_LEARNED = ("separable", "concat")
#: The shorter staircase that :func:`run_critic_tradeoff` runs by default.
DEFAULT_CONFIG = StaircaseConfig(tasks=("gaussian",), steps_per_level=1000)
#: Steps per timing of a training step.
TIMING_STEPS = 20


def critic_parameters(config: StaircaseConfig, critic: str) -> int:
    """Trainable parameters of one critic of the staircase's architecture."""
    task = config.task_at(config.tasks[0], config.levels[0])
    options: dict[str, Any] = {"hidden_dim": config.hidden_dim, "num_layers": config.num_layers}
    if critic == "separable":
        options["embed_dim"] = config.embed_dim
    net = critics.make(critic, task.dim_x, task.dim_y, **options)
    return sum(p.numel() for p in net.parameters())


def time_training_step(
    config: StaircaseConfig,
    critic: str,
    bounds: Sequence[str],
    *,
    steps: int = TIMING_STEPS,
    repeats: int = 3,
    threads: int | None = 1,
) -> float:
    """Seconds per staircase training step of one stack (one critic per bound in ``bounds``).

    The fastest of ``repeats`` timings of ``steps`` steps (after one warm-up run), one task, with
    ``threads`` torch threads (1, like the staircase's worker processes), so that other load on
    the machine disturbs the number as little as possible.
    """
    brief = dataclasses.replace(
        config,
        tasks=config.tasks[:1],
        levels=config.levels[:1],
        bounds=tuple(bounds),
        steps_per_level=steps,
        window=min(config.window, steps),
    )
    specs = brief.specs
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        train_stack(brief, critic, brief.tasks, specs, None)
        return min(train_stack(brief, critic, brief.tasks, specs, None).seconds / steps for _ in range(repeats))
    finally:
        torch.set_num_threads(previous)


@dataclass
class CriticTradeoffResult:
    """The side-by-side tables.

    Attributes:
        timing: Per critic: parameters, ms per step alone, ms per step of the stack of every
            trained bound (and per member), and the staircase run's ms per step and seconds.
        errors: Per (task, bound): each critic's MSE averaged over the stages, and its bias at
            every stage.
        staircase: The staircase run the errors come from.
    """

    timing: Table
    errors: Table
    staircase: StaircaseResult

    def markdown(self) -> str:
        """Both tables in Markdown."""
        return self.timing.to_markdown(digits=1) + "\n" + self.errors.to_markdown(digits=2)

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``critics_timing.csv``, ``critics_errors.csv`` and ``critics.md``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = {
            "timing_csv": self.timing.to_csv(out / "critics_timing.csv"),
            "errors_csv": self.errors.to_csv(out / "critics_errors.csv"),
            "markdown": out / "critics.md",
        }
        write_text(written["markdown"], self.markdown())
        return written


def critic_tradeoff(staircase: StaircaseResult, *, timing_steps: int = TIMING_STEPS) -> CriticTradeoffResult:
    """Compare the critics of a staircase run that has both, and time a training step of each.

    Args:
        staircase: A run with the separable and the concat critic.
        timing_steps: Steps per timing (see :func:`time_training_step`).

    Raises:
        ValueError: If the run lacks one of the two critics.
    """
    config = staircase.config
    missing = [c for c in _LEARNED if c not in staircase.critics]
    if missing:
        raise ValueError(
            f"the staircase run has no {', '.join(missing)} critic; run it with --critics separable concat "
            "(or merge runs of each with mibounds bench staircase --from DIR1 DIR2)"
        )
    trained = [s.label for s in config.specs if s.trained]
    timing = Table(
        (
            "critic",
            "parameters",
            "ms/step, 1 critic",
            f"ms/step, stack of {len(trained)}",
            "ms/step per stacked critic",
            "staircase ms/step (per task)",
            "staircase seconds (per task)",
        ),
        title=f"Time per training step at K = {config.batch_size} (forward, backward, Adam; 1 thread)",
    )
    for critic in _LEARNED:
        alone = time_training_step(config, critic, ["infonce"], steps=timing_steps)
        stacked = time_training_step(config, critic, trained, steps=timing_steps)
        jobs = [j for j in staircase.timings if j.critic == critic]
        run_seconds = float(np.mean([j.seconds / len(j.tasks) for j in jobs])) if jobs else float("nan")
        timing.rows.append(
            (
                critic,
                critic_parameters(config, critic),
                1e3 * alone,
                1e3 * stacked,
                1e3 * stacked / len(trained),
                1e3 * run_seconds / config.steps,
                run_seconds,
            )
        )

    stages = staircase.stage_table()
    levels = ", ".join(f"{lvl:g}" for lvl in config.levels)
    errors = Table(
        ("task", "bound", *(f"{c} MSE" for c in _LEARNED), *(f"{c} bias at I = {levels}" for c in _LEARNED)),
        title=f"Staircase error by critic (last {min(config.window, config.steps_per_level)} steps of each "
        "stage; MSE averaged over the stages, nats²; bias per stage, nats)",
    )
    for task in config.tasks:
        for bound in trained:
            recs = {c: stages.where(task=task, critic=c, bound=bound).records() for c in _LEARNED}
            errors.rows.append(
                (
                    task,
                    bound,
                    *(float(np.mean([r["mse"] for r in recs[c]])) for c in _LEARNED),
                    *(" / ".join(short(r["bias"]) for r in recs[c]) for c in _LEARNED),
                )
            )
    return CriticTradeoffResult(timing, errors, staircase)


def run_critic_tradeoff(
    config: StaircaseConfig | None = None,
    *,
    workers: int = 1,
    timing_steps: int = TIMING_STEPS,
    log: Callable[[str], None] | None = None,
) -> CriticTradeoffResult:
    """Run a (by default shorter) staircase with both critics and compare them.

    Args:
        config: The staircase; default: the Gaussian task, 1,000 steps per level, both critics.
        workers: Worker processes of the staircase run.
        timing_steps: Steps per timing.
        log: Called with progress lines.
    """
    config = config or DEFAULT_CONFIG
    config = dataclasses.replace(config, critics=_LEARNED)
    return critic_tradeoff(
        run_staircase(config, workers=workers, progress=log is not None, log=log), timing_steps=timing_steps
    )
