"""Worker processes never outlive their pool: not even a pool killed while they still start up.

A worker's orphan watch compares its parent with the pool's process id, which the pool passes
in: a worker that reads its parent itself, after start-up, would read whichever process adopted
it when the pool died first, and never notice. Linux-only (``/proc``), as the tests that find
worker processes elsewhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux) to watch the processes"),
]

SRC = str(Path(__file__).resolve().parents[3] / "src")
STARTUP_SECONDS = 3.0  # how long each worker takes to start up: the pool dies well before

# The pool: one worker, one long job; it notes its worker's process id, then kills itself
# (SIGKILL: nothing is cleaned up) while the worker still starts up.
_POOL = """
import multiprocessing, os, signal, sys, time
os.environ["PYTHONPATH"] = os.pathsep.join([sys.argv[1], os.environ.get("PYTHONPATH", "")])  # the workers' start-up
from mibounds.experiments.sweep.executors import ProcessExecutor
pool = ProcessExecutor(1, threads_per_worker=1)._pool()
pool.submit(time.sleep, 120)
with open(sys.argv[2], "w") as handle:
    handle.write(" ".join(str(p.pid) for p in multiprocessing.active_children()))
time.sleep(0.3)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_of_a_pool_killed_while_they_start_up_exit(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(f"import time\ntime.sleep({STARTUP_SECONDS})\n")
    pids = tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    pool = subprocess.run([sys.executable, "-c", _POOL, str(slow), str(pids)], env=env, timeout=60)
    assert pool.returncode == -signal.SIGKILL
    workers = [int(pid) for pid in pids.read_text().split()]
    assert len(workers) == 1
    try:
        deadline = time.monotonic() + STARTUP_SECONDS + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "a worker ran its job on after its pool was killed"
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)  # never leave a runaway worker behind, even when the test fails


def test_a_worker_whose_pool_is_gone_before_its_watch_starts_exits_at_once() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pool = int(gone.stdout)  # a process that has ended: not this worker's parent
    script = (
        "from mibounds.experiments.sweep.executors import exit_when_orphaned\n"
        f"exit_when_orphaned({dead_pool})\n"
        "print('ran on', flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    worker = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert (worker.returncode, worker.stdout, worker.stderr) == (1, "", "")
