"""The results file: never silently wrong, never a traceback, never another program's data touched.

One sweep per file (``attempts`` counts retries of failures); files of other programs are
refused before any write; parameter names are checked wherever the store is reached; damaged and
read-only files give one-line errors.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mibounds.experiments import Cell, ResultStore, make_cells, run_sweep, write_report
from mibounds.experiments.sweep.grid import cell_id

SYNTHETIC = "mibounds.experiments.sweep.cells:synthetic_cell"
QUIET = {"progress": False, "verbose": False}


def _outcome(status: str = "done", **result: float) -> dict:
    return {
        "status": status,
        "result": result if status == "done" else None,
        "error": None if status == "done" else "Traceback: boom",
        "seconds": 0.5,
        "host": "h",
        "started_at": "2024-01-01T00:00:00+00:00",
        "finished_at": "2024-01-01T00:00:01+00:00",
    }


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what a refusal must leave unchanged."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- item 4: one sweep per file, attempts ---------------------------------------------------------


def test_attempts_count_retries_of_failures_only(tmp_path: Path) -> None:
    done, flaky = Cell.from_params({"seed": 0}), Cell.from_params({"seed": 1})
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.record("m:f", done, _outcome(estimate=1.0))
        store.record("m:f", done, _outcome(estimate=1.0))  # recorded again: not a retry of a failure
        store.record("m:f", flaky, _outcome("failed"))
        store.record("m:f", flaky, _outcome("failed"))
        store.record("m:f", flaky, _outcome(estimate=2.0))
        attempts = {row["params"]["seed"]: row["attempts"] for row in store.rows()}
    assert attempts == {0: 1, 1: 3}


def _hold(db: Path, pid: int, host: str) -> None:
    """Record ``pid`` on ``host`` as the sweep holding ``db``, as a running sweep does."""
    with ResultStore(db) as store:
        store._connection.execute(
            "INSERT OR REPLACE INTO sweep_lock VALUES (1, ?, ?, '2024-01-01T00:00:00+00:00')", (pid, host)
        )
        store._connection.commit()


def test_a_sweep_refuses_a_file_that_another_sweep_holds(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    _hold(db, os.getppid(), socket.gethostname())  # a live process on this host
    before = _files(tmp_path)
    with pytest.raises(
        ValueError,
        match=rf"in use by another sweep \(process {os.getppid()} on host "
        rf"{socket.gethostname()}, since 2024-01-01",
    ):
        run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET)
    assert _files(tmp_path) == before
    # A holder on another host cannot be checked: refused as well, naming it.
    _hold(db, 1, "elsewhere.example")
    with pytest.raises(ValueError, match=r"process 1 on host elsewhere.example"):
        run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET)


@pytest.mark.processes
def test_the_lock_of_a_dead_sweep_is_taken_over_and_released_at_the_end(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _hold(db, int(dead.stdout), socket.gethostname())  # killed with SIGKILL, say
    assert run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET).done == 2
    with ResultStore(db, create=False) as store:
        assert store._connection.execute("SELECT COUNT(*) FROM sweep_lock").fetchone() == (0,)
    assert run_sweep(make_cells(seeds=[0, 1, 2]), db, SYNTHETIC, **QUIET).done == 1


# -- item 5: files of other programs ---------------------------------------------------------------


def _foreign(path: Path, *, cells_table: bool, wal: bool = False) -> None:
    connection = sqlite3.connect(path)
    if wal:
        connection.execute("PRAGMA journal_mode=WAL")
    if cells_table:
        connection.execute("CREATE TABLE cells (cell_id INTEGER PRIMARY KEY, colour TEXT)")
        connection.execute("INSERT INTO cells VALUES (1, 'red')")
    else:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        connection.execute("INSERT INTO invoices VALUES (1, 9.5)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(("cells_table", "wal"), [(True, False), (False, False), (True, True)])
def test_a_database_of_another_program_is_never_modified(tmp_path: Path, cells_table: bool, wal: bool) -> None:
    db = tmp_path / "theirs.sqlite"
    _foreign(db, cells_table=cells_table, wal=wal)
    before = _files(tmp_path)
    message = r"'.*theirs.sqlite' is an SQLite database of another program \(tables: (cells|invoices)\)"
    with pytest.raises(ValueError, match=message):
        run_sweep(make_cells(seeds=[0]), db, SYNTHETIC, **QUIET)
    with pytest.raises(ValueError, match=message):
        ResultStore(db)
    with pytest.raises(ValueError, match=message):
        write_report(db, tmp_path / "out")
    assert _files(tmp_path) == before  # not a byte changed, no -wal/-shm or report left behind


def test_results_files_of_earlier_versions_are_still_read_and_written(tmp_path: Path) -> None:
    # Files written before the application id: user_version 1 and the cells table of mibounds.
    db = tmp_path / "old.sqlite"
    run_sweep(make_cells(seeds=[0]), db, SYNTHETIC, **QUIET)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA application_id = 0")
    connection.execute("DROP TABLE sweep_lock")
    connection.commit()
    connection.close()
    assert run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET).done == 1
    with ResultStore(db, create=False) as store:
        assert len(store.rows()) == 2


def test_an_empty_file_or_database_becomes_a_results_file(tmp_path: Path) -> None:
    empty, blank = tmp_path / "empty.sqlite", tmp_path / "blank.sqlite"
    empty.touch()
    sqlite3.connect(blank).execute("VACUUM").connection.close()
    for db in (empty, blank):
        assert run_sweep(make_cells(seeds=[0]), db, SYNTHETIC, **QUIET).done == 1


# -- item 7: parameter names -------------------------------------------------------------------------

_BAD_NAMES = [
    'x" CHECK(0) COLLATE "binary',
    "Seed",
    "SECONDS",
    "Status",
    "rowid",
    "_ROWID_",
    "a b",
    "",
    "1x",
    "x;",
    "class",
    "naïve",
]


@pytest.mark.parametrize("name", _BAD_NAMES)
def test_bad_parameter_names_are_refused_wherever_the_store_is_reached(tmp_path: Path, name: str) -> None:
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        columns = store._table_columns()
        with pytest.raises(ValueError, match="cell parameter"):
            store.add_parameter_columns(["seed", name])
        assert store._table_columns() == columns
    # A Cell built by hand skips Cell.from_params: run_sweep checks the names again.
    cell = Cell(id=cell_id({"seed": 0, name: 1}), params={"seed": 0, name: 1})
    with pytest.raises(ValueError, match="cell parameter"):
        run_sweep([cell], db, "tests_never_imported:cell", **QUIET)
    with ResultStore(db) as store:
        assert store._table_columns() == columns
        store.record("m:f", Cell.from_params({"seed": 0}), _outcome(estimate=1.0))
        assert [row["estimate"] for row in store.rows()] == [1.0]


def test_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ValueError, match="'Alpha' and 'alpha' differ only in case"):
            store.add_parameter_columns(["alpha", "Alpha"])
        store.add_parameter_columns(["alpha"])
        with pytest.raises(ValueError, match="'Alpha' differs only in case from the column 'alpha'"):
            store.add_parameter_columns(["Alpha"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=12), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)))
def test_any_parameter_name_is_refused_or_stored_and_read_back(tmp_path: Path, name: str) -> None:
    db = tmp_path / "fuzz.sqlite"
    db.unlink(missing_ok=True)
    with ResultStore(db) as store:
        columns = store._table_columns()
        try:
            store.add_parameter_columns([name])
        except ValueError:
            assert store._table_columns() == columns  # refused before any change
            name = "fallback"
        cell = Cell(id=cell_id({name: 7}), params={name: 7})
        store.record("m:f", cell, _outcome(estimate=1.5))
        (row,) = store.rows()
        assert row["params"] == {name: 7} and row["estimate"] == 1.5 and row["status"] == "done"
        assert store._connection.execute(f'SELECT "{name}" FROM cells').fetchone() == (7,)


# -- item 8: damaged and read-only files -------------------------------------------------------------


def _damaged(db: Path) -> None:
    run_sweep(make_cells(seeds=range(200)), db, SYNTHETIC, **QUIET)
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) > 2 * page
    data[page:] = bytes((i * 131 + 7) % 251 for i in range(len(data) - page))  # garbage after page 1
    db.write_bytes(bytes(data))


def test_a_damaged_file_is_a_one_line_error_in_sweep_and_report(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    _damaged(db)
    before = _files(tmp_path)
    message = r"results file '.*r.sqlite' is damaged \(database disk image is malformed\)"
    with pytest.raises(ValueError, match=message):
        run_sweep(make_cells(seeds=range(3)), db, SYNTHETIC, **QUIET)
    with pytest.raises(ValueError, match=message):
        write_report(db, tmp_path / "out")
    assert _files(tmp_path) == before


_TRY = """
import sys
from collections.abc import Callable, Sequence
from mibounds.experiments import make_cells, run_sweep, write_report
try:
    {call}
except ValueError as error:
    print(error)
    sys.exit(2)
"""


@pytest.mark.processes
def test_read_only_storage_is_a_one_line_error_and_a_report_still_reads(
    tmp_path: Path, run_read_only: Callable[[Path, Sequence[str]], subprocess.CompletedProcess]
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    db = storage / "r.sqlite"
    run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET)
    before = _files(tmp_path)
    sweep = f"run_sweep(make_cells(seeds=[0, 1, 2]), {str(db)!r}, {SYNTHETIC!r}, progress=False)"
    new = f"run_sweep(make_cells(seeds=[0]), {str(storage / 'new.sqlite')!r}, {SYNTHETIC!r}, progress=False)"
    deeper = f"run_sweep(make_cells(seeds=[0]), {str(storage / 'sub' / 'new.sqlite')!r}, {SYNTHETIC!r}, progress=False)"
    report = f"print(write_report({str(db)!r}, {str(tmp_path / 'out')!r}, figure=False))"
    results = {
        name: run_read_only(storage, ["-c", _TRY.format(call=call)])
        for name, call in [("sweep", sweep), ("new", new), ("deeper", deeper), ("report", report)]
    }
    for name in ("sweep", "new", "deeper"):
        done = results[name]
        assert done.returncode == 2 and "Traceback" not in done.stderr, (name, done.stderr)
        assert len(done.stdout.strip().splitlines()) == 1, (name, done.stdout)
    assert "read-only" in results["sweep"].stdout and "not a mibounds" not in results["sweep"].stdout
    assert "copy it to a folder you can write to" in results["sweep"].stdout
    assert "is not writable; pass a path in a folder you can write to" in results["new"].stdout
    assert (
        "cannot be made (Read-only file system); pass a path in a folder you can write to" in results["deeper"].stdout
        or os.geteuid() != 0
    )  # without root, the error is a permission error instead
    for name in ("new", "deeper"):
        assert "cannot create the results file" in results[name].stdout
    assert results["report"].returncode == 0, results["report"].stderr + results["report"].stdout
    assert (tmp_path / "out" / "report.md").exists()
    assert {k: v for k, v in _files(tmp_path).items() if not k.startswith("out")} == before


def test_outputs_replace_a_symbolic_link_and_never_write_through_it(tmp_path: Path) -> None:
    # A report folder whose report.md and report.csv are links to files elsewhere: the report
    # replaces the links with its own files and leaves what they pointed to as it was.
    db = tmp_path / "r.sqlite"
    run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "report"
    out.mkdir()
    for name in ("report.md", "report.csv"):
        (elsewhere / name).write_text("precious\n")
        (out / name).symlink_to(elsewhere / name)
    files = write_report(db, out, figure=False)
    assert [(elsewhere / name).read_text() for name in ("report.md", "report.csv")] == ["precious\n"] * 2
    assert not files.markdown.is_symlink() and files.markdown.read_text().startswith("# Sweep results")
    assert not files.csv.is_symlink() and sorted(p.name for p in out.iterdir()) == ["report.csv", "report.md"]


def test_a_failed_output_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    from mibounds.experiments.outputs import replacing

    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), replacing(path) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_a_sweep_creates_no_results_file_through_a_symbolic_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "r.sqlite"
    link.symlink_to(elsewhere / "new.sqlite")  # dangling: the sweep would create its target
    with pytest.raises(ValueError, match=r"cannot create the results file .*r.sqlite': it is a symbolic link \(to"):
        run_sweep(make_cells(seeds=[0]), link, SYNTHETIC, **QUIET)
    assert list(elsewhere.iterdir()) == [] and link.is_symlink()
    # a link to an existing results file is that file: the sweep records into it
    run_sweep(make_cells(seeds=[0]), elsewhere / "real.sqlite", SYNTHETIC, **QUIET)
    (tmp_path / "linked.sqlite").symlink_to(elsewhere / "real.sqlite")
    summary = run_sweep(make_cells(seeds=[0, 1]), tmp_path / "linked.sqlite", SYNTHETIC, **QUIET)
    assert (summary.done_before, summary.done) == (1, 1)
