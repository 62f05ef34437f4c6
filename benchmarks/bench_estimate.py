"""Wall time of the default ``mibounds.estimate`` beside a plain matmul of the same FLOPs.

Acceptance targets of the estimator, at one torch thread: the median wall time of one default
estimate over the accuracy suite (``--suite all``: every task at its own n, one seed) at most 15 s,
and on its Gaussian rows at most 5 s. This script draws the
samples, runs the default estimate (every setting at the library default) for each seed, counts
the matrix-multiply FLOPs of one call with ``torch.utils.flop_counter.FlopCounterMode`` (forward
and backward, training and evaluation), and times, in the same run, plain ``[512, 512] @ [512,
512]`` float32 matmuls of the same total FLOPs: the ratio says how far the estimator is from
what its arithmetic alone costs on this machine (the rest is small-tensor overhead, elementwise
work and Python).

The load average is printed: timings taken on a busy machine (load above ~1.5 on 2 cores) are not
evidence.

Usage: python benchmarks/bench_estimate.py [--seeds 0 1 2] [--threads 1] [--samples 10000]
       [--task gaussian-d20-mi4] [--suite core|hard|all]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
from _timing import matmul_seconds
from torch.utils.flop_counter import FlopCounterMode

from mibounds import tasks
from mibounds.estimation import estimate


def _cells(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """(task, n, seed) of the run: one task at ``--samples`` for each seed, or a suite's tasks at
    their own sizes with the first seed."""
    if args.suite is None:
        return [(args.task, args.samples, seed) for seed in args.seeds]
    from mibounds.experiments.accuracy import HARD_SUITE, SUITE

    chosen = {"core": SUITE, "hard": HARD_SUITE, "all": SUITE + HARD_SUITE}[args.suite]
    return [(task, n, args.seeds[0]) for task, n in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gaussian-d20-mi4")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of the estimates (the acceptance says one)")
    parser.add_argument(
        "--suite",
        choices=("core", "hard", "all"),
        help="time every task of the accuracy suite (its own n, the first seed) instead of --task",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    x, y = tasks.make("gaussian-d20-mi4").sample(2000, seed=12345)
    with warnings.catch_warnings():  # warm-up: one-off kernel and allocator set-up
        warnings.simplefilter("ignore")
        estimate(x, y, max_steps=5, progress=False, random_state=0)
    times, ratios, gaussian_times = [], [], []
    for task_id, samples, seed in _cells(args):
        task = tasks.make(task_id)
        truth = float(task.mutual_information)
        x, y = task.sample(samples, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = estimate(x, y, random_state=seed, progress=False, threads=args.threads)
            seconds = time.perf_counter() - start
            with FlopCounterMode(display=False) as counter:  # the same call again, counting FLOPs
                estimate(x, y, random_state=seed, progress=False, threads=args.threads)
        flops = counter.get_total_flops()
        reference = matmul_seconds(flops)
        times.append(seconds)
        ratios.append(seconds / reference)
        if task_id.startswith("gaussian-"):
            gaussian_times.append(seconds)
        print(
            f"{task.name} n={samples} seed {seed}: estimate {result.estimate:.3f} [{result.ci_low:.3f}, "
            f"{result.ci_high:.3f}] (truth {truth:.3f}, error {result.estimate - truth:+.3f}); {result.steps} steps; "
            f"{seconds:.2f} s; {flops / 1e9:.1f} GFLOP of matmuls, {reference:.2f} s as plain matmuls "
            f"(ratio {seconds / reference:.1f})",
            flush=True,
        )
    print(
        f"median wall time {statistics.median(times):.2f} s over {len(times)} estimates (target <= 15 s over the "
        f"suite), median ratio to the same-FLOP matmul {statistics.median(ratios):.1f}"
    )
    if gaussian_times:
        print(f"Gaussian rows: median {statistics.median(gaussian_times):.2f} s (target <= 5 s)")
    print(f"load average now {os.getloadavg()[0]:.1f} (above ~1.5 on 2 cores the times are not evidence)")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
