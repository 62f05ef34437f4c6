"""``mibounds estimate FILE``: estimate I(X; Y) between two groups of columns of a data file."""

from __future__ import annotations

import argparse
from typing import Any

from mibounds.cli._options import add_estimation_options, label_sides, load_data, print_result, run_estimate

__all__ = ["register"]

_EPILOG = """\
columns: names, 0-based indices or ranges start:stop, separated by spaces or commas,
e.g. --x a b --y 2:5 or --x a,b.
With only --x, y is every other column (and the other way round; --z columns are never taken);
with neither, the file must have exactly two columns besides --z. For .npz files --x/--y name arrays (default: arrays x and y).
Files are read without executing anything (no pickle).

examples:
  mibounds estimate data.csv --x 0:20 --y 20:40
  mibounds estimate pairs.npz --x image_emb --y text_emb --json
  mibounds estimate table.parquet --x speed angle --seed 0
  mibounds estimate data.csv --x a --y b --z c d        # I(X;Y|Z), by the chain rule
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``estimate`` to the ``mibounds`` subparsers."""
    parser = subparsers.add_parser(
        "estimate",
        help="estimate I(X;Y) from a CSV, NPY, NPZ or Parquet file",
        description="Train a critic on part of the rows and report a held-out estimate of "
        "I(X;Y) in nats with a confidence interval.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help=".csv, .tsv, .npy, .npz or .parquet")
    parser.add_argument("--x", nargs="+", metavar="COLS", help="columns (or .npz arrays) of x")
    parser.add_argument("--y", nargs="+", metavar="COLS", help="columns (or .npz arrays) of y")
    parser.add_argument(
        "--z", nargs="+", metavar="COLS", help="conditioning columns (or .npz arrays): estimate I(X;Y|Z) instead"
    )
    add_estimation_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Load the file, estimate, print."""
    data = load_data(args, args.discrete)
    result = run_estimate(data.x, data.y, args, data.z)
    given = f", z = {_columns(data.z_columns)}" if data.z is not None else ""
    labels, said = label_sides(data, args.discrete)
    header = [
        f"{data.path}: {len(data.x)} rows; x = {_columns(data.x_columns)}, y = {_columns(data.y_columns)}{given}{said}"
    ]
    extra = {"file": data.path, "x_columns": data.x_columns, "y_columns": data.y_columns, "labels": labels}
    if data.z is not None:
        extra["z_columns"] = data.z_columns
    print_result(result, args, extra, header)
    return 0


def _columns(names: list[str]) -> str:
    shown = ", ".join(names[:6]) + (f", ... ({len(names)} columns)" if len(names) > 6 else "")
    return f"[{shown}]"
