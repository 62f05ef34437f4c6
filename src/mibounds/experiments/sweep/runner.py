"""The benchmark runner: run a grid of cells, record each one as it finishes, resume later.

A sweep is a list of cells (:func:`mibounds.experiments.sweep.grid.make_cells`) and a cell function
named by its dotted path. :func:`run_sweep` skips the cells the results file already holds as
done, runs the others on the chosen executor, and commits each outcome to the file the moment
it arrives (:class:`mibounds.experiments.sweep.store.ResultStore`). So a sweep stopped in any way (an
exception, Ctrl-C, SIGKILL, a power cut after the last commit) loses no finished cell, and the
same call resumes it without repeating one. A cell that raises is recorded as ``failed`` with
its traceback and the sweep goes on; failed cells are rerun only with ``retry_failed=True``.

Ctrl-C (SIGINT) ends a sweep gracefully: the cells still running are abandoned (their workers
stopped), everything finished is kept, a line says how to resume, and
:class:`SweepInterrupted` (a ``KeyboardInterrupt``) is raised. A Ctrl-C that arrives while an
outcome is being written is held until the write is committed.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mibounds._progress import progress_bar
from mibounds.experiments.sweep.cells import current_cell_path, former_cell_paths
from mibounds.experiments.sweep.executors import RayExecutor, make_executor, resolve_cell_function
from mibounds.experiments.sweep.grid import Cell, parameter_names
from mibounds.experiments.sweep.store import ResultStore, check_parameter_names

__all__ = ["DEFAULT_CELL", "SweepInterrupted", "SweepSummary", "run_sweep"]

#: The data-driven cell: sample a task, train a critic, report the held-out estimate.
DEFAULT_CELL = "mibounds.experiments.sweep.cells:estimate_cell"


@dataclass
class SweepSummary:
    """What a call of :func:`run_sweep` did.

    Attributes:
        db: The results file.
        function: The cell function's dotted path.
        total: Distinct cells in the grid.
        done_before: Cells already done in the file, skipped.
        failed_before: Cells failed earlier and not retried (``retry_failed=False``).
        done: Cells that finished now.
        failed: Cells that failed now.
        interrupted: Whether Ctrl-C ended the sweep early.
        seconds: Wall time of the call.
    """

    db: str
    function: str
    total: int
    done_before: int = 0
    failed_before: int = 0
    done: int = 0
    failed: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def remaining(self) -> int:
        """Cells of the grid not done yet (failed ones included)."""
        return self.total - self.done_before - self.done

    def __str__(self) -> str:
        parts = [f"{self.done_before + self.done} of {self.total} cells done ({self.done} now)"]
        if self.failed:
            parts.append(f"{self.failed} failed now")
        if self.failed_before:
            parts.append(f"{self.failed_before} failed before and skipped (retry with retry_failed / --retry-failed)")
        return f"{', '.join(parts)}; {self.seconds:.1f} s; results in {self.db}"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a sweep; everything finished is saved. ``summary`` says how far it got."""

    def __init__(self, summary: SweepSummary) -> None:
        super().__init__(str(summary))
        self.summary = summary


def run_sweep(
    cells: Iterable[Cell | Mapping[str, Any]],
    db: str | Path = "results.sqlite",
    cell: str = DEFAULT_CELL,
    *,
    workers: int = 0,
    executor: str = "local",
    address: str | None = None,
    retry_failed: bool = False,
    threads_per_worker: int | None = 1,
    mp_context: str = "spawn",
    ray_init_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
    verbose: bool = True,
    resume_hint: str | None = None,
) -> SweepSummary:
    """Run every cell not yet done, recording each outcome in an SQLite file as it finishes.

    Before anything runs, the cell function is imported and each cell's parameters are bound to
    its signature, so a typo fails at once rather than as N failed rows. A cell function may
    also carry a ``check_cells(list_of_params)`` attribute that raises ``ValueError`` for bad
    values (:func:`mibounds.experiments.sweep.cells.estimate_cell` checks task, bound and critic names).

    Example:
        >>> from mibounds.experiments import make_cells, run_sweep
        >>> cells = make_cells(tasks=["gaussian-d4-mi1"], bounds=["nwj"], critics=["separable"],
        ...                    n=[64], seeds=range(3))
        >>> summary = run_sweep(cells, "demo.sqlite",  # doctest: +SKIP
        ...                     cell="mibounds.experiments.sweep.cells:synthetic_cell", workers=2)

    Args:
        cells: The cells (or parameter dicts); repeated cells run once.
        db: The SQLite results file, created if missing.
        cell: The cell function, ``"package.module:function"``, called with a cell's parameters
            as keyword arguments and returning a dict (``estimate``, ``ci_low``, ``ci_high``,
            ``stderr``, ``true_mi`` and any other JSON values). A path from before the function's
            module moved (:data:`mibounds.experiments.sweep.cells.MOVED_MODULES`) runs the function
            where it is now; a results file written then keeps recording under its old name.
        workers: ``0`` runs the cells in this process; ``N`` in N local worker processes
            (started with ``mp_context``, so a script that calls this needs the usual
            ``if __name__ == "__main__":`` guard); with Ray, the most cells in flight (0: twice
            the cluster's CPUs).
        executor: ``"local"`` or ``"ray"`` (needs ``pip install 'mibounds[ray]'``).
        address: The Ray cluster: None starts a local one, ``"auto"`` joins this machine's.
        retry_failed: Rerun the cells recorded as failed (by default they are skipped).
        threads_per_worker: torch/OpenMP/BLAS threads per worker process or Ray task.
        mp_context: Start method of local workers: ``"spawn"`` or ``"forkserver"``.
        ray_init_kwargs: More keyword arguments for ``ray.init``.
        progress: Show a tqdm bar over the cells (when tqdm is installed).
        verbose: Print a line at the start, one per failed cell and a summary, on stderr.
        resume_hint: What to tell people to run to resume, printed on Ctrl-C.

    Returns:
        A :class:`SweepSummary`.

    Raises:
        ValueError: For a bad cell function, parameters it cannot take, or bad options; for a
            results file that another sweep is using (naming its process id and host), that
            another program wrote, or that is damaged or read-only.
        ImportError: For ``executor="ray"`` without ray installed.
        SweepInterrupted: On Ctrl-C, after saving what finished (a ``KeyboardInterrupt``).
    """
    start = time.perf_counter()
    cell = current_cell_path(cell)  # a path stored before its module moved runs from where it is now
    grid = _distinct(cells)
    # Names reach SQL as column names: checked before anything is imported or written, also
    # for Cell objects built by hand (which skip Cell.from_params).
    check_parameter_names(parameter_names(grid))
    function = resolve_cell_function(cell)
    runner = make_executor(
        executor,
        workers=workers,
        address=address,
        threads_per_worker=threads_per_worker,
        mp_context=mp_context,
        ray_init_kwargs=ray_init_kwargs,
    )
    _check_cells(function, cell, grid)
    summary = SweepSummary(db=str(db), function=cell, total=len(grid))
    # One sweep per file: a second one refuses (naming this one) instead of running every
    # cell again beside it.
    with ResultStore(db) as store, store.sweep_lock():
        store.add_parameter_columns(parameter_names(grid))
        recorded_as = _recorded_name(store, cell)
        statuses = store.statuses(recorded_as)
        summary.done_before = sum(statuses.get(c.id) == "done" for c in grid)
        if not retry_failed:
            summary.failed_before = sum(statuses.get(c.id) == "failed" for c in grid)
        pending = [c for c in grid if statuses.get(c.id) is None or (retry_failed and statuses[c.id] == "failed")]
        _say(
            verbose,
            f"sweep: {len(grid)} cells, {summary.done_before} done before, {len(pending)} to run "
            f"({_describe(runner)}); results in {db}",
        )
        guard = _InterruptGuard()
        bar = progress_bar(len(pending), progress, unit="cell", desc="cells", file=sys.stderr, dynamic_ncols=True)
        # Nothing to run starts nothing (no Ray instance, no worker processes).
        outcomes = runner.run(cell, pending) if pending else iter(())
        try:
            with guard:
                for finished, outcome in outcomes:
                    with guard.deferred():
                        store.record(recorded_as, finished, outcome)
                    if outcome["status"] == "done":
                        summary.done += 1
                    else:
                        summary.failed += 1
                        _say(
                            verbose, f"cell {finished.id} {finished.params} failed: {_last_line(outcome['error'])}", bar
                        )
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(failed=summary.failed, refresh=False)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            if pending and isinstance(outcomes, Generator):  # every executor's run() is a generator
                outcomes.close()  # abandons the running cells if the loop did not finish
            if bar is not None:
                bar.close()
    summary.seconds = time.perf_counter() - start
    if summary.interrupted:
        hint = resume_hint or "run the same sweep again with the same results file"
        _say(True, f"interrupted: {summary}\nto resume, {hint} (finished cells are skipped)")
        raise SweepInterrupted(summary)
    _say(verbose, f"sweep finished: {summary}")
    return summary


def _distinct(cells: Iterable[Cell | Mapping[str, Any]]) -> list[Cell]:
    unique: dict[str, Cell] = {}
    for item in cells:
        cell = item if isinstance(item, Cell) else Cell.from_params(item)
        unique.setdefault(cell.id, cell)
    return list(unique.values())


def _recorded_name(store: ResultStore, path: str) -> str:
    """The name the file records the cell function under: ``path``, or for a file written before
    the function's module moved, the path it had then, so that the file's finished cells are
    skipped and a retried cell replaces its own row."""
    recorded = set(store.functions())
    return next((name for name in (path, *former_cell_paths(path)) if name in recorded), path)


def _check_cells(function: Any, path: str, cells: list[Cell]) -> None:
    # Bind each distinct set of parameter names once: a missing or unknown argument is a
    # mistake in the grid, better reported now than as one failed row per cell.
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some callables have no signature to inspect
        signature = None
    if signature is not None:
        seen: set[frozenset[str]] = set()
        for cell in cells:
            names = frozenset(cell.params)
            if names in seen:
                continue
            seen.add(names)
            try:
                signature.bind(**cell.params)
            except TypeError as error:
                raise ValueError(
                    f"cell function {path!r} cannot take the parameters {sorted(names)} of cell {cell.params}: {error}"
                ) from None
    check = getattr(function, "check_cells", None)
    if callable(check) and cells:
        check([cell.params for cell in cells])


def _describe(runner: object) -> str:
    workers = getattr(runner, "workers", 0)
    if isinstance(runner, RayExecutor):
        return f"on Ray ({runner.address or 'a local instance'})"
    return f"{workers} local worker processes" if workers else "in this process"


class _InterruptGuard:
    """Ctrl-C raises KeyboardInterrupt as usual, but not inside :meth:`deferred`, where it waits.

    Only installed in the main thread and only over Python's default SIGINT handler, so a host
    application's own handler is left alone.
    """

    def __init__(self) -> None:
        self._inside = False
        self._pending = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptGuard:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self._inside:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._inside = True
        try:
            yield
        finally:
            self._inside = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


def _say(enabled: bool, message: str, bar: Any = None) -> None:
    if not enabled:
        return
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no error text)"
