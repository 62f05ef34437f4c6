"""``mibounds bench``: run benchmark sweeps into a results file, and report on them.

::

    mibounds bench sweep --tasks gaussian-d20-mi2 gaussian-d20-mi6 --bounds nwj infonce \\
        --critics separable --n 4096 --seeds 0 1 2 3 4 --set max_steps=500 --workers 2
    mibounds bench sweep --spec sweep.json --executor ray --address auto
    mibounds bench report --db results.sqlite --out report

The ``mibounds`` main parser calls :func:`register` with its subparsers. Each subcommand is one
function ``_add_<name>(commands)`` that adds its parser and sets ``func`` (called with the parsed
arguments, returning the exit status); to add a subcommand, write that function and list it in
:data:`SUBCOMMANDS`. The published experiments (staircase, bias-variance, critics) are in
:mod:`mibounds.cli.bench_experiments`. Mistakes of the user raise ``ValueError`` with a one-line message (the main
parser prints it and exits with status 2).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from typing import Any

from mibounds.cli._suite import add_suite_options, run_suite
from mibounds.cli.bench_consistency import add_consistency
from mibounds.cli.bench_experiments import SUBCOMMANDS as EXPERIMENT_SUBCOMMANDS

__all__ = ["SUBCOMMANDS", "register"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` command and its subcommands to the ``mibounds`` subparsers.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned for the main parser.

    Returns:
        The ``bench`` parser.
    """
    bench = subparsers.add_parser(
        "bench",
        help="run benchmark sweeps (resumable, parallel) and report on them",
        description="Run grids of (task, bound, critic, n, seed) cells into an SQLite results file "
        "that an interrupted sweep resumes from, and write tables and figures from it.",
    )
    commands = bench.add_subparsers(dest="bench_command", required=True)
    for add in SUBCOMMANDS:
        add(commands)
    commands.metavar = "{" + ",".join(commands.choices) + "}"  # usage and errors list them
    return bench


# -- sweep --------------------------------------------------------------------------------------


def _add_sweep(commands: Any) -> None:
    parser = commands.add_parser(
        "sweep",
        help="run a grid of cells into a results file (finished cells are skipped)",
        description="Run every cell of a grid not yet done in the results file. The grid is the "
        "product of --tasks, --bounds, --critics, --n and --seeds (plus --set values in every "
        "cell), or comes from --spec. Stop it any time (Ctrl-C): finished cells are kept and the "
        "same command resumes.",
    )
    grid = parser.add_argument_group("grid")
    grid.add_argument("--tasks", nargs="+", metavar="TASK", help="task ids, e.g. gaussian-d20-mi2 cubic-d20-mi4")
    grid.add_argument("--bounds", nargs="+", metavar="BOUND", help="bounds, e.g. nwj infonce smile")
    grid.add_argument("--critics", nargs="+", metavar="CRITIC", help="critics: separable, concat, bilinear")
    grid.add_argument("--n", nargs="+", type=int, metavar="N", help="sample sizes")
    grid.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="seeds (replicates), e.g. 0 1 2 3 4")
    grid.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="fixed",
        help="a parameter for every cell, e.g. max_steps=500 (VALUE read as JSON, else as text); repeatable",
    )
    grid.add_argument(
        "--spec",
        metavar="FILE",
        help="a JSON grid instead of the flags above (keys: tasks, bounds, critics, n, seeds, axes, fixed, cell)",
    )
    grid.add_argument(
        "--cell",
        metavar="CELL",
        help="the cell function: estimate (default, unless the spec "
        "names one), synthetic, accuracy or consistency; or MODULE:FUNCTION of your own with --allow-import",
    )
    grid.add_argument(
        "--allow-import",
        action="store_true",
        help="let --cell or the spec's 'cell' name a function "
        "outside the registered cells (its module is imported and the function run: only for "
        "code you trust)",
    )
    run = parser.add_argument_group("execution")
    run.add_argument("--db", default="results.sqlite", help="SQLite results file (default: %(default)s)")
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        help="local worker processes; 0 runs the cells in this process (default); with Ray, the most cells in flight",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where cells run (ray needs pip install 'mibounds[ray]')",
    )
    run.add_argument(
        "--address",
        help="Ray cluster address: 'auto' joins this machine's cluster (default: start a local Ray instance)",
    )
    run.add_argument("--threads-per-worker", type=int, default=1, help="torch threads per worker (default: 1)")
    run.add_argument("--retry-failed", action="store_true", help="rerun the cells recorded as failed")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from mibounds.experiments.sweep.cells import choose_cell
    from mibounds.experiments.sweep.grid import cells_from_spec, make_cells, read_spec
    from mibounds.experiments.sweep.runner import DEFAULT_CELL, SweepInterrupted, run_sweep

    flags = {name: getattr(args, name) for name in ("tasks", "bounds", "critics", "n", "seeds")}
    given = [f"--{name}" for name, value in flags.items() if value is not None] + (["--set"] if args.fixed else [])
    if args.spec is not None:
        if given:
            raise ValueError(f"pass either --spec or the grid flags, not both (got --spec and {', '.join(given)})")
        spec = read_spec(args.spec)
        # A spec file may come from anyone: the function it names runs only if registered
        # (or with --allow-import), checked before anything is imported or written.
        cell = choose_cell(args.cell or spec.get("cell") or DEFAULT_CELL, allow_import=args.allow_import)
        cells = cells_from_spec(spec)
    else:
        if not given:
            raise ValueError("no grid: give --tasks, --bounds, --critics, --n and --seeds (or --spec FILE)")
        cell = choose_cell(args.cell or DEFAULT_CELL, allow_import=args.allow_import)
        cells = make_cells(**flags, **_fixed_values(args.fixed))
    try:
        summary = run_sweep(
            cells,
            args.db,
            cell,
            workers=args.workers,
            executor=args.executor,
            address=args.address,
            retry_failed=args.retry_failed,
            threads_per_worker=args.threads_per_worker,
            progress=not args.no_progress,
            resume_hint=f"run: {_command_line(args)}",
        )
    except SweepInterrupted:
        return 130  # the conventional status for Ctrl-C; what to run next is printed already
    except ImportError as error:  # the ray extra is missing: one line, like any user error
        raise ValueError(str(error)) from None
    if summary.failed or summary.failed_before:
        print(
            f"{summary.failed + summary.failed_before} cells failed; their tracebacks are in the 'error' column "
            f"of {args.db} (sqlite3 {shlex.quote(args.db)} \"SELECT id, error FROM cells WHERE status = 'failed'\"); "
            "rerun them with --retry-failed",
            file=sys.stderr,
        )
        return 1
    return 0


def _fixed_values(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE (e.g. --set max_steps=500), got {item!r}")
        try:
            values[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[key.strip()] = text  # plain text, e.g. --set device=cpu
    return values


def _command_line(args: argparse.Namespace) -> str:
    # The same sweep as a command to copy, for the resume hint.
    words = ["mibounds", "bench", "sweep"]
    if args.spec is not None:
        words += ["--spec", args.spec]
    for name in ("tasks", "bounds", "critics", "n", "seeds"):
        if getattr(args, name) is not None:
            words += [f"--{name}", *map(str, getattr(args, name))]
    for item in args.fixed:
        words += ["--set", item]
    if args.cell:
        words += ["--cell", args.cell]
    if args.allow_import:
        words.append("--allow-import")
    words += ["--db", args.db]
    if args.workers:
        words += ["--workers", str(args.workers)]
    if args.executor != "local":
        words += ["--executor", args.executor]
    if args.address:
        words += ["--address", args.address]
    if args.threads_per_worker != 1:
        words += ["--threads-per-worker", str(args.threads_per_worker)]
    if args.retry_failed:
        words.append("--retry-failed")
    return shlex.join(words)


# -- report -------------------------------------------------------------------------------------


def _add_report(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="write tables (Markdown, CSV) and a figure (PNG) from a results file",
        description="Summarize a results file per setting (every parameter except the seed): seeds, "
        "failures, mean estimate, true MI, bias, std, RMSE, interval coverage and seconds per cell; "
        "write report.md, report.csv and estimates.png.",
    )
    parser.add_argument("--db", default="results.sqlite", help="SQLite results file (default: %(default)s)")
    parser.add_argument("--out", default="report", metavar="DIR", help="folder to write into (default: %(default)s)")
    parser.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from mibounds.experiments.sweep.report import write_report

    try:
        files = write_report(args.db, args.out, figure=not args.no_figures)
    except ImportError as error:  # matplotlib missing: the tables are written already
        raise ValueError(f"{error} (or pass --no-figures for the tables only)") from None
    print(files)
    return 0


# -- accuracy suite -------------------------------------------------------------------------------


def _add_accuracy(commands: Any) -> None:
    parser = commands.add_parser(
        "accuracy",
        help="the default estimator on ground-truth tasks from 0 to 10 nats, with the peers' rows",
        description="Run the default mibounds.estimate on every task of the accuracy suite "
        "(mibounds.experiments.accuracy.SUITE and HARD_SUITE) for each seed into a resumable results file, then write "
        "accuracy.md, accuracy.csv and accuracy.png: bias, mean |error|, RMSE, coverage, lower bound and "
        "seconds per task, beside the rows that benchmarks/peers/run_peers.py wrote into the same file.",
    )
    add_suite_options(parser, "accuracy", ", the setting of the suite's times")
    parser.add_argument(
        "--suite",
        choices=("core", "hard", "all"),
        default="all",
        help="core: the 0-10 nat range and the families near the Gaussian copula (SUITE); hard: mixtures of "
        "regimes, heavy tails, rotated non-linear maps, embeddings, labels as numbers (HARD_SUITE); all: both "
        "(default: %(default)s)",
    )
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="only these task ids of the suite (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="seeds (default: 0 1 2 3 4)")
    parser.set_defaults(func=_accuracy)


def _accuracy(args: argparse.Namespace) -> int:
    from mibounds.experiments import accuracy

    suite = {"core": accuracy.SUITE, "hard": accuracy.HARD_SUITE, "all": accuracy.SUITE + accuracy.HARD_SUITE}[
        args.suite
    ]
    if args.tasks:
        known = {task for task, _ in suite}
        unknown = [task for task in args.tasks if task not in known]
        if unknown:
            from mibounds.validation import unknown_name_error

            raise unknown_name_error("suite task", unknown[0], sorted(known))
        suite = tuple((task, n) for task, n in suite if task in args.tasks)
    files = run_suite(
        args,
        lambda: accuracy.run_accuracy(
            args.db,
            suite=suite,
            seeds=args.seeds or accuracy.SEEDS,
            workers=args.workers,
            threads=args.threads,
            progress=not args.no_progress,
        ),
        lambda: accuracy.write_accuracy_report(args.db, args.out, figure=not args.no_figures),
    )
    if files is None:
        return 130
    print(files)
    return 0


#: The subcommands of ``mibounds bench``, one function each (see the module docstring).
SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_sweep,
    _add_report,
    _add_accuracy,
    add_consistency,
    *EXPERIMENT_SUBCOMMANDS,
]
