"""Wall time of the default ``mibounds.estimate`` beside a plain matmul of the same FLOPs.

Acceptance target of the estimator: on the 20-d correlated Gaussian with n = 10,000 samples and one
torch thread, the median wall time of one default estimate is at most 10 s. This script draws the
samples, runs the default estimate (every setting at the library default) for each seed, counts
the matrix-multiply FLOPs of one call with ``torch.utils.flop_counter.FlopCounterMode`` (forward
and backward, training and evaluation), and times, in the same run, plain ``[512, 512] @ [512,
512]`` float32 matmuls of the same total FLOPs: the ratio says how far the estimator is from
what its arithmetic alone costs on this machine (the rest is small-tensor overhead, elementwise
work and Python).

The load average is printed: timings taken on a busy machine (load above ~1.5 on 2 cores) are not
evidence.

Usage: python benchmarks/bench_estimate.py [--seeds 0 1 2] [--threads 1] [--samples 10000]
       [--task gaussian-d20-mi4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mibounds import tasks
from mibounds.estimation import estimate


def matmul_seconds(flops: float, size: int = 512) -> float:
    """Seconds of plain float32 ``[size, size] @ [size, size]`` products totalling ``flops``."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    per_call = 2.0 * size**3
    calls = max(1, round(flops / per_call))
    for _ in range(3):
        a @ b  # warm-up
    start = time.perf_counter()
    for _ in range(calls):
        a @ b
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gaussian-d20-mi4")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the acceptance says one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = tasks.make(args.task)
    truth = float(task.mutual_information)
    print(
        f"task {task.name}, true MI {truth:.3f} nats, {args.samples} samples, torch threads "
        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}"
    )
    x, y = task.sample(2000, seed=12345)
    with warnings.catch_warnings():  # warm-up: one-off kernel and allocator set-up
        warnings.simplefilter("ignore")
        estimate(x, y, max_steps=5, progress=False, random_state=0)
    times, ratios = [], []
    for seed in args.seeds:
        x, y = task.sample(args.samples, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = estimate(x, y, random_state=seed, progress=False)
            seconds = time.perf_counter() - start
            with FlopCounterMode(display=False) as counter:  # the same call again, counting FLOPs
                estimate(x, y, random_state=seed, progress=False)
        flops = counter.get_total_flops()
        reference = matmul_seconds(flops)
        times.append(seconds)
        ratios.append(seconds / reference)
        print(
            f"seed {seed}: estimate {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}] "
            f"(error {result.estimate - truth:+.3f}), lower bound {result.lower_bound:.3f}; {result.steps} steps; "
            f"{seconds:.2f} s; {flops / 1e9:.1f} GFLOP of matmuls, {reference:.2f} s as plain matmuls "
            f"(ratio {seconds / reference:.1f})"
        )
    print(
        f"median wall time {statistics.median(times):.2f} s (target <= 10 s), median ratio to the same-FLOP matmul "
        f"{statistics.median(ratios):.1f}; load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
