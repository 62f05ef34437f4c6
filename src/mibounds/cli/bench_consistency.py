"""``mibounds bench consistency``: the self-consistency tests of Song & Ermon (2020) on digits."""

from __future__ import annotations

import argparse
from typing import Any

from mibounds.cli._suite import add_suite_options, run_suite

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
    add_suite_options(parser, "consistency")
    parser.add_argument(
        "--bounds", nargs="+", metavar="BOUND", help="bounds to test (default: every bound the estimator trains)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="SEED", help="seeds (default: 0)")
    parser.add_argument("--json", action="store_true", help="also print the verdicts as JSON on stdout")
    parser.set_defaults(func=_consistency)


def _consistency(args: argparse.Namespace) -> int:
    from mibounds.estimation import estimator_bounds
    from mibounds.experiments import consistency

    if args.bounds:
        valid = estimator_bounds()
        for bound in args.bounds:
            if bound not in valid:
                from mibounds.validation import unknown_name_error

                raise unknown_name_error("bound", bound, valid)
    files = run_suite(
        args,
        lambda: consistency.run_consistency(
            args.db,
            bounds=args.bounds,
            seeds=args.seeds,
            workers=args.workers,
            threads=args.threads,
            progress=not args.no_progress,
        ),
        lambda: consistency.write_consistency_report(args.db, args.out, figure=not args.no_figures),
    )
    if files is None:
        return 130
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
