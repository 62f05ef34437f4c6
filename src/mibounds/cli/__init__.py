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
stderr and returns 2, with the traceback only under ``--debug``. A Ctrl-C (SIGINT) at any moment
of :func:`main`, building the parser (which imports torch) included, prints
``mibounds: interrupted`` and returns 130, whatever error the interruption turned into on its way
out (an import interrupted inside a C extension can surface as an ``ImportError``).

This module imports next to nothing (``argparse`` and the subcommands load inside :func:`main`),
so that an interruption during start-up almost surely lands inside it.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import argparse

__all__ = ["USER_ERRORS", "as_flags", "build_parser", "main"]

#: Exceptions that mean "the input or the options are wrong", reported in one line with status 2.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)
_SUBCOMMANDS = ("demo", "estimate", "independence", "listing", "ranking")


class UsageError(Exception):
    """A command-line syntax error (unknown option, missing argument)."""


def _parser_class() -> type[argparse.ArgumentParser]:
    """An ``ArgumentParser`` whose errors reach :func:`main` instead of exiting the process."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise UsageError(f"{message}; see '{self.prog} --help'")

    return _Parser


class _InterruptWatch:
    """Notes whether a Ctrl-C (SIGINT) arrived while the command line starts up.

    Python turns SIGINT into ``KeyboardInterrupt``, but an import interrupted inside a C
    extension (numpy's, while torch loads) can re-raise it as an ``ImportError`` that no longer
    says so; the watch lets :func:`main` report any error of the start-up after a Ctrl-C as the
    interruption it is. Inside its ``with`` block it replaces Python's default handler (only
    that one, so an embedding program's own handler is left alone, and only in the main thread),
    and puts it back after, so that a subcommand may install its own (a sweep defers a Ctrl-C
    while it commits a cell).
    """

    def __init__(self) -> None:
        self.seen = False
        self._installed = False

    def __enter__(self) -> _InterruptWatch:
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        except ValueError:  # not the main thread: signals are not ours to handle
            pass
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    """The ``mibounds`` parser with every subcommand registered."""
    from mibounds import __version__

    parser = _parser_class()(
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
    try:
        return _run(argv, _InterruptWatch())
    except KeyboardInterrupt:  # arrived while an error was being reported
        return _interrupted()


def _run(argv: Sequence[str] | None, watch: _InterruptWatch) -> int:
    """:func:`main` under an interrupt watch: each failure mapped to its message and status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    args_list = [a for a in args_list if a != "--debug"]
    try:
        with watch:  # the start-up: building the parser imports torch
            parser = build_parser()
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
    except KeyboardInterrupt:
        return _interrupted()
    except USER_ERRORS as error:
        if watch.seen and not debug:
            return _interrupted()
        if debug:
            raise
        _print_error(as_flags(str(error) or type(error).__name__))
        return 2
    except (MemoryError, RuntimeError) as error:  # an allocation larger than the machine: the size asked for
        if watch.seen and not debug:
            return _interrupted()
        if debug or not _out_of_memory(error):
            raise
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        _print_error(f"out of memory ({first}); ask for fewer rows, samples or dimensions")
        return 2
    except Exception:
        if watch.seen and not debug:  # whatever a Ctrl-C during the start-up broke on its way out
            return _interrupted()
        raise


def _interrupted() -> int:
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
    import re

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
