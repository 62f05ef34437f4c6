"""``mibounds rank-features FILE --y TARGET``: which columns tell most about a target?"""

from __future__ import annotations

import argparse
from typing import Any

from mibounds.cli._options import add_estimation_options, estimation_kwargs, load_data, print_result

__all__ = ["register"]

_EPILOG = """\
Every feature column (or --group of columns, scored jointly) gets its own held-out estimate of
I(feature; target) with an interval; the table is sorted by estimate. A target of class labels
(text, booleans, at most 20 distinct whole numbers) gets the Barber-Agakov bound of a classifier,
a numeric target the default estimator. Features whose intervals overlap are not told apart by
this data.

examples:
  mibounds rank-features data.csv --y label
  mibounds rank-features data.csv --y label --x 0:10 --group pos=x,y --group color=r,g,b --json
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``rank-features`` to the ``mibounds`` subparsers."""
    parser = subparsers.add_parser(
        "rank-features",
        help="rank the columns of a file by their MI with a target column, with intervals",
        description="Estimate I(feature; target) for every feature column (or group) and sort.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help=".csv, .tsv, .npy, .npz or .parquet")
    parser.add_argument("--y", nargs="+", metavar="COLS", required=True, help="the target column(s)")
    parser.add_argument("--x", nargs="+", metavar="COLS", help="feature columns (default: every other column)")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=COLS",
        help="score these feature columns jointly as one feature (repeatable)",
    )
    add_estimation_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Load the file, rank, print."""
    from mibounds.estimation import rank_features
    from mibounds.estimation.discrete import is_categorical

    groups = _groups(args.group)
    data = load_data(args, "y" if args.discrete in ("auto", "y", "both") else "none")
    kwargs = estimation_kwargs(args)
    progress = kwargs.pop("progress")
    target = data.y[:, 0] if data.y.ndim == 2 and data.y.shape[1] == 1 else data.y
    by_name = (
        None
        if groups is None
        else {
            name: [data.x_columns.index(c) if c in data.x_columns else _unknown(c, data.x_columns) for c in cols]
            for name, cols in groups.items()
        }
    )
    ranking = rank_features(data.x, target, groups=by_name, progress=progress, **kwargs)
    names = {f"x[{j}]": name for j, name in enumerate(data.x_columns)}
    for score in ranking.scores:
        score.name = names.get(score.name, score.name)
        score.columns = [names.get(c, c) for c in score.columns]
    labelled = is_categorical(target) if args.discrete == "auto" else args.discrete in ("y", "both")
    kind = "read as class labels" if labelled else "read as numbers"
    header = (
        f"{data.path}: {len(data.x)} rows; target {', '.join(data.y_columns)} ({kind}); {len(ranking.scores)} features"
    )
    print_result(ranking, args, {"file": data.path, "y_columns": data.y_columns, "target_labels": labelled}, [header])
    return 0


def _groups(specs: list[str]) -> dict[str, list[str]] | None:
    if not specs:
        return None
    groups = {}
    for spec in specs:
        name, sep, columns = spec.partition("=")
        if not sep or not name.strip() or not columns.strip():
            raise ValueError(f"--group must look like NAME=COL,COL (e.g. --group pos=x,y), got {spec!r}")
        groups[name.strip()] = [c.strip() for c in columns.split(",") if c.strip()]
    return groups


def _unknown(column: str, columns: list[str]) -> int:
    raise ValueError(
        f"--group names column {column!r}, which is not a feature column (features: {', '.join(columns[:8])})"
    )
