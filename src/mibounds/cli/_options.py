"""Options shared by ``mibounds estimate`` and ``mibounds demo``, and how results are printed."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

__all__ = [
    "add_estimation_options",
    "check_names",
    "estimation_kwargs",
    "load_data",
    "print_result",
    "run_estimate",
    "run_quietly",
    "set_threads",
]


def add_estimation_options(parser: argparse.ArgumentParser) -> None:
    """Options of :func:`mibounds.estimate` (defaults: the library's, shown by ``--help``)."""
    from mibounds.estimation import estimator as e

    group = parser.add_argument_group("estimator")
    group.add_argument(
        "--bound",
        default=e.DEFAULT_BOUND,
        help="bound that trains the critics (see 'mibounds bounds'; default: %(default)s); with js, smile or nwj the estimate is the held-out mean log density ratio, with the others the bound's held-out value at batch size K",
    )
    group.add_argument(
        "--critic",
        default=e.DEFAULT_CRITIC,
        help="learned critic added to the Gaussian one: separable, bilinear, concat, or none (default: %(default)s)",
    )
    group.add_argument("--no-gaussian", action="store_true", help="no Gaussian critic under the learned one")
    group.add_argument(
        "--num-folds",
        type=int,
        default=e.DEFAULT_NUM_FOLDS,
        metavar="F",
        help="folds, one critic each; every row is evaluated by the critic that did not train on it (default: %(default)s)",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="K",
        help=f"pairs per training batch (default: {e.DEFAULT_BATCH_SIZE}, lower for small data)",
    )
    group.add_argument(
        "--max-steps",
        type=int,
        default=e.DEFAULT_MAX_STEPS,
        metavar="N",
        help="most training steps (default: %(default)s)",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        default=e.DEFAULT_LEARNING_RATE,
        metavar="LR",
        help="Adam step size (default: %(default)s)",
    )
    group.add_argument(
        "--patience",
        type=int,
        default=None,
        metavar="N",
        help=f"validation checks without improvement before stopping (default: {e.DEFAULT_PATIENCE}, or "
        f"{e.NON_GAUSSIAN_PATIENCE} when the normal scores are not jointly Gaussian by Mardia's test)",
    )
    group.add_argument(
        "--discrete",
        choices=["auto", "none", "x", "y", "both"],
        default="auto",
        help="which variables hold categories (text labels, booleans, integers with at most 20 values under auto); a categorical side gets the Barber-Agakov bound of a classifier, two get the plug-in estimate (default: %(default)s)",
    )
    group.add_argument(
        "--standardize",
        choices=["quantile", "zscore", "none"],
        default="quantile",
        help="per-column scaling: normal scores via the empirical CDF, mean/std, or none (default: %(default)s)",
    )
    group.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        metavar="C",
        help="coverage of the interval and of the lower bound (default: %(default)s)",
    )
    group.add_argument(
        "--device", default="auto", help="auto (CUDA when available), cpu or cuda (default: %(default)s)"
    )
    group.add_argument("--seed", type=int, default=None, help="random seed; the same seed repeats a run")
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="CPU threads for torch (default: %(default)s: the networks are small, so more threads gain little and compete with other work)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    out.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )


def check_names(args: argparse.Namespace) -> None:
    """Refuse unknown bound or critic names before reading data or training."""
    from mibounds.estimation.names import check_bound, check_critic

    check_bound(args.bound)
    check_critic(args.critic, also=["none"])


def estimation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`mibounds.estimate` from the parsed options."""
    return {
        "bound": args.bound,
        "critic": None if args.critic == "none" else args.critic,
        "gaussian": not args.no_gaussian,
        "num_folds": args.num_folds,
        "batch_size": args.batch_size,
        "max_steps": args.max_steps,
        "learning_rate": args.learning_rate,
        "patience": args.patience,
        "standardize": {"quantile": True, "zscore": "zscore", "none": False}[args.standardize],
        "confidence": args.confidence,
        "device": args.device,
        "random_state": args.seed,
        "progress": not args.no_progress and sys.stderr.isatty(),
        "discrete": args.discrete,
    }


def run_estimate(x: Any, y: Any, args: argparse.Namespace, z: Any = None):  # -> EstimateResult
    """:func:`mibounds.estimate` with the options; its warnings go into the result, not stderr."""
    from mibounds.estimation import estimate

    return run_quietly(estimate, x, y, z, **estimation_kwargs(args))


def run_quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a library function with its :class:`MIBoundsWarning` s silenced: the commands print
    them from ``result.warnings`` instead."""
    from mibounds.validation import MIBoundsWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIBoundsWarning)
        return function(*args, **kwargs)


def load_data(args: argparse.Namespace, labels: str) -> Any:  # -> LoadedData
    """What every data command does first: check the bound and critic names, read the file
    (``labels``: which sides may hold text categories), and set the torch threads."""
    from mibounds.estimation import load_xy

    check_names(args)
    data = load_xy(args.file, args.x, args.y, getattr(args, "z", None), labels=labels)
    set_threads(args.threads)
    return data


def set_threads(threads: int) -> None:
    """``torch.set_num_threads`` for ``--threads`` (the command owns its process)."""
    import torch

    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def print_result(
    result: Any, args: argparse.Namespace, extra: dict[str, Any] | None = None, lines: list[str] | None = None
) -> None:
    """Print the result: JSON (``--json``, with ``extra`` fields) or lines for people."""
    if args.json:
        print(json.dumps({**(extra or {}), **result.to_dict()}, indent=2))
        return
    for line in lines or []:
        print(line)
    print(result)
