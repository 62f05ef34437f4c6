"""Run peer MI packages (torch-mist, benchmark-mi) on the samples of our accuracy suite.

For each (task, n, seed) of ``mibounds.experiments.accuracy.SUITE`` and ``HARD_SUITE`` x ``SEEDS`` this script draws
the very samples our suite uses (``mibounds.tasks.make(task).sample(n, seed=seed,
dtype=torch.float64)``), hands them as ``.npz`` files to one worker process per peer, each in a
virtual environment of its own (created here on first use), and writes every peer estimate into
our SQLite results file as a cell of the function ``"peers"`` with parameters ``task``, ``n``,
``seed``, ``estimator``. Cells already recorded as done are skipped, so a killed run resumes.

Not part of the package; not run by the tests. See README.md next to this file.

Usage:
    python benchmarks/peers/run_peers.py --db results/accuracy/accuracy.sqlite
        [--peers torch-mist bmi] [--tasks ID ...] [--seeds 0 1 ...] [--venvs DIR] [--setup-only]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FUNCTION = "peers"

TORCH_SPEC = "torch==2.13.0"
TASK_WIDTH = 46  # the longest task id of the suite


@dataclass(frozen=True)
class Peer:
    """A peer package: its venv, what to install there, its worker and its estimator names."""

    name: str
    worker: str
    estimators: tuple[str, ...]
    # pip install steps, in order. After the first step of torch-mist, torch is held at the
    # installed version (a constraints file), so the later steps never swap in another build.
    steps: tuple[tuple[str, ...], ...]
    pin_torch: bool = False


PEERS = {
    "torch-mist": Peer(
        name="torch-mist",
        worker="torch_mist_worker.py",
        estimators=("torch-mist:default", "torch-mist:mine", "torch-mist:default-heldout", "torch-mist:mine-heldout"),
        steps=((TORCH_SPEC,), ("torch-mist==0.2.17", "pandas", "numpy<2")),
        pin_torch=True,
    ),
    "bmi": Peer(
        name="bmi",
        worker="bmi_worker.py",
        estimators=("bmi:infonce", "bmi:ksg", "bmi:cca"),
        # jax newer than 0.4.30 breaks equinox 0.10 (bmi 0.1.3 wants equinox<0.11); the jax
        # ecosystem around it is pinned to the versions checked to work together.
        steps=(
            (
                "benchmark-mi==0.1.3",
                "jax==0.4.30",
                "jaxlib==0.4.30",
                "equinox==0.10.11",
                "jaxtyping==0.3.11",
                "optax==0.1.9",
                "chex==0.1.90",
                "tensorflow-probability==0.20.1",
            ),
        ),
    ),
}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _log(message: str) -> None:
    print(message, flush=True)


# -- the suite ------------------------------------------------------------------------------------


def load_suite() -> tuple[tuple[tuple[str, int], ...], tuple[int, ...], str]:
    """(SUITE + HARD_SUITE, SEEDS, where they came from): the same cells as ``mibounds bench accuracy``."""
    from mibounds.experiments.accuracy import HARD_SUITE, SEEDS, SUITE

    cells = tuple((str(t), int(n)) for t, n in (*SUITE, *HARD_SUITE))
    return cells, tuple(int(s) for s in SEEDS), "mibounds.experiments.accuracy"


# -- virtual environments -------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _pip(python: Path, args: Sequence[str]) -> None:
    command = [str(python), "-m", "pip", "--disable-pip-version-check", *args]
    _log("  $ " + " ".join(command[2:]))
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise SystemExit(f"pip failed (status {result.returncode}) in {python.parent.parent}:\n{tail}")


def _check_cpu_torch(python: Path, torch_index_url: str | None) -> None:
    """Refuse to install a CUDA build of torch (several GB) on Linux x86-64: ask pip where it would
    fetch torch from without installing it (metadata only)."""
    if not (sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")):
        return
    args = ["install", "--dry-run", "--quiet", "--no-deps", "--only-binary", ":all:", "--report", "-", TORCH_SPEC]
    if torch_index_url:
        args += ["--index-url", torch_index_url]
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
        if not report["install"]:  # already installed
            return
        url = report["install"][0]["download_info"]["url"]
    except (ValueError, KeyError, IndexError):
        raise SystemExit(f"could not ask pip which torch it would install:\n{result.stderr[-2000:]}") from None
    if "+cpu" not in urllib.parse.unquote(url.rsplit("/", 1)[-1]):
        raise SystemExit(
            f"pip would install torch from {url}, which is not a CPU build (on Linux the PyPI wheel "
            "bundles CUDA, several GB). Pass --torch-index-url https://download.pytorch.org/whl/cpu"
        )


def ensure_venv(peer: Peer, venvs: Path, torch_index_url: str | None) -> Path:
    """Create the peer's venv and install its packages unless a previous setup already did."""
    venv = venvs / peer.name
    python = venv_python(venv)
    marker = venv / "mibounds-peers.json"
    wanted = [list(step) for step in peer.steps]
    if python.exists() and marker.exists():
        try:
            if json.loads(marker.read_text())["steps"] == wanted:
                return venv
        except (ValueError, KeyError):
            pass
    t0 = time.perf_counter()
    _log(f"setting up the {peer.name} venv in {venv}")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for i, step in enumerate(peer.steps):
        args = ["install", *step]
        if step == (TORCH_SPEC,):
            _check_cpu_torch(python, torch_index_url)
            if torch_index_url:
                args += ["--index-url", torch_index_url]
        elif peer.pin_torch and i > 0:
            version = subprocess.run(
                [str(python), "-c", "import torch; print(torch.__version__)"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            constraints = venv / "mibounds-peers-constraints.txt"
            constraints.write_text(f"torch=={version}\n")
            args += ["--constraint", str(constraints)]
        _pip(python, args)
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - t0
    record = {"steps": wanted, "freeze": freeze.split(), "setup_seconds": round(seconds, 1)}
    marker.write_text(json.dumps(record, indent=1))
    _log(f"{peer.name} venv ready in {seconds:.0f} s")
    return venv


# -- data -----------------------------------------------------------------------------------------


@dataclass
class DataCell:
    task: str
    n: int
    seed: int
    truth: float
    path: str

    @property
    def key(self) -> str:
        return json.dumps([self.task, self.n, self.seed])


def write_samples(task_id: str, n: int, seed: int, path: Path) -> DataCell:
    import numpy as np
    import torch

    from mibounds import tasks

    task = tasks.make(task_id)
    x, y = task.sample(n, seed=seed, dtype=torch.float64)
    x = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float64)
    y = np.ascontiguousarray(y.detach().cpu().numpy(), dtype=np.float64)
    np.savez(path, x=x, y=y)
    return DataCell(task_id, n, seed, float(task.mutual_information), str(path))


def make_cell(task: str, n: int, seed: int, estimator: str):
    from mibounds.experiments.sweep.grid import Cell

    return Cell.from_params({"task": task, "n": n, "seed": seed, "estimator": estimator})


# -- running a worker -----------------------------------------------------------------------------


def worker_env(threads: int, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp)  # torch-mist keeps its best weights in a temporary file
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = str(threads)
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)  # the venv must not see the system site (mibounds, torch 2.x)
    return env


class Recorder:
    """Writes peer outcomes into the results file and prints one line per cell."""

    def __init__(self, db: Path, versions: dict[str, dict[str, str]]) -> None:
        self.db = db
        self.versions = versions
        self.host = socket.gethostname()

    def record(self, data: DataCell, estimator: str, peer: str, outcome: dict[str, Any]) -> None:
        from mibounds.experiments.sweep.store import ResultStore

        estimate, error = outcome.get("estimate"), outcome.get("error")
        status = "done" if error is None and estimate is not None else "failed"
        if status == "failed" and not error:
            error = "the worker returned no estimate"
        result = None
        if status == "done":
            result = {"estimate": estimate, "true_mi": data.truth, "task_id": data.task, "estimator": estimator}
            version = self.versions.get(peer, {})
            package = "torch-mist" if peer == "torch-mist" else "benchmark-mi"
            if package in version:
                result["peer_version"] = f"{package}=={version[package]}"
        with ResultStore(self.db) as store:
            store.record(
                FUNCTION,
                make_cell(data.task, data.n, data.seed, estimator),
                {
                    "status": status,
                    "result": result,
                    "seconds": outcome.get("seconds"),
                    "error": error if status == "failed" else None,
                    "host": self.host,
                    "started_at": outcome.get("started_at"),
                    "finished_at": outcome.get("finished_at") or _now(),
                },
            )
        shown = f"{estimate:8.3f}" if status == "done" else "  FAILED"
        seconds = outcome.get("seconds")
        _log(
            f"{data.task:<{TASK_WIDTH}} n={data.n:<6} seed={data.seed:<3} {estimator:<19} {shown}  true {data.truth:7.3f}"
            f"  {seconds if seconds is not None else float('nan'):7.1f} s"
            + ("" if status == "done" else "  " + _headline(error))
        )


def _headline(error: str) -> str:
    """One line of an error: a traceback's last line, or the first line of our own messages."""
    lines = error.strip().splitlines() or ["?"]
    return (lines[-1] if lines[0].startswith("Traceback") else lines[0])[:160]


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _kill(process: subprocess.Popen) -> None:
    """End the worker we started (its own process group: nothing else)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_worker(
    peer: Peer,
    venv: Path,
    jobs: list[tuple[DataCell, list[str]]],
    recorder: Recorder,
    *,
    threads: int,
    cell_timeout: float,
    log_dir: Path,
    scratch: Path,
) -> None:
    """Run the jobs through the peer's worker; restart it after a crash or a cell past the timeout
    (that cell is recorded as failed) until every (file, estimator) has an outcome."""
    pending = [(data, name) for data, names in jobs for name in names]
    by_key = {data.key: data for data, _ in jobs}
    while pending:
        todo: dict[str, list[str]] = {}
        for data, name in pending:
            todo.setdefault(data.key, []).append(name)
        spec = {
            "jobs": [
                {"key": key, "path": by_key[key].path, "seed": by_key[key].seed, "estimators": names}
                for key, names in todo.items()
            ]
        }
        spec_path = scratch / f"jobs-{peer.name}-{time.time_ns()}.json"
        spec_path.write_text(json.dumps(spec))
        log_path = log_dir / f"{peer.name}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [str(venv_python(venv)), str(HERE / peer.worker), str(spec_path)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=worker_env(threads, scratch),
                start_new_session=True,
            )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
        started_at, t0 = _now(), time.monotonic()
        failure = None
        try:
            while pending:
                try:
                    line = lines.get(timeout=cell_timeout)
                except queue.Empty:
                    failure = f"timed out: no result within {cell_timeout:.0f} s (--cell-timeout); worker killed"
                    break
                if line is None:
                    process.wait()
                    failure = f"the {peer.name} worker exited with status {process.returncode} during this cell"
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("event") == "ready":
                    recorder.versions[peer.name] = message.get("versions", {})
                    continue
                data = by_key.get(message.get("key"))
                item = next((p for p in pending if p[0] is data and p[1] == message.get("estimator")), None)
                if item is None:
                    continue
                pending.remove(item)
                recorder.record(data, item[1], peer.name, message)
                started_at, t0 = _now(), time.monotonic()
        except BaseException:
            _kill(process)
            raise
        _kill(process)
        if failure is not None and pending:
            data, name = pending.pop(0)
            tail = _log_tail(log_path)
            outcome = {
                "estimate": None,
                "error": f"{failure}\nlast lines of {log_path}:\n{tail}",
                "seconds": time.monotonic() - t0,
                "started_at": started_at,
                "finished_at": _now(),
            }
            recorder.record(data, name, peer.name, outcome)
        spec_path.unlink(missing_ok=True)


# -- summary --------------------------------------------------------------------------------------


def summarize(
    db: Path,
    wanted: set[tuple[str, int, int, str]],
    suite: Sequence[tuple[str, int]],
    estimators: Sequence[str],
) -> None:
    """Per (task, n, estimator): runs done of those asked for, mean estimate, the truth, mean
    absolute error and median seconds, over every recorded cell of this run's selection."""
    from mibounds.experiments.sweep.store import ResultStore

    with ResultStore(db) as store:
        rows = store.rows(FUNCTION)
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row.get("task"), row.get("n"), row.get("seed"), row.get("estimator"))
        if key in wanted:
            groups.setdefault((key[0], key[1], key[3]), []).append(row)
    _log("")
    _log(
        f"{'task':<{TASK_WIDTH}} {'n':>6} {'estimator':<19} {'done':>6} "
        f"{'mean est':>9} {'true':>7} {'mean|err|':>9} {'median s':>9}"
    )
    for task, n in suite:
        for estimator in estimators:
            group = groups.get((task, n, estimator))
            if not group:
                continue
            done = [r for r in group if r["status"] == "done"]
            total = sum(1 for k in wanted if k[0] == task and k[1] == n and k[3] == estimator)
            truth = done[0]["true_mi"] if done else float("nan")
            if done:
                mean_est = statistics.fmean(r["estimate"] for r in done)
                mean_err = statistics.fmean(abs(r["estimate"] - r["true_mi"]) for r in done)
                median_s = statistics.median(r["seconds"] for r in done)
                numbers = f"{mean_est:9.3f} {truth:7.3f} {mean_err:9.3f} {median_s:9.1f}"
            else:
                numbers = f"{'-':>9} {'-':>7} {'-':>9} {'-':>9}"
            _log(f"{task:<{TASK_WIDTH}} {n:>6} {estimator:<19} {len(done):>3}/{total:<2} {numbers}")


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="results file (SQLite) to add the peer rows to")
    parser.add_argument("--peers", nargs="+", choices=sorted(PEERS), default=list(PEERS), help="default: all")
    parser.add_argument("--tasks", nargs="+", metavar="ID", help="task ids of the suite to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, help="default: the suite's SEEDS")
    parser.add_argument(
        "--venvs",
        type=Path,
        default=Path.home() / ".cache" / "mibounds-peers",
        help="folder of the venvs (default: %(default)s)",
    )
    parser.add_argument("--setup-only", action="store_true", help="create the venvs and stop")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default: %(default)s)")
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=3600.0,
        help="seconds one estimator call may take before it is recorded as failed (default: %(default)s)",
    )
    parser.add_argument(
        "--torch-index-url",
        help="pip index for torch in the torch-mist venv, e.g. https://download.pytorch.org/whl/cpu "
        "where PyPI's Linux torch is a CUDA build",
    )
    parser.add_argument("--log-dir", type=Path, help="where the workers' stderr goes (default: VENVS/logs)")
    args = parser.parse_args(argv)
    if args.db is None and not args.setup_only:
        parser.error("--db is required (unless --setup-only)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    peers = [PEERS[name] for name in dict.fromkeys(args.peers)]
    venvs: dict[str, Path] = {}
    for peer in peers:
        venvs[peer.name] = ensure_venv(peer, args.venvs.expanduser(), args.torch_index_url)
    if args.setup_only:
        for peer in peers:
            _log(f"{peer.name}: {venv_python(venvs[peer.name])}")
        return 0

    import torch

    torch.set_num_threads(args.threads)
    suite, default_seeds, source = load_suite()
    _log(f"suite from {source}: {len(suite)} (task, n) pairs, seeds {list(default_seeds)}")
    if args.tasks:
        known = {task for task, _ in suite}
        unknown = [task for task in args.tasks if task not in known]
        if unknown:
            raise SystemExit(
                f"task(s) not in the suite: {', '.join(unknown)}; the suite has: {', '.join(sorted(known))}"
            )
        suite = tuple((task, n) for task, n in suite if task in args.tasks)
    seeds = tuple(dict.fromkeys(args.seeds if args.seeds is not None else default_seeds))
    estimators = [name for peer in peers for name in peer.estimators]
    wanted = {(task, n, seed, name) for task, n in suite for seed in seeds for name in estimators}

    from mibounds.experiments.sweep.store import ResultStore

    with ResultStore(args.db) as store:
        statuses = store.statuses(FUNCTION)
    done = {key for key in wanted if statuses.get(make_cell(*key).id) == "done"}
    _log(f"{len(wanted)} peer cells, {len(done)} already done in {args.db}, {len(wanted) - len(done)} to run")

    log_dir = args.log_dir or args.venvs.expanduser() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(args.db, {})
    with tempfile.TemporaryDirectory(prefix="mibounds-peers-") as tmp:
        scratch = Path(tmp)
        samples = scratch / "samples"
        samples.mkdir()
        # Seed by seed, so that a run cut short has whole seeds of every task and peer.
        for seed in seeds:
            data_cells: dict[tuple[str, int], DataCell] = {}
            for peer in peers:
                jobs = []
                for task, n in suite:
                    names = [name for name in peer.estimators if (task, n, seed, name) not in done]
                    if not names:
                        continue
                    if (task, n) not in data_cells:
                        path = samples / f"seed{seed}-{len(data_cells):03d}.npz"
                        data_cells[(task, n)] = write_samples(task, n, seed, path)
                    jobs.append((data_cells[(task, n)], names))
                if jobs:
                    run_worker(
                        peer,
                        venvs[peer.name],
                        jobs,
                        recorder,
                        threads=args.threads,
                        cell_timeout=args.cell_timeout,
                        log_dir=log_dir,
                        scratch=scratch,
                    )
            for data in data_cells.values():
                Path(data.path).unlink(missing_ok=True)
    summarize(args.db, wanted, suite, estimators)
    _log(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
