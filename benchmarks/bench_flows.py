"""Gaussianizing flows (:mod:`mibounds.estimation.flows`) beside the Gaussian (CCA) critic they start from.

For each task and seed: draw n rows, run :func:`~mibounds.estimation.flows.estimate_with_flows`
(per-column normal scores, 5 cross-fitted folds, one setting for every task) and print one row:
the true MI, the held-out estimate of the identity flows (the estimator's Gaussian critic, fitted
on the same folds) and of the trained flows, the closed-form Gaussian MI of the flows' refitted
covariance, the held-out normalization check of each (log of the mean ratio over held-out
independent pairs; 0 for a density ratio), the held-out log-likelihood gain of the flows over the
identity (joint, and the mean of the two conditionals: proper scores on the same normal-score
space), the steps taken and kept per member, and the wall time.

With ``--residual``, a second table: the default estimate (``mibounds.estimate``: the Gaussian
critic plus the learned residual critic) beside the same estimate with the flow model as the base
critic (:class:`~mibounds.estimation.flows.FlowGaussianCritic` on the estimator's own folds,
patched in for this script only; the pipeline is unchanged), with their normalization checks.

The load average is printed: timings taken on a busy machine are not evidence.

Usage: python benchmarks/bench_flows.py [--tasks ID ...] [--seeds 0 1] [--samples 10000] [--threads 1]
       [--max-steps 2000] [--eval-every 50] [--architecture nsf]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from unittest import mock

import torch

from mibounds import tasks
from mibounds.estimation import estimate, pipeline
from mibounds.estimation.flows import FlowGaussianCritic, FlowSettings, estimate_with_flows, fit_flows

TASKS = [
    "gaussian-d20-mi4",
    "gaussian-d20-mi8",
    "rotate(cube(gaussian-d20-mi4))",
    "rotate(half-cube(gaussian-d10-mi4))",
    "rotate(half-cube(gaussian-d10-mi8))",
    "spiral-v1(gaussian-d5-mi2)",
    "spiral-v1(gaussian-d5-mi4)",
    "student-t-dx5-dy5-dof2-c0.9",
    "sign-mixture-d10-k2-c0.78",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=FlowSettings.max_steps, help="most steps per member")
    parser.add_argument("--eval-every", type=int, default=FlowSettings.eval_every)
    parser.add_argument("--architecture", default=FlowSettings.architecture, choices=["nsf", "spline-linear"])
    parser.add_argument("--residual", action="store_true", help="the default estimate with either base critic instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = FlowSettings(architecture=args.architecture, max_steps=args.max_steps, eval_every=args.eval_every)
    print(f"{settings}, n {args.samples}, torch threads {torch.get_num_threads()}")
    if args.residual:
        residual_table(args, settings)
        return
    print(
        "| task | seed | true MI | CCA | flows | flows Gaussian MI | log Z CCA | log Z flows "
        "| Δ joint loglik | Δ cond. loglik | steps (kept) | seconds | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.tasks:
        task = tasks.make(name)
        for seed in args.seeds:
            x, y = task.sample(args.samples, seed=seed)
            fitted = estimate_with_flows(x.numpy(), y.numpy(), settings, seed=seed)
            kept = "/".join(f"{s}({b})" for s, b in zip(fitted.steps, fitted.best_steps, strict=True))
            print(
                f"| {name} | {seed} | {float(task.mutual_information):.3f} | {fitted.baseline_estimate:.3f} "
                f"| {fitted.estimate:.3f} | {fitted.gaussian_mi:.3f} | {fitted.baseline_log_normalizer:.3f} "
                f"| {fitted.log_normalizer:.3f} "
                f"| {fitted.heldout_log_likelihood - fitted.baseline_log_likelihood:+.3f} "
                f"| {fitted.heldout_conditional - fitted.baseline_conditional:+.3f} | {kept} "
                f"| {fitted.seconds:.1f} | {os.getloadavg()[0]:.1f} |",
                flush=True,
            )


def residual_table(args: argparse.Namespace, settings: FlowSettings) -> None:
    """The default estimate with the Gaussian base and with the flow base, per task and seed."""
    build = pipeline.build_fold_critic

    def with_flows(options, x, y, plan):  # type: ignore[no-untyped-def]
        model, name = build(options, x, y, plan)
        members = fit_flows(x, y, plan, settings, seed=options.random_state)[0]
        model.base = FlowGaussianCritic.fit(members, x, y, plan).float()
        return model, f"flows+{name}"

    print("| task | seed | true MI | default | log Z | seconds | flow base | log Z | seconds | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.tasks:
        task = tasks.make(name)
        for seed in args.seeds:
            x, y = task.sample(args.samples, seed=seed)
            cells = []
            for patch in (False, True):
                start = time.perf_counter()
                with (
                    warnings.catch_warnings(),
                    mock.patch.object(pipeline, "build_fold_critic", with_flows if patch else build),
                ):
                    warnings.simplefilter("ignore")
                    result = estimate(x, y, random_state=seed, progress=False, threads=args.threads)
                cells.append(f"{result.estimate:.3f} | {result.log_normalizer:.3f} | {time.perf_counter() - start:.1f}")
            print(
                f"| {name} | {seed} | {float(task.mutual_information):.3f} | {cells[0]} | {cells[1]} "
                f"| {os.getloadavg()[0]:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
