"""``mibounds test-independence FILE``: is there any dependence between two groups of columns?"""

from __future__ import annotations

import argparse
from typing import Any

from mibounds.cli._options import (
    add_estimation_options,
    estimation_kwargs,
    label_sides,
    load_data,
    print_result,
    run_quietly,
)

__all__ = ["register"]

_EPILOG = """\
The critic is trained on part of the rows (--test-size of them are held out); on the held-out
rows its score of the observed pairs is compared with its scores of B random re-pairings
(permutations of y). The p-value (1 + #{permuted >= observed}) / (B + 1) is exact under
independence whatever the critic learned; a better critic only gives more power.

columns: as for 'mibounds estimate' (names, 0-based indices or ranges start:stop).

examples:
  mibounds test-independence data.csv --x 0:5 --y 5:10
  mibounds test-independence pairs.npz --x a --y b --permutations 9999 --json
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``test-independence`` to the ``mibounds`` subparsers."""
    parser = subparsers.add_parser(
        "test-independence",
        help="test whether two groups of columns are independent (exact permutation p-value)",
        description="Train a critic on part of the rows; on the others, compare its score of the observed "
        "pairs with re-paired ones. Prints the p-value, the statistic and an MI estimate.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help=".csv, .tsv, .npy, .npz or .parquet")
    parser.add_argument("--x", nargs="+", metavar="COLS", help="columns (or .npz arrays) of x")
    parser.add_argument("--y", nargs="+", metavar="COLS", help="columns (or .npz arrays) of y")
    test = parser.add_argument_group("test")
    test.add_argument(
        "--permutations",
        type=int,
        default=1000,
        metavar="B",
        help="permutations of y (the smallest p-value is 1 / (B + 1); default: %(default)s)",
    )
    test.add_argument(
        "--test-size",
        type=float,
        default=0.5,
        metavar="SHARE",
        help="share of the rows the test is computed on; the rest train the critic (default: %(default)s)",
    )
    add_estimation_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Load the file, test, print."""
    from mibounds.estimation import independence_test

    data = load_data(args, args.discrete)
    kwargs = estimation_kwargs(args)
    random_state, progress = kwargs.pop("random_state"), kwargs.pop("progress")
    result = run_quietly(
        independence_test,
        data.x,
        data.y,
        num_permutations=args.permutations,
        test_size=args.test_size,
        random_state=random_state,
        progress=progress,
        **kwargs,
    )
    labels, said = label_sides(data, args.discrete)
    header = f"{data.path}: {len(data.x)} rows; x = {len(data.x_columns)} columns, y = {len(data.y_columns)} columns"
    extra = {"file": data.path, "x_columns": data.x_columns, "y_columns": data.y_columns, "labels": labels}
    print_result(result, args, extra, [header + said])
    return 0
