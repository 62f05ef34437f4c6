"""Where a sweep's cells run: in this process, in local worker processes, or on a Ray cluster.

Every executor has one method, ``run(function, cells)``: a generator that runs the cells and
yields ``(cell, outcome)`` as each one finishes, in completion order. An outcome is the plain
dict :func:`run_cell` returns, whatever the executor. If the generator is closed early, or an
exception (Ctrl-C) reaches it, it abandons the cells still running: queued cells are
cancelled and worker processes are stopped, so nothing runs on after the sweep has ended.

The cell function is named by its dotted path ``"package.module:function"`` rather than passed
as an object, so that spawned processes and Ray workers can import it. Worker processes limit
torch (and OpenMP/BLAS) to ``threads_per_worker`` threads each, 1 by default: N workers with
all cores each would oversubscribe the machine.

This module imports nothing heavy (no torch) so that worker processes start fast.

Example:
    >>> from mibounds.experiments.sweep.executors import make_executor
    >>> from mibounds.experiments.sweep.grid import make_cells
    >>> cells = make_cells(tasks=["t"], bounds=["nwj"], critics=["separable"], n=[100], seeds=[0, 1])
    >>> executor = make_executor(workers=0)  # 0: in this process
    >>> [outcome["status"] for _, outcome in executor.run("mibounds.experiments.sweep.cells:synthetic_cell", cells)]
    ['done', 'done']
"""

from __future__ import annotations

import concurrent.futures
import datetime as _datetime
import importlib
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from mibounds.experiments.sweep.cells import current_cell_path
from mibounds.experiments.sweep.grid import Cell
from mibounds.validation.values import check_int, unknown_name_error

__all__ = [
    "EXECUTORS",
    "Executor",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "exit_when_orphaned",
    "make_executor",
    "resolve_cell_function",
    "run_cell",
]

#: Executor names accepted by :func:`make_executor` (and ``--executor``).
EXECUTORS = ("local", "ray")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_PARENT_POLL_SECONDS = 0.5


# -- running one cell (in whatever process) ---------------------------------------------------


def resolve_cell_function(path: str) -> Callable[..., Mapping[str, Any]]:
    """Import the cell function named ``"package.module:function"``.

    A path into a module that has moved since (a results or spec file written before the move)
    imports the function from where it is now (:func:`mibounds.experiments.sweep.cells.current_cell_path`).

    Raises:
        ValueError: If the path is malformed, the module cannot be imported, or it has no such
            callable.
    """
    # A path stored before its module moved imports from where the module is now.
    module_name, sep, attribute = current_cell_path(str(path)).partition(":")
    if not (sep and module_name and attribute):
        raise ValueError(
            f"cell function {path!r} must be a dotted path 'package.module:function', e.g. "
            "'mibounds.experiments.sweep.cells:estimate_cell'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"cannot import the module {module_name!r} of cell function {path!r}: {error}; it must be "
            "importable by worker processes (installed, or on PYTHONPATH)"
        ) from None
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
    if not callable(function):
        raise ValueError(f"module {module_name!r} has no function {attribute!r} (cell function {path!r})")
    return function


def run_cell(function: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Run one cell and describe how it went; an exception in the cell is caught and reported.

    Args:
        function: The cell function's dotted path.
        params: The cell's parameters, passed as keyword arguments.

    Returns:
        ``{"status": "done" | "failed", "result": dict | None, "error": traceback text | None,
        "seconds": wall time of the call, "host", "started_at", "finished_at"}``. The result is
        converted to plain JSON values (numpy/torch scalars to numbers, non-finite floats to
        None); a result that is not a dict of such values fails the cell.
    """
    started_at = _utc_now()
    start = time.perf_counter()
    result: dict[str, Any] | None = None
    error: str | None = None
    try:
        returned = resolve_cell_function(function)(**params)
        if not isinstance(returned, Mapping):
            raise TypeError(
                f"cell function {function!r} returned {type(returned).__name__}; return a dict such as "
                "{'estimate': ..., 'ci_low': ..., 'ci_high': ..., 'stderr': ..., 'true_mi': ...}"
            )
        result = {str(key): _plain(value, str(key)) for key, value in returned.items()}
    except Exception:  # a failing cell is a row with its traceback, never the end of the sweep
        result, error = None, traceback.format_exc()
    return {
        "status": "done" if error is None else "failed",
        "result": result,
        "error": error,
        "seconds": time.perf_counter() - start,
        "host": socket.gethostname(),
        "started_at": started_at,
        "finished_at": _utc_now(),
    }


def _failure(message: str) -> dict[str, Any]:
    """The outcome of a cell that could not be run at all (its worker died, it was lost)."""
    now = _utc_now()
    return {
        "status": "failed",
        "result": None,
        "error": message,
        "seconds": None,
        "host": None,
        "started_at": None,
        "finished_at": now,
    }


def _plain(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    if hasattr(value, "tolist"):  # numpy and torch scalars and arrays
        return _plain(value.tolist(), key)
    raise TypeError(
        f"the cell's result {key!r} holds a {type(value).__name__}; return JSON values "
        "(numbers, strings, lists and dicts of them)"
    )


def _utc_now() -> str:
    return _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="milliseconds")


def limit_threads(threads: int | None) -> None:
    """Limit torch, OpenMP and BLAS in this process to ``threads`` threads (None: leave as is).

    The environment variables act on libraries imported later; torch, if already imported, is
    told directly.
    """
    if threads is None:
        return
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _init_worker(threads: int | None, parent: int | None = None) -> None:
    # Ctrl-C in a terminal reaches the whole process group: only the parent decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_when_orphaned(parent)
    limit_threads(threads)


def exit_when_orphaned(parent: int | None = None) -> None:
    """Make this worker process exit as soon as its parent dies (a worker pool's initializer).

    A parent killed with SIGKILL (or SIGTERM, which a process pool does not catch) cannot stop its
    workers, which would otherwise run on through their queue; a worker that finds itself
    adopted by another process exits at once.

    Args:
        parent: The pool's process id, passed in by the pool (``os.getpid()`` there). A worker
            starts up (imports, unpickling) before its initializer runs; a parent that died
            meanwhile has already handed the worker to another process, so the worker's own
            ``os.getppid()`` would name that one and never change. None: the current parent.
    """
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:  # orphaned while starting up
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="mibounds-parent-watch", daemon=True).start()


# -- executors --------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs cells and yields ``(cell, outcome)`` as each finishes (see the module docstring)."""

    def run(self, function: str, cells: Sequence[Cell]) -> Iterator[tuple[Cell, dict[str, Any]]]: ...


class SerialExecutor:
    """Runs the cells one after another in this process (threads left as they are)."""

    def run(self, function: str, cells: Sequence[Cell]) -> Iterator[tuple[Cell, dict[str, Any]]]:
        for cell in cells:
            yield cell, run_cell(function, cell.params)

    def __repr__(self) -> str:
        return "SerialExecutor()"


class ProcessExecutor:
    """Runs the cells in ``workers`` local processes (``concurrent.futures``).

    A few more cells than workers are in flight at any time, so abandoning a sweep cancels little
    and stops quickly. If a worker process dies (a crash, the out-of-memory killer), the cells in
    flight at that moment fail with a message saying so, and a fresh pool runs the rest.

    Args:
        workers: Number of worker processes, at least 1.
        threads_per_worker: torch/OpenMP/BLAS threads in each worker (None: library defaults).
        context: ``"spawn"`` (default, safe everywhere) or ``"forkserver"`` (POSIX; faster start).
    """

    def __init__(self, workers: int, threads_per_worker: int | None = 1, context: str = "spawn") -> None:
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.context = context

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers}, threads_per_worker={self.threads_per_worker}, context={self.context!r})"

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(self.context),
            initializer=_init_worker,
            initargs=(self.threads_per_worker, os.getpid()),
        )

    def run(self, function: str, cells: Sequence[Cell]) -> Iterator[tuple[Cell, dict[str, Any]]]:
        queue = list(reversed(cells))  # pop() from the end: first cell first
        pool = self._pool()
        # Invariant: every future in flight belongs to the current pool.
        in_flight: dict[concurrent.futures.Future, Cell] = {}
        finished = False
        try:
            while True:
                while queue and len(in_flight) < 2 * self.workers:
                    try:
                        in_flight[pool.submit(run_cell, function, queue[-1].params)] = queue[-1]
                    except BrokenProcessPool:
                        if in_flight:  # their failures show below, and the pool is replaced there
                            break
                        pool.shutdown(wait=False, cancel_futures=True)  # a worker died while idle
                        pool = self._pool()
                        continue
                    queue.pop()
                if not in_flight:
                    break
                done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                    # Every future of a broken pool fails: report all cells in flight, start afresh.
                    done = set(in_flight)
                    concurrent.futures.wait(done)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
                for future in done:
                    cell = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool as error:
                        outcome = _failure(
                            f"a worker process died while this cell was in flight ({error}); the cause may "
                            "be this cell or another one in flight at the same time (a crash, or the "
                            "out-of-memory killer). Run again with retry_failed to retry it."
                        )
                    except Exception as error:  # e.g. a result that could not be sent back
                        outcome = _failure(
                            f"the worker could not return this cell's outcome: {type(error).__name__}: {error}"
                        )
                    yield cell, outcome
            finished = True
        finally:
            _close(pool, finished)

    def map_jobs(self, function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, Any]]:
        """Run ``function(*job)`` for every job in the workers; yield ``(index, result)`` as each finishes.

        Unlike :meth:`run`, a job's exception (or a worker's death) is raised here: use it for
        work that is one whole (e.g. the jobs of a staircase), not for independent cells. If the
        generator is closed early or an exception (Ctrl-C) reaches it, the jobs still queued are
        cancelled and the workers stopped.

        Args:
            function: A module-level function (worker processes import it by reference).
            jobs: The positional arguments of each call.
        """
        pool = self._pool()
        finished = False
        try:
            futures = {pool.submit(function, *job): index for index, job in enumerate(jobs)}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
            finished = True
        finally:
            _close(pool, finished)


def _close(pool: concurrent.futures.ProcessPoolExecutor, finished: bool) -> None:
    """Shut the pool down after a run that completed; abandon it (queued work cancelled, workers
    stopped) after one that ended early (an exception, Ctrl-C, or the generator closed)."""
    if finished:
        pool.shutdown(wait=True)
    else:
        _abandon(pool)


def _abandon(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    # Cancel what has not started, then stop the workers running abandoned cells. Python 3.14
    # has pool.terminate_workers(); before it, the pool's process table (taken before shutdown,
    # which drops it) is the only handle on them.
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


class RayExecutor:
    """Runs the cells as Ray tasks, on a local Ray instance or an existing cluster.

    ``mibounds`` (and the cell function's module) must be importable on every Ray worker. If Ray
    is already initialized in this process, that session is used and left running; otherwise
    ``ray.init(address=address, **init_kwargs)`` starts or joins one and it is shut down after
    the sweep.

    Args:
        address: None starts a local Ray instance; ``"auto"`` joins the cluster this machine
            belongs to; ``"ray://host:10001"`` connects a Ray client.
        workers: At most this many cells in flight; 0 means twice the cluster's CPUs.
        threads_per_worker: CPUs each cell asks Ray for, and torch threads it may use.
        init_kwargs: More arguments for ``ray.init`` (e.g. ``runtime_env``).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int = 0,
        threads_per_worker: int | None = 1,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.init_kwargs = dict(init_kwargs or {})

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, workers={self.workers}, threads_per_worker={self.threads_per_worker})"

    def run(self, function: str, cells: Sequence[Cell]) -> Iterator[tuple[Cell, dict[str, Any]]]:
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, **{"include_dashboard": False, **self.init_kwargs})
        queue = iter(cells)
        in_flight: dict[Any, Cell] = {}
        finished = False
        try:
            remote = ray.remote(_run_cell_with_threads).options(num_cpus=self.threads_per_worker or 1)
            limit = self.workers or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
            while True:
                while len(in_flight) < limit and (cell := next(queue, None)) is not None:
                    in_flight[remote.remote(function, cell.params, self.threads_per_worker)] = cell
                if not in_flight:
                    break
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for reference in ready:
                    cell = in_flight.pop(reference)
                    try:
                        outcome = ray.get(reference)
                    except Exception as error:  # the task itself failed: worker lost, cancelled
                        outcome = _failure(f"the Ray task of this cell failed: {type(error).__name__}: {error}")
                    yield cell, outcome
            finished = True
        finally:
            if not finished:
                for reference in in_flight:
                    ray.cancel(reference, force=True)
            if started:
                ray.shutdown()


def _run_cell_with_threads(function: str, params: Mapping[str, Any], threads: int | None) -> dict[str, Any]:
    limit_threads(threads)
    return run_cell(function, params)


def import_ray() -> Any:
    """Import ray, or raise an ImportError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            "the Ray executor needs the 'ray' package: pip install 'mibounds[ray]' (or run with "
            "the local executor: workers=N / --workers N)"
        ) from None
    return ray


def make_executor(
    executor: str = "local",
    *,
    workers: int = 0,
    address: str | None = None,
    threads_per_worker: int | None = 1,
    mp_context: str = "spawn",
    ray_init_kwargs: Mapping[str, Any] | None = None,
) -> SerialExecutor | ProcessExecutor | RayExecutor:
    """The executor for a sweep's options (see :func:`mibounds.experiments.run_sweep`).

    ``"local"`` with ``workers=0`` runs in this process, with ``workers=N`` in N processes;
    ``"ray"`` runs on Ray, ``workers`` bounding the cells in flight.

    Raises:
        ValueError: For an unknown executor or context, a negative ``workers``, a
            ``threads_per_worker`` below 1, or an ``address`` without the Ray executor.
        ImportError: For ``"ray"`` without ray installed.
    """
    if executor not in EXECUTORS:
        raise unknown_name_error("executor", executor, EXECUTORS)
    workers = check_int(workers, "workers", minimum=0, why="0 runs the cells in this process")
    if threads_per_worker is not None:
        threads_per_worker = check_int(threads_per_worker, "threads_per_worker", minimum=1, hint="or None")
    if executor == "ray":
        import_ray()  # fail now, before a results file is created, if the extra is missing
        return RayExecutor(address, workers, threads_per_worker, ray_init_kwargs)
    if address is not None:
        raise ValueError(f"address={address!r} is for the Ray executor; pass executor='ray' (--executor ray) too")
    if workers == 0:
        return SerialExecutor()
    contexts = multiprocessing.get_all_start_methods()
    if mp_context not in ("spawn", "forkserver") or mp_context not in contexts:
        usable = [c for c in ("spawn", "forkserver") if c in contexts]
        raise ValueError(
            f"mp_context must be one of {usable} (fork is unsafe with torch's threads), got {mp_context!r}"
        )
    return ProcessExecutor(workers, threads_per_worker, mp_context)
