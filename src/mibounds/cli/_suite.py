"""What the suite commands of ``mibounds bench`` share (accuracy, consistency): their options and
their run-then-report flow over a resumable results file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_suite_options", "run_suite"]


def add_suite_options(parser: argparse.ArgumentParser, name: str, threads_help: str = "") -> None:
    """``--db``/``--out`` (under ``results/<name>``), ``--workers``, ``--threads``, ``--report-only``,
    ``--no-figures`` and ``--no-progress``."""
    parser.add_argument(
        "--db", default=f"results/{name}/{name}.sqlite", help="SQLite results file (default: %(default)s)"
    )
    parser.add_argument(
        "--out", default=f"results/{name}", metavar="DIR", help="folder for the report (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, default=0, help="local worker processes (default: 0, this process)")
    parser.add_argument(
        "--threads", type=int, default=1, help=f"torch threads per cell (default: %(default)s{threads_help})"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="write the report from the results file without running cells"
    )
    parser.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_suite(args: argparse.Namespace, run: Callable[[], Any], write: Callable[[], Any]) -> Any:
    """Check matplotlib before any cell runs (unless ``--no-figures``), run the missing cells
    (unless ``--report-only``), then write the report. Returns what ``write`` returns, or None when
    the run was interrupted (the command then exits 130; the same command resumes it)."""
    from mibounds.experiments.sweep.runner import SweepInterrupted

    if not args.no_figures:
        from mibounds.experiments.figures import require_matplotlib

        require_matplotlib("--no-figures")  # before the cells run, not after them
    if not args.report_only:
        try:
            run()
        except SweepInterrupted:
            return None
    try:
        return write()
    except ImportError as error:
        raise ValueError(f"{error} (or pass --no-figures for the tables only)") from None
