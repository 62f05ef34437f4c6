"""``mibounds bench consistency``: the self-consistency tests of Song & Ermon (2020) on digits."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_consistency"]


def add_consistency(commands: Any) -> None:
    """Add ``consistency`` to the ``mibounds bench`` subcommands."""
    parser = commands.add_parser(
        "consistency",
        help="self-consistency tests on images: more shared rows, data processing, additivity",
        description="Estimate MI between noisy views of scikit-learn's digits for every bound the estimator "
        "trains (js is the default), into a resumable results file, then write consistency.md (which estimator "
        "passes which test) and consistency.png. See mibounds.experiments.consistency.",
    )
    parser.add_argument(
        "--db", default="results/consistency/consistency.sqlite", help="SQLite results file (default: %(default)s)"
    )
    parser.add_argument(
        "--out", default="results/consistency", metavar="DIR", help="folder for the report (default: %(default)s)"
    )
    parser.add_argument(
        "--bounds", nargs="+", metavar="BOUND", help="bounds to test (default: every bound the estimator trains)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="SEED", help="seeds (default: 0)")
    parser.add_argument("--workers", type=int, default=0, help="local worker processes (default: 0, this process)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per cell (default: %(default)s)")
    parser.add_argument("--report-only", action="store_true", help="write the report without running cells")
    parser.add_argument("--no-figures", action="store_true", help="the table only (no matplotlib needed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="also print the verdicts as JSON on stdout")
    parser.set_defaults(func=_consistency)


def _consistency(args: argparse.Namespace) -> int:
    from mibounds.estimation import estimator_bounds
    from mibounds.experiments import consistency
    from mibounds.experiments.runner import SweepInterrupted

    if args.bounds:
        valid = estimator_bounds()
        for bound in args.bounds:
            if bound not in valid:
                from mibounds.validation import unknown_name_error

                raise unknown_name_error("bound", bound, valid)
    if not args.no_figures:
        from mibounds.experiments.figures import require_matplotlib

        require_matplotlib("--no-figures")  # before the cells run, not after them
    if not args.report_only:
        try:
            consistency.run_consistency(
                args.db,
                bounds=args.bounds,
                seeds=args.seeds,
                workers=args.workers,
                threads=args.threads,
                progress=not args.no_progress,
            )
        except SweepInterrupted:
            return 130
    files = consistency.write_consistency_report(args.db, args.out, figure=not args.no_figures)
    if args.json:
        import dataclasses
        import json

        results = consistency.verdicts(consistency.finished_rows(args.db))
        print(
            json.dumps({"files": [str(files.markdown)], "verdicts": [dataclasses.asdict(v) for v in results]}, indent=2)
        )
        return 0
    print(files)
    return 0
