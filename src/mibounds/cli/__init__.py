"""The ``mibounds`` command line: a thin layer over the library.

::

    mibounds demo                          # estimate MI on a ground-truth task, beside the true MI
    mibounds estimate data.csv --x 0:20 --y 20:40 --json
    mibounds test-independence data.csv --x 0:5 --y 5:10   # exact permutation p-value
    mibounds rank-features data.csv --y label               # features by MI with a target
    mibounds bounds                        # the registry of bounds as a table
    mibounds tasks                         # the ground-truth tasks
    mibounds bench ...                     # benchmark sweeps (when installed)

Every subcommand lives in its own module with ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed arguments, returning the exit status). Mistakes of the
user (bad files, columns, names, values) raise ``ValueError``, ``TypeError``, ``OSError`` or
``ImportError`` with a one-line message; :func:`main` prints ``mibounds: error: <message>`` to
stderr and returns 2, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["USER_ERRORS", "as_flags", "build_parser", "main"]

#: Exceptions that mean "the input or the options are wrong", reported in one line with status 2.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)
_SUBCOMMANDS = ("demo", "estimate", "independence", "listing", "ranking")


class UsageError(Exception):
    """A command-line syntax error (unknown option, missing argument)."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors reach :func:`main` instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see '{self.prog} --help'")


def build_parser() -> argparse.ArgumentParser:
    """The ``mibounds`` parser with every subcommand registered."""
    from mibounds import __version__

    parser = _Parser(
        prog="mibounds",
        description="Estimate and maximize mutual information with variational bounds (in nats).",
        epilog="Add --debug anywhere to see the full traceback of an error.",
    )
    parser.add_argument("--version", action="version", version=f"mibounds {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"mibounds.cli.{name}").register(subparsers)
    try:
        bench = importlib.import_module("mibounds.cli.bench")
    except ModuleNotFoundError as error:  # optional: another part of the package provides it
        if error.name != "mibounds.cli.bench":
            raise
    else:
        bench.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mibounds`` command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for a usage or input error, 130 when interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    args_list = [a for a in args_list if a != "--debug"]
    try:
        parser = build_parser()  # imports torch: a Ctrl-C here is an interruption like any other
        try:
            args = parser.parse_args(args_list)
        except SystemExit as stop:  # --help and --version
            return int(stop.code or 0)
        return int(args.func(args) or 0)
    except UsageError as error:
        _print_error(str(error))
        return 2
    except BrokenPipeError:  # the reader (e.g. `| head`) closed stdout: not the user's mistake
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except USER_ERRORS as error:
        if debug:
            raise
        _print_error(as_flags(str(error) or type(error).__name__))
        return 2
    except (MemoryError, RuntimeError) as error:  # an allocation larger than the machine: the size asked for
        if debug or not _out_of_memory(error):
            raise
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        _print_error(f"out of memory ({first}); ask for fewer rows, samples or dimensions")
        return 2
    except KeyboardInterrupt:
        print("mibounds: interrupted", file=sys.stderr)
        return 130


def as_flags(message: str) -> str:
    """A library message in the words of the command line: each estimator option written as a
    keyword (``discrete='none'``, ``batch_size=120``) becomes its flag (``--discrete none``,
    ``--batch-size 120``).

    Example:
        >>> as_flags("pass discrete='none' to treat x as numbers, or batch_size=64")
        'pass --discrete none to treat x as numbers, or --batch-size 64'
    """
    try:
        from mibounds.estimation.settings import EstimatorSettings
    except ImportError:  # the error being reported may be this very import
        return message
    for name, flag in EstimatorSettings.flags().items():

        def spelled(match: re.Match[str], flag_name: str = flag.name) -> str:
            value = match.group(1) if match.group(1) is not None else match.group(2)
            return f"{flag_name} {'none' if value == 'None' else value}"

        message = re.sub(rf"\b{name}=(?:'([^']*)'|([\w.+-]+))", spelled, message)
    return message


def _out_of_memory(error: BaseException) -> bool:
    """Whether an error is a failed allocation (Python's MemoryError, torch's CPU or CUDA one)."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _print_error(message: str) -> None:
    print(f"mibounds: error: {' '.join(message.split())}", file=sys.stderr)
