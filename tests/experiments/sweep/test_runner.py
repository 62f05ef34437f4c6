"""The benchmark runner: grid, results file, resume, failures, executors, cell functions."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.experiments import Cell, ResultStore, make_cells, run_sweep, synthetic_cell
from mibounds.experiments.sweep import runner as runner_module
from mibounds.experiments.sweep.executors import make_executor, resolve_cell_function, run_cell
from mibounds.experiments.sweep.grid import canonical_json, cell_id, cells_from_spec, read_spec

from .conftest import QUIET, SYNTHETIC, stored_rows, write_module

# -- grid ---------------------------------------------------------------------------------------


def test_make_cells_is_the_product_of_the_axes_with_fixed_values() -> None:
    cells = make_cells(
        tasks=["a", "b"], bounds=["nwj", "infonce"], critics="separable", n=[64], seeds=range(3), steps=5
    )
    assert len(cells) == 2 * 2 * 1 * 1 * 3
    assert cells[0].params == {"task": "a", "bound": "nwj", "critic": "separable", "n": 64, "seed": 0, "steps": 5}
    # Seeds vary fastest, tasks slowest.
    assert [c.params["seed"] for c in cells[:3]] == [0, 1, 2]
    assert [c.params["task"] for c in cells] == ["a"] * 6 + ["b"] * 6
    assert len({c.id for c in cells}) == len(cells)


def test_make_cells_extra_axes_and_omitted_axes() -> None:
    cells = make_cells(bounds=["interpolated"], axes={"alpha": [0.01, 0.5]}, seeds=[0])
    assert [c.params for c in cells] == [
        {"bound": "interpolated", "seed": 0, "alpha": 0.01},
        {"bound": "interpolated", "seed": 0, "alpha": 0.5},
    ]


def test_repeated_combinations_are_one_cell() -> None:
    assert len(make_cells(n=[64, 64], seeds=[0, 0, 1])) == 2


def test_cell_id_is_sha256_of_canonical_json() -> None:
    params = {"task": "gaussian-d20-mi2", "n": 64, "seed": 3, "kw": {"b": 1, "a": [1, 2]}}
    text = '{"kw":{"a":[1,2],"b":1},"n":64,"seed":3,"task":"gaussian-d20-mi2"}'
    assert canonical_json(params) == text
    assert cell_id(params) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert Cell.from_params(params).id == cell_id(params)
    # Tuples are lists in JSON: the same cell.
    assert Cell.from_params({"kw": (1, 2)}) == Cell.from_params({"kw": [1, 2]})
    assert Cell.from_params({"n": 64}) != Cell.from_params({"n": 64.0})


_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in {"if", "in", "is", "or", "as"}
)
_values = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.booleans()
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_names, _values, min_size=1, max_size=6), st.randoms())
def test_cell_id_ignores_key_order_and_sees_every_value(params: dict, random) -> None:
    keys = list(params)
    random.shuffle(keys)
    shuffled = {key: params[key] for key in keys}
    assert cell_id(shuffled) == cell_id(params)
    key = keys[0]
    changed = {**params, key: [params[key]]}
    assert cell_id(changed) != cell_id(params)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": []}, "seeds is empty"),
        ({"n": [1], "axes": {"n": [2]}}, "axis 'n' is given twice"),
        ({"axes": {"alpha": [1]}, "alpha": 2}, "'alpha' given both as an axis and as a fixed value"),
        ({"axes": {"max-steps": [1]}}, "'max-steps' is not a Python identifier"),
        ({"seeds": [0], "device": object()}, "must be JSON values"),
        ({"axes": {"alpha": [float("nan")]}}, "must be finite"),
    ],
)
def test_make_cells_refuses_bad_grids(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_cells(**kwargs)


def test_spec_files(tmp_path: Path) -> None:
    spec = {"tasks": ["a"], "seeds": [0, 1], "axes": {"alpha": [0.5]}, "fixed": {"sleep": 0.0}, "cell": SYNTHETIC}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(spec))
    assert cells_from_spec(read_spec(path)) == make_cells(tasks=["a"], seeds=[0, 1], axes={"alpha": [0.5]}, sleep=0.0)
    path.write_text(json.dumps({"task": ["a"]}))
    with pytest.raises(ValueError, match="unknown keys 'task'; valid keys: tasks"):
        read_spec(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_spec(path)
    with pytest.raises(ValueError, match="cannot read the sweep spec"):
        read_spec(tmp_path / "missing.json")


# -- results file -------------------------------------------------------------------------------


def _outcome(**result: float) -> dict:
    return {
        "status": "done",
        "result": result,
        "error": None,
        "seconds": 0.5,
        "host": "h",
        "started_at": "2024-01-01T00:00:00+00:00",
        "finished_at": "2024-01-01T00:00:01+00:00",
    }


def test_store_writes_a_row_per_cell_with_parameter_columns(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    cell = Cell.from_params({"task": "a", "n": 64, "alpha": 0.5, "kw": {"x": [1, 2]}, "flag": True})
    with ResultStore(db) as store:
        store.record("m:f", cell, _outcome(estimate=1.5, ci_low=1.0, ci_high=2.0, stderr=0.25, true_mi=1.4, steps=7))
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    task, n, alpha, kw, flag, estimate, true_mi, status, attempts = connection.execute(
        "SELECT task, n, alpha, kw, flag, estimate, true_mi, status, attempts FROM cells"
    ).fetchone()
    connection.close()
    assert (task, n, alpha, kw, flag) == ("a", 64, 0.5, '{"x":[1,2]}', 1)
    assert (estimate, true_mi, status, attempts) == (1.5, 1.4, "done", 1)
    (row,) = stored_rows(db).values()
    assert row["params"] == cell.params and row["flag"] is True  # exact types from the params JSON
    assert row["steps"] == 7 and row["seconds"] == 0.5 and row["function"] == "m:f" and row["id"] == cell.id


def test_store_replaces_a_recorded_cell_and_counts_attempts(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    cell = Cell.from_params({"seed": 0})
    with ResultStore(db) as store:
        store.record("m:f", cell, {**_outcome(), "status": "failed", "result": None, "error": "Traceback: boom"})
        assert store.statuses("m:f") == {cell.id: "failed"}
        assert store.statuses("m:other") == {}
        store.record("m:f", cell, _outcome(estimate=2.0))
        (row,) = store.rows()
    assert (row["status"], row["error"], row["estimate"], row["attempts"]) == ("done", None, 2.0, 2)


def test_store_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no results file at .*run `mibounds bench sweep --db"):
        ResultStore(tmp_path / "missing.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="is not a mibounds results file"):
        ResultStore(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(ValueError, match=r"is an SQLite database of another program \(tables: t\)"):
        ResultStore(other, create=False)
    with (
        ResultStore(tmp_path / "r.sqlite") as store,
        pytest.raises(ValueError, match="'seconds' has the name of a results column"),
    ):
        store.add_parameter_columns(["seconds", "n"])


# -- running cells --------------------------------------------------------------------------------


def test_run_cell_reports_results_and_failures() -> None:
    done = run_cell(SYNTHETIC, {"seed": 1})
    assert done["status"] == "done" and done["error"] is None and done["seconds"] >= 0
    assert done["result"] == synthetic_cell(seed=1)
    failed = run_cell(SYNTHETIC, {"fail": True})
    assert failed["status"] == "failed" and failed["result"] is None
    assert "Traceback" in failed["error"] and "RuntimeError: synthetic cell told to fail" in failed["error"]


def test_run_cell_makes_results_plain_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(
        tmp_path,
        "odd_cells",
        """
        import numpy as np, torch
        def numbers():
            return {"estimate": np.float32(0.5), "curve": torch.arange(3), "bad": float("inf")}
        def not_a_dict():
            return [1.0]
        def not_json():
            return {"estimate": object()}
    """,
        monkeypatch,
    )
    assert run_cell("odd_cells:numbers", {})["result"] == {"estimate": 0.5, "curve": [0, 1, 2], "bad": None}
    assert "returned list; return a dict" in run_cell("odd_cells:not_a_dict", {})["error"]
    assert "the cell's result 'estimate' holds a object" in run_cell("odd_cells:not_json", {})["error"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("mibounds.experiments.sweep.cells.synthetic_cell", "must be a dotted path 'package.module:function'"),
        ("no_such_module_xyz:f", "cannot import the module 'no_such_module_xyz'"),
        ("mibounds.experiments.sweep.cells:no_such_cell", "has no function 'no_such_cell'"),
    ],
)
def test_resolve_cell_function_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_cell_function(path)


def test_sweep_records_every_cell_and_a_failure_does_not_stop_it(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    cells = make_cells(
        tasks=["a"], bounds=["nwj", "dv"], critics=["separable"], n=[100], seeds=[0, 1], axes={"fail": [True, False]}
    )
    summary = run_sweep(cells, db, SYNTHETIC, **QUIET)
    assert (summary.total, summary.done, summary.failed, summary.done_before) == (8, 4, 4, 0)
    rows = stored_rows(db)
    assert set(rows) == {c.id for c in cells}
    for cell in cells:
        row = rows[cell.id]
        if cell.params["fail"]:
            assert (
                row["status"] == "failed" and "synthetic cell told to fail" in row["error"] and row["estimate"] is None
            )
        else:
            expected = synthetic_cell(**cell.params)
            assert row["status"] == "done" and row["error"] is None
            assert [row[k] for k in ("estimate", "ci_low", "ci_high", "stderr", "true_mi")] == [
                expected[k] for k in ("estimate", "ci_low", "ci_high", "stderr", "true_mi")
            ]
        assert row["started_at"] <= row["finished_at"] and row["attempts"] == 1


def test_a_second_run_skips_done_cells_and_retries_failed_ones_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cell fails while a marker file exists, so a retry can succeed; each call is logged.
    marker, log = tmp_path / "broken", tmp_path / "calls.log"
    write_module(
        tmp_path,
        "flaky_cells",
        f"""
        import os
        def cell(seed):
            with open({str(log)!r}, "a") as f:
                f.write(f"{{seed}}\\n")
            if seed == 1 and os.path.exists({str(marker)!r}):
                raise ValueError("flaky")
            return {{"estimate": float(seed)}}
    """,
        monkeypatch,
    )
    db, cells = tmp_path / "r.sqlite", make_cells(seeds=range(3))
    marker.touch()
    first = run_sweep(cells, db, "flaky_cells:cell", **QUIET)
    assert (first.done, first.failed) == (2, 1)
    marker.unlink()
    second = run_sweep(cells, db, "flaky_cells:cell", **QUIET)
    assert (second.done_before, second.failed_before, second.done, second.failed) == (2, 1, 0, 0)
    assert second.remaining == 1
    third = run_sweep(cells, db, "flaky_cells:cell", retry_failed=True, **QUIET)
    assert (third.done_before, third.done, third.failed) == (2, 1, 0)
    assert log.read_text().split() == ["0", "1", "2", "1"]
    assert {row["params"]["seed"]: (row["status"], row["attempts"]) for row in stored_rows(db).values()} == {
        0: ("done", 1),
        1: ("done", 2),
        2: ("done", 1),
    }


def test_bad_sweeps_fail_before_anything_runs(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with pytest.raises(
        ValueError,
        match=r"cannot take the parameters \['seed', 'typo_param'\].*unexpected keyword argument 'typo_param'",
    ):
        run_sweep(make_cells(seeds=[0], typo_param=1), db, SYNTHETIC, **QUIET)
    with pytest.raises(ValueError, match="'seconds' has the name of a results column"):
        run_sweep(make_cells(seeds=[0], seconds=1), db, SYNTHETIC, **QUIET)
    with pytest.raises(ValueError, match="unknown executor 'dask'.*Valid executors: local, ray"):
        run_sweep(make_cells(seeds=[0]), db, SYNTHETIC, executor="dask", **QUIET)
    assert not db.exists()
    with pytest.raises(ValueError, match="address='auto' is for the Ray executor"):
        make_executor("local", address="auto")
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        make_executor("local", workers=-1)
    with pytest.raises(ValueError, match="mp_context must be one of"):
        make_executor("local", workers=2, mp_context="fork")


@pytest.mark.processes
def test_worker_processes_give_the_rows_of_the_serial_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(
        tmp_path,
        "env_cells",
        """
        import os
        from mibounds.experiments.sweep.cells import synthetic_cell
        def cell(seed, fail=False):
            row = synthetic_cell(seed=seed, fail=fail)
            return {**row, "pid": os.getpid(), "omp": os.environ.get("OMP_NUM_THREADS")}
    """,
        monkeypatch,
    )
    cells = make_cells(seeds=range(6), axes={"fail": [False, True]})
    serial, parallel = tmp_path / "serial.sqlite", tmp_path / "parallel.sqlite"
    run_sweep(cells, serial, "env_cells:cell", **QUIET)
    summary = run_sweep(cells, parallel, "env_cells:cell", workers=2, threads_per_worker=1, **QUIET)
    assert (summary.done, summary.failed) == (6, 6)
    a, b = stored_rows(serial), stored_rows(parallel)
    assert set(a) == set(b)
    for key in a:
        assert (a[key]["status"], a[key]["estimate"], a[key]["ci_low"]) == (
            b[key]["status"],
            b[key]["estimate"],
            b[key]["ci_low"],
        )
        assert (a[key]["error"] is None) == (b[key]["error"] is None)
    done = [row for row in b.values() if row["status"] == "done"]
    assert os.getpid() not in {row["pid"] for row in done}  # ran in worker processes
    assert {row["omp"] for row in done} == {"1"}  # torch/OpenMP limited to one thread per worker


@pytest.mark.processes
def test_a_crashing_worker_fails_its_cells_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(
        tmp_path,
        "crash_cells",
        """
        import os
        def cell(seed):
            if seed == 0:
                os._exit(3)  # a segfault or the out-of-memory killer, as seen from the parent
            return {"estimate": float(seed)}
    """,
        monkeypatch,
    )
    # One worker, two cells in flight: the crash takes seed 0 and possibly seed 1 with it.
    summary = run_sweep(make_cells(seeds=range(4)), tmp_path / "r.sqlite", "crash_cells:cell", workers=1, **QUIET)
    rows = {row["params"]["seed"]: row for row in stored_rows(tmp_path / "r.sqlite").values()}
    assert summary.done + summary.failed == 4 and set(rows) == {0, 1, 2, 3}
    assert rows[0]["status"] == "failed" and "a worker process died while this cell was in flight" in rows[0]["error"]
    assert rows[2]["status"] == rows[3]["status"] == "done"


@pytest.mark.processes
def test_abandoning_a_sweep_stops_the_workers_running_its_cells() -> None:
    # The first cell returns at once, the others would sleep a minute: closing the stream of
    # outcomes (what Ctrl-C does) must stop the workers now, not after the running cells.
    executor = make_executor("local", workers=2)
    cells = [Cell.from_params({"seed": 0})] + make_cells(seeds=range(1, 5), sleep=60.0)
    outcomes = executor.run(SYNTHETIC, cells)
    cell, outcome = next(outcomes)
    assert cell == cells[0] and outcome["status"] == "done"
    workers = [child.pid for child in multiprocessing.active_children()]
    assert workers  # the pool's processes, running the sleeping cells
    start = time.monotonic()
    outcomes.close()
    assert time.monotonic() - start < 10
    # Asked of the operating system: a multiprocessing.Process whose exit status another waiter
    # collected (the pool's own management thread may) keeps reporting itself alive.
    assert [pid for pid in workers if _running(pid)] == []


def _running(pid: int | None) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): signal 0 only says whether the pid exists
        try:
            os.kill(pid or 0, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_ctrl_c_while_recording_waits_for_the_commit(default_sigint: None) -> None:
    guard = runner_module._InterruptGuard()
    reached = False
    with pytest.raises(KeyboardInterrupt), guard:
        with guard.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached = True
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the data-driven cell -------------------------------------------------------------------------


def test_estimate_cell_reports_the_estimate_beside_the_true_mi(tmp_path: Path) -> None:
    pytest.importorskip("mibounds.estimation")
    from mibounds import tasks
    from mibounds.experiments.sweep.cells import estimate_cell

    fixed = {"max_steps": 20, "batch_size": 16, "critic_kwargs": {"hidden_dim": 16, "embed_dim": 8}}
    cells = make_cells(
        tasks=["gaussian-d2-mi0.5"], bounds=["infonce"], critics=["separable"], n=[1000], seeds=[3], **fixed
    )
    db = tmp_path / "r.sqlite"
    summary = run_sweep(cells, db, **QUIET)
    assert summary.done == 1, stored_rows(db)
    (row,) = stored_rows(db).values()
    assert row["true_mi"] == tasks.make("gaussian-d2-mi0.5").mutual_information == 0.5
    assert row["task_id"] == "gaussian-d2-mi0.5" and row["bound"] == "infonce" and "history" not in row
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"] and row["stderr"] > 0
    # Deterministic: calling the cell again gives the same number.
    assert estimate_cell(**cells[0].params)["estimate"] == row["estimate"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"task": "gausian-d2-mi1"}, "unknown task 'gausian-d2-mi1'"),
        ({"bound": "infonse"}, "unknown bound 'infonse'. Did you mean 'infonce'?"),
        ({"critic": "seperable"}, "unknown critic 'seperable'. Did you mean 'separable'?"),
        ({"n": 1}, "n must be an integer number of samples >= 2"),
    ],
)
def test_estimate_cells_with_bad_names_are_refused_before_running(tmp_path: Path, params: dict, message: str) -> None:
    pytest.importorskip("mibounds.estimation")
    cell = {"task": "gaussian-d2-mi1", "bound": "infonce", "critic": "separable", "n": 256, "seed": 0, **params}
    with pytest.raises(ValueError, match=message):
        run_sweep([cell], tmp_path / "r.sqlite", **QUIET)
