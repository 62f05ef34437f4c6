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
    "label_sides",
    "load_data",
    "print_result",
    "run_estimate",
    "run_quietly",
    "set_threads",
]


def add_estimation_options(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`~mibounds.estimation.settings.EstimatorSettings` (defaults: the
    library's, shown by ``--help``), and the output options."""
    from mibounds.estimation.settings import EstimatorSettings

    group = parser.add_argument_group("estimator")
    defaults = EstimatorSettings.defaults()
    for name, flag in EstimatorSettings.flags().items():
        default = flag.default if flag.default is not None else defaults[name]
        shown = "" if "(default:" in flag.help else " (default: %(default)s)"
        if flag.negatable:
            group.add_argument(
                flag.name, dest=name, action=argparse.BooleanOptionalAction, default=default, help=flag.help + shown
            )
            continue
        # Words from a list are checked by argparse as typed and mapped to values afterwards.
        convert: Any = flag.parse if flag.choices is None else None
        group.add_argument(
            flag.name,
            dest=name,
            type=convert,
            default=default,
            metavar=flag.metavar,
            choices=flag.choices,
            help=flag.help + shown,
        )
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    out.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )


def estimation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`mibounds.estimate` from the parsed options."""
    from mibounds.estimation.settings import EstimatorSettings

    options: dict[str, Any] = {}
    for name, flag in EstimatorSettings.flags().items():
        value = getattr(args, name)
        if flag.choices is not None and flag.parse is not None:
            value = flag.parse(value)
        options[name] = value
    options["progress"] = not args.no_progress and sys.stderr.isatty()
    return options


def check_names(args: argparse.Namespace) -> None:
    """Refuse bad options (unknown bound or critic names, out-of-range values) before reading data."""
    from mibounds.estimation.settings import make_settings

    make_settings(estimation_kwargs(args))


def run_estimate(x: Any, y: Any, args: argparse.Namespace, z: Any = None):  # -> EstimateResult
    """:func:`mibounds.estimate` with the options; its warnings go into the result, not stderr."""
    from mibounds.estimation import conditional_estimate, estimate

    if z is None:
        return run_quietly(estimate, x, y, **estimation_kwargs(args))
    return run_quietly(conditional_estimate, x, y, z, **estimation_kwargs(args))


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
    set_threads(args.threads or 1)
    return data


def label_sides(data: Any, discrete: str) -> tuple[list[str], str]:
    """Which sides of the loaded data the estimator reads as class labels, and the words that say
    so after the header line (empty when none: every column is a number)."""
    from mibounds.estimation.discrete import categorical_sides

    if data.z is not None:  # conditional MI reads numbers only (it refuses labels)
        return [], ""
    sides = categorical_sides(data.x, data.y, discrete)
    named = [
        (side, columns)
        for side, columns, flag in (("x", data.x_columns, sides[0]), ("y", data.y_columns, sides[1]))
        if flag
    ]
    if not named:
        return [], ""
    shown = "; ".join(
        f"{side} ({', '.join(columns[:6])}{', ...' if len(columns) > 6 else ''})" for side, columns in named
    )
    return [side for side, _ in named], f"; read as class labels: {shown} (--discrete none reads numbers as numbers)"


def set_threads(threads: int) -> None:
    """``torch.set_num_threads`` for ``--threads`` (the command owns its process)."""
    import torch

    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def print_result(
    result: Any, args: argparse.Namespace, extra: dict[str, Any] | None = None, lines: list[str] | None = None
) -> None:
    """Print the result: JSON (``--json``, with ``extra`` fields) or lines for people, whose
    warnings name options as the command line spells them (``--discrete none``)."""
    if args.json:
        print(json.dumps({**(extra or {}), **result.to_dict()}, indent=2))
        return
    from mibounds.cli import as_flags

    for line in lines or []:
        print(line)
    print(as_flags(str(result)))  # the library's words for options (discrete='none') as flags
