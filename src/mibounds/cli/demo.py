"""``mibounds demo``: estimate MI on a ground-truth task and print the true value beside it."""

from __future__ import annotations

import argparse
from typing import Any

from mibounds.cli._options import add_estimation_options, check_names, print_result, run_estimate, set_threads

__all__ = ["DEFAULT_SAMPLES", "DEFAULT_TASK", "register"]

#: The demo's task: the 20-d correlated Gaussian of Poole et al. 2019 at I(X; Y) = 4 nats.
DEFAULT_TASK = "gaussian-d20-mi4"
#: Samples drawn by default: the setting of the accuracy suite (mibounds bench accuracy), where a
#: default estimate takes under 10 s on one CPU thread.
DEFAULT_SAMPLES = 10_000


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``demo`` to the ``mibounds`` subparsers."""
    parser = subparsers.add_parser(
        "demo",
        help="estimate MI on a ground-truth task and compare with the true value",
        description="Draw samples from a task whose MI is known in closed form, estimate it as "
        "'mibounds estimate' would from a file, and print the true MI beside the estimate.",
    )
    parser.add_argument(
        "--task", default=DEFAULT_TASK, help="task id or family (see 'mibounds tasks'; default: %(default)s)"
    )
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, metavar="N", help="samples to draw (default: %(default)s)"
    )
    add_estimation_options(parser)
    parser.set_defaults(func=run, random_state=0)
    return parser


def run(args: argparse.Namespace) -> int:
    """Sample, estimate, compare."""
    from mibounds import tasks

    check_names(args)
    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {args.samples}")
    set_threads(args.threads or 1)
    task = tasks.make(args.task)
    x, y = task.sample(args.samples, seed=args.random_state)
    truth = float(task.mutual_information)
    result = run_estimate(x, y, args)
    covered = result.ci_low <= truth <= result.ci_high
    lines = [
        f"task {task.name}: {args.samples} samples, x in R^{task.dim_x}, y in R^{task.dim_y}",
        f"true MI  {truth:.3f} nats ({_source(task.mutual_information_stderr)})",
        f"estimate {result.estimate:.3f} nats, {100 * result.confidence:g}% CI "
        f"[{result.ci_low:.3f}, {result.ci_high:.3f}]: error {result.estimate - truth:+.3f}, "
        + _verdict(result.ci_low, result.ci_high, truth),
        f"at least {result.lower_bound:.3f} nats with {100 * result.confidence:g}% confidence "
        f"(certified lower bound; {'below' if result.lower_bound <= truth else 'ABOVE'} the true MI)",
        "",
    ]
    extra = {"task": task.name, "true_mi": truth, "covered": covered}
    print_result(result, args, extra, lines)
    return 0


def _source(stderr: float) -> str:
    """Where the true MI comes from: a closed form, or a Monte-Carlo mean with its standard error."""
    return "closed form" if stderr == 0 else f"Monte Carlo on the exact densities, s.e. {stderr:.1g}"


def _verdict(low: float, high: float, truth: float) -> str:
    if low <= truth <= high:
        return "the interval covers the true MI"
    if truth > high:
        # Said plainly: the critic missed part of the dependence, so the bound sits below the MI.
        return "the true MI is above the interval (a lower bound with an imperfect critic)"
    return "the true MI is below the interval"
