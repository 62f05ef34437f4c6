"""``run_staircase``: split the staircase into jobs, run them (here or in worker processes), collect.

Example:
    >>> from mibounds.experiments.staircase import StaircaseConfig, run_staircase
    >>> config = StaircaseConfig(tasks=("gaussian",), critics=("separable",), bounds=("nwj", "tnce"), dim=2,
    ...                          levels=(1.0,), steps_per_level=4, hidden_dim=4, embed_dim=2, window=4)
    >>> result = run_staircase(config, progress=False)
    >>> result.keys
    [('gaussian', 'separable', 'nwj'), ('gaussian', 'conditional', 'tnce')]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mibounds.experiments.staircase.config import CONDITIONAL, BoundSpec, StaircaseConfig
from mibounds.experiments.staircase.result import JobTiming, StaircaseResult
from mibounds.experiments.staircase.training import StackRun, evaluate_structured, train_stack
from mibounds.experiments.sweep.executors import ProcessExecutor
from mibounds.validation import check_int

__all__ = ["run_staircase"]


def _job(
    config: dict[str, Any],
    critic: str,
    task_names: tuple[str, ...],
    progress: str | None,
    threads: int | None,
    checkpoint_dir: str | None = None,
) -> StackRun:
    """One unit of work (module level, so worker processes can run it)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        cfg = StaircaseConfig.from_dict(config)
        if critic == CONDITIONAL:
            return evaluate_structured(cfg, [s for s in cfg.specs if not s.trained], progress)
        checkpoint = Path(checkpoint_dir) / f"{critic}-{'+'.join(task_names)}.pt" if checkpoint_dir else None
        return train_stack(
            cfg, critic, task_names, [s for s in cfg.specs if s.trained], progress, checkpoint=checkpoint
        )
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
    workers = check_int(workers, "workers", minimum=1)
    specs = config.specs
    # The short jobs first: the structured bounds, then the separable critic, then the concat one.
    groups: dict[str, list[BoundSpec]] = {}
    if any(not s.trained for s in specs):
        groups[CONDITIONAL] = [s for s in specs if not s.trained]
    for critic in config.critics:
        if any(s.trained for s in specs):
            groups[critic] = [s for s in specs if s.trained]
    split = [(task,) for task in config.tasks]  # one job per task, for worker processes
    jobs = [
        (critic, names)
        for critic in groups
        for names in ([config.tasks] if workers == 1 or critic == CONDITIONAL else split)
    ]
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
        # Workers ignore Ctrl-C and die with the parent (no orphan trains on after a kill); an
        # interrupted run stops them; checkpoints keep the work.
        executor = ProcessExecutor(workers, threads_per_worker=threads)
        arguments = [(payload, *job, "log" if progress else None, threads, folder) for job in jobs]
        for index, run in executor.map_jobs(_job, arguments):
            done(jobs[index], run)
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
            timings.append(JobTiming(critic, job[1], run.num_members, config.steps, run.seconds, run.cpu_seconds))
    order = sorted(range(len(keys)), key=lambda i: (config.tasks.index(keys[i][0]), keys[i][1] == CONDITIONAL, i))
    values = (
        np.stack([blocks[i] for i in order]).astype(np.float32) if blocks else np.empty((0, config.steps), np.float32)
    )
    if log is not None:
        log(f"staircase: {len(jobs)} jobs on {workers} worker(s) in {wall_seconds:.1f} s wall-clock")
    return StaircaseResult(config, config.schedule(), [keys[i] for i in order], values, timings, wall_seconds, frozen)
