"""Killing a sweep (SIGINT, SIGKILL) and starting it again loses no finished cell and repeats none.

A subprocess runs a sweep of slow-ish cells; each cell appends "start"/"end" lines to a log, so
the test can count executions. The sweep is killed once some cells are recorded, then the same
sweep runs again to the end. The worker processes of this file's sweeps import this module to
find :func:`logged_cell`, so it imports nothing heavy at the top (no pytest, no torch).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes  # every test here runs a sweep in a child process

CELLS = 6
SLEEP = 0.25  # seconds per cell: long enough to kill a sweep mid-way, short enough for the budget
PHASE = "MIBOUNDS_TEST_SWEEP_PHASE"

_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from mibounds.experiments import SweepInterrupted, make_cells, run_sweep

def main():
    cells = make_cells(tasks=["a"], bounds=["nwj"], critics=["separable"], n=[100], seeds=range({cells}),
                       log={log!r}, sleep={sleep})
    try:
        run_sweep(cells, {db!r}, "test_runner_signals:logged_cell", workers={workers}, progress=False)
    except SweepInterrupted:
        sys.exit(130)

if __name__ == "__main__":
    main()
"""


def logged_cell(task: str, bound: str, critic: str, n: int, seed: int, log: str, sleep: float) -> dict:
    """The synthetic cell, logging "start"/"end" with the run's phase and this process id."""
    from mibounds.experiments.sweep.cells import synthetic_cell

    _append(log, {"event": "start", "seed": seed, "phase": os.environ[PHASE], "pid": os.getpid()})
    result = synthetic_cell(task, bound, critic, n, seed, sleep=sleep)
    _append(log, {"event": "end", "seed": seed, "phase": os.environ[PHASE], "pid": os.getpid()})
    return result


def _append(path: str, record: dict) -> None:
    with open(path, "a") as handle:  # one short write in append mode: lines never interleave
        handle.write(json.dumps(record) + "\n")


def _done_seeds(db: Path) -> set[int]:
    if not db.exists():
        return set()
    connection = sqlite3.connect(db, timeout=10)
    try:
        return {json.loads(p)["seed"] for (p,) in connection.execute("SELECT params FROM cells WHERE status = 'done'")}
    except sqlite3.OperationalError:  # the table is not created yet
        return set()
    finally:
        connection.close()


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by whoever adopted it) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _default_ctrl_c() -> None:
    # The child gets Ctrl-C's default action even where this run inherited SIGINT ignored (a
    # background job of a non-interactive shell); tests/conftest.py's default_ctrl_c, kept here
    # because worker processes import this module and it must stay light.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_and_resume(tmp_path: Path, kill: str, workers: int) -> None:
    if not hasattr(signal, "SIGKILL"):
        import pytest

        pytest.skip("needs POSIX signals")
    db, log = tmp_path / "results.sqlite", tmp_path / "executions.log"
    script = tmp_path / "sweep.py"
    script.write_text(
        _SCRIPT.format(
            here=str(Path(__file__).parent), cells=CELLS, log=str(log), sleep=SLEEP, db=str(db), workers=workers
        )
    )

    def run(phase: str, **kwargs) -> subprocess.Popen:
        env = {**os.environ, PHASE: phase}
        return subprocess.Popen(
            [sys.executable, str(script)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_default_ctrl_c,
            **kwargs,
        )

    # Phase 1: kill the sweep once two cells are recorded (and, with workers, every worker runs one).
    sweep = run("1", start_new_session=True)

    def ready() -> bool:
        started_pids = {r["pid"] for r in _log(log) if r["event"] == "start"}
        return len(_done_seeds(db)) >= 2 and len(started_pids) >= max(workers, 1)

    try:
        _wait_for(ready, 60, "two recorded cells")
    except AssertionError:
        sweep.kill()
        raise AssertionError(sweep.communicate()[1]) from None
    if kill == "SIGINT":
        os.killpg(sweep.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    else:
        sweep.kill()  # the parent only: its workers must notice and stop by themselves
    _, stderr = sweep.communicate(timeout=60)
    if kill == "SIGINT":
        assert sweep.returncode == 130, stderr
        assert "interrupted:" in stderr and "to resume, run the same sweep again" in stderr, stderr
    else:
        assert sweep.returncode == -signal.SIGKILL
    before = _done_seeds(db)
    assert 2 <= len(before) < CELLS, "the sweep was not killed mid-way"
    first = _log(log)
    workers_1 = {r["pid"] for r in first} - {sweep.pid}
    _wait_for(lambda: not any(_alive(pid) for pid in workers_1), 10, "the first sweep's workers to exit")
    assert all(r["phase"] == "1" for r in _log(log))

    # Phase 2: the same sweep again, to the end.
    resumed = run("2")
    _, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert f"{CELLS} cells, {len(before)} done before, {CELLS - len(before)} to run" in stderr

    connection = sqlite3.connect(db)
    rows = connection.execute("SELECT params, status, attempts FROM cells").fetchall()
    connection.close()
    assert sorted(json.loads(p)["seed"] for p, _, _ in rows) == list(range(CELLS))  # each cell once
    assert {(status, attempts) for _, status, attempts in rows} == {("done", 1)}

    starts = [r for r in _log(log) if r["event"] == "start"]
    second = [r["seed"] for r in starts if r["phase"] == "2"]
    # No finished cell was executed twice: the cells recorded before the kill ran once, in
    # phase 1, and phase 2 ran each of the others exactly once.
    for seed in before:
        assert [r["phase"] for r in starts if r["seed"] == seed] == ["1"]
    assert sorted(second) == sorted(set(range(CELLS)) - before)


def test_sigint_serial_sweep_resumes(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, "SIGINT", workers=0)


def test_sigkill_serial_sweep_resumes(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, "SIGKILL", workers=0)


def test_sigint_sweep_with_worker_processes_resumes(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, "SIGINT", workers=2)


def test_sigkill_sweep_with_worker_processes_resumes(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, "SIGKILL", workers=2)


def test_two_sweeps_started_at_once_run_each_cell_once(tmp_path: Path) -> None:
    # Two `mibounds bench sweep` processes on one results file, started together: one runs the
    # cells, the other refuses at once with one line naming the first (process id and host).
    import socket

    db, log = tmp_path / "results.sqlite", tmp_path / "executions.log"
    here, src = Path(__file__).parent, Path(__file__).resolve().parents[3] / "src"
    env = {
        **os.environ,
        PHASE: "1",
        "PYTHONPATH": os.pathsep.join([str(here), str(src), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [
        sys.executable,
        "-m",
        "mibounds.cli",
        "bench",
        "sweep",
        "--tasks",
        "a",
        "--bounds",
        "nwj",
        "--critics",
        "separable",
        "--n",
        "100",
        "--seeds",
        *map(str, range(CELLS)),
        "--set",
        f"log={log}",
        "--set",
        f"sleep={SLEEP * 2}",
        "--cell",
        "test_runner_signals:logged_cell",
        "--allow-import",
        "--db",
        str(db),
        "--no-progress",
    ]
    sweeps = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    stderrs = [sweep.communicate(timeout=120)[1] for sweep in sweeps]
    codes = sorted(sweep.returncode for sweep in sweeps)
    assert codes == [0, 2], stderrs
    winner, loser = sorted(range(2), key=lambda i: sweeps[i].returncode)
    refusal = stderrs[loser].strip().splitlines()
    assert len(refusal) == 1 and "Traceback" not in stderrs[loser], stderrs[loser]
    assert refusal[0].startswith(
        f"mibounds: error: results file '{db}' is in use by another sweep "
        f"(process {sweeps[winner].pid} on host {socket.gethostname()}, since "
    )
    starts = sorted(r["seed"] for r in _log(log) if r["event"] == "start")
    assert starts == list(range(CELLS))  # every cell ran exactly once
    connection = sqlite3.connect(db)
    rows = connection.execute("SELECT status, attempts FROM cells").fetchall()
    connection.close()
    assert rows == [("done", 1)] * CELLS
