"""Staircase with the separable critic: time per training step, and the projected full run.

The staircase trains one critic per bound (12 trained bounds per task) at batch K = 64. This
script times one training step of one task's 12 critics, three ways, in interleaved rounds (the
fastest round is kept, so other load on the machine disturbs the variants alike):

- ``loop``: 12 ``SeparableCritic`` s (and 4 ``MLPBaseline`` s) with one Adam each, stepped one after
  the other (independent training loops);
- ``stacked``: what the staircase runs (:func:`mibounds.experiments.staircase.train_stack`): one
  stacked critic and one stacked baseline, each bound on its member's slice, one backward, one
  fused Adam step;
- ``stacked, no bounds``: the same networks with a trivial loss instead of the 12 bounds (what a
  fully vectorized bound evaluation could at best save).

It then projects the full separable staircase (2 tasks x 20,000 steps, both tasks in parallel
worker processes, plus the structured bounds) from the stacked step time, against the 20-minute
budget on 2 CPU cores, and prints the CPU time per step too (unaffected by other processes, so a
better guide on a shared machine).

Usage: python benchmarks/bench_staircase.py [--steps 30] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable

import torch

from mibounds import bounds, critics, tasks
from mibounds.experiments import staircase


def _loop_step(config: staircase.StaircaseConfig, specs: list[staircase.BoundSpec]) -> Callable[[int], None]:
    """Independent critics and optimizers, one after the other (the naive way)."""
    task = tasks.make(config.tasks[0], dim=config.dim, mi=config.levels[0])
    nets, optimizers, modules, baselines = [], [], [], []
    for spec in specs:
        critic = critics.SeparableCritic(task.dim_x, task.dim_y, config.embed_dim, config.hidden_dim, config.num_layers)
        params = list(critic.parameters())
        baseline = None
        if "log_baseline" in spec.info.needs:
            baseline = critics.MLPBaseline(task.dim_y, config.baseline_hidden_dim, config.baseline_num_layers)
            params += list(baseline.parameters())
        nets.append(critic)
        baselines.append(baseline)
        optimizers.append(torch.optim.Adam(params, lr=config.learning_rate))
        modules.append(bounds.make(spec.name, **spec.kwargs))
    generator = torch.Generator()

    def step(i: int) -> None:
        generator.manual_seed(i)
        x, y = task.sample(config.batch_size, generator=generator)
        for critic, baseline, optimizer, module in zip(nets, baselines, optimizers, modules, strict=True):
            scores = critic(x, y)
            value = module(scores, baseline(y)) if baseline is not None else module(scores)
            optimizer.zero_grad(set_to_none=True)
            (-value).backward()
            optimizer.step()

    return step


def _stacked_no_bounds_step(
    config: staircase.StaircaseConfig, members: int, with_baseline: int
) -> Callable[[int], None]:
    task = tasks.make(config.tasks[0], dim=config.dim, mi=config.levels[0])
    stack = staircase.stacked_critic(config, "separable", members, task.dim_x, task.dim_y)
    baseline = critics.stacked_mlp(with_baseline, task.dim_y, config.baseline_hidden_dim, 1, config.baseline_num_layers)
    optimizer = torch.optim.Adam([*stack.parameters(), *baseline.parameters()], lr=config.learning_rate, fused=True)
    generator = torch.Generator()

    def step(i: int) -> None:
        generator.manual_seed(i)
        x, y = task.sample(config.batch_size, generator=generator)
        scores = stack(x.expand(members, -1, -1), y.expand(members, -1, -1))
        loss = scores.diagonal(dim1=-2, dim2=-1).mean() + baseline(y.expand(with_baseline, -1, -1)).mean()
        optimizer.zero_grad(set_to_none=True)
        (-loss).backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per timing round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, like the staircase's workers)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    full = staircase.StaircaseConfig(critics=("separable",))
    config = dataclasses.replace(
        full, tasks=full.tasks[:1], levels=full.levels[:1], steps_per_level=args.steps, window=args.steps
    )
    specs = [s for s in config.specs if s.trained]
    with_baseline = sum("log_baseline" in s.info.needs for s in specs)

    loop = _loop_step(config, specs)
    bare = _stacked_no_bounds_step(config, len(specs), with_baseline)

    def timed(fn: Callable[[int], None]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.steps):
            fn(i)
        return (time.perf_counter() - wall) / args.steps, (time.process_time() - cpu) / args.steps

    def stacked_run() -> tuple[float, float]:
        run = staircase.train_stack(config, "separable", config.tasks, specs, None)
        return run.seconds / args.steps, run.cpu_seconds / args.steps

    timed(loop), timed(bare), stacked_run()  # warm-up
    best = {name: (math.inf, math.inf) for name in ("loop", "stacked", "stacked, no bounds")}
    for _ in range(args.repeats):
        for name, measure in (
            ("loop", lambda: timed(loop)),
            ("stacked", stacked_run),
            ("stacked, no bounds", lambda: timed(bare)),
        ):
            wall, cpu = measure()
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))

    print(
        f"staircase, separable critic: {len(specs)} critics per task ({with_baseline} with a baseline), "
        f"K = {config.batch_size}, {torch.get_num_threads()} thread(s), torch {torch.__version__}"
    )
    print("ms per training step of one task (fastest round): wall-clock / CPU")
    for name, (wall, cpu) in best.items():
        print(f"  {name:<20} {wall * 1e3:8.1f} / {cpu * 1e3:8.1f}")
    stacked_wall, stacked_cpu = best["stacked"]
    print(
        f"  stacked is x{best['loop'][0] / stacked_wall:.2f} faster than the loop; the 12 bounds' own work is "
        f"{100 * (1 - best['stacked, no bounds'][1] / stacked_cpu):.0f}% of the stacked step (CPU)"
    )
    steps = full.steps
    # Two tasks in two worker processes on two cores: the slower task sets the wall-clock.
    for name, per_step in (("wall-clock", stacked_wall), ("CPU time", stacked_cpu)):
        print(
            f"projected full separable staircase from the {name}: {steps} steps x {per_step * 1e3:.1f} ms "
            f"= {steps * per_step / 60:.1f} min on 2 cores (2 tasks in parallel; budget 20 min)"
        )


if __name__ == "__main__":
    main()
