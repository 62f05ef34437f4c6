"""Dotted paths that results files and spec files store keep resolving after a module moves, and
the sweep machinery runs cells without importing torch."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mibounds.cli import bench
from mibounds.experiments import REGISTERED_CELLS, ResultStore, choose_cell, make_cells, run_sweep, write_report
from mibounds.experiments.sweep import cells as cells_module
from mibounds.experiments.sweep.cells import MOVED_MODULES, current_cell_path, former_cell_paths
from mibounds.experiments.sweep.executors import resolve_cell_function, run_cell

QUIET = {"progress": False, "verbose": False}
# The paths of the cell functions before the sweep machinery moved into mibounds.experiments.sweep,
# as results files (the 'function' column) and spec files (the 'cell' key) of that time hold them.
OLD_ESTIMATE = "mibounds.experiments.cells:estimate_cell"
OLD_SYNTHETIC = "mibounds.experiments.cells:synthetic_cell"
SYNTHETIC = REGISTERED_CELLS["synthetic"]


def test_every_registered_cell_resolves() -> None:
    for name, path in REGISTERED_CELLS.items():
        assert callable(resolve_cell_function(path)), name
        assert choose_cell(name) == choose_cell(path) == path


def test_the_paths_before_the_move_resolve_to_the_functions_now() -> None:
    assert MOVED_MODULES["mibounds.experiments.cells"] == "mibounds.experiments.sweep.cells"
    assert resolve_cell_function(OLD_ESTIMATE) is cells_module.estimate_cell
    assert resolve_cell_function(OLD_SYNTHETIC) is cells_module.synthetic_cell
    # Still registered cells: a spec file of that time runs without --allow-import.
    assert choose_cell(OLD_ESTIMATE) == REGISTERED_CELLS["estimate"]
    assert choose_cell(OLD_SYNTHETIC) == REGISTERED_CELLS["synthetic"]
    assert current_cell_path("own_cells:cell") == "own_cells:cell"
    assert former_cell_paths(REGISTERED_CELLS["synthetic"]) == [OLD_SYNTHETIC]
    assert former_cell_paths("own_cells:cell") == []
    with pytest.raises(ValueError, match="has no function 'no_such_cell'"):
        resolve_cell_function("mibounds.experiments.cells:no_such_cell")
    assert run_cell(OLD_SYNTHETIC, {"seed": 0})["status"] == "done"


def _written_before_the_move(db: Path) -> list:
    """A results file as the sweep machinery wrote it before the move: two cells done, one failed,
    recorded under the old path of the synthetic cell."""
    cells = make_cells(seeds=[0, 1]) + make_cells(seeds=[2], fail=True)
    run_sweep(cells, db, SYNTHETIC, **QUIET)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE cells SET function = ?", (OLD_SYNTHETIC,))
    connection.close()
    return cells


def test_a_results_file_written_before_the_move_resumes_under_its_old_name(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    cells = _written_before_the_move(db)
    summary = run_sweep(cells, db, SYNTHETIC, **QUIET)
    assert (summary.done_before, summary.failed_before, summary.done, summary.failed) == (2, 1, 0, 0)
    # The old path given directly: the same cells, nothing run.
    summary = run_sweep(cells, db, OLD_SYNTHETIC, **QUIET)
    assert summary.function == REGISTERED_CELLS["synthetic"] and summary.done == 0
    # A retried failure replaces its own row, under the name the file uses.
    summary = run_sweep(cells, db, SYNTHETIC, retry_failed=True, **QUIET)
    assert (summary.done_before, summary.failed) == (2, 1)
    with ResultStore(db, create=False) as store:
        rows = store.rows()
        assert store.functions() == [OLD_SYNTHETIC]
    assert len(rows) == 3 and sorted(row["attempts"] for row in rows) == [1, 1, 2]
    assert write_report(db, tmp_path / "report", figure=False).markdown.exists()


def test_a_spec_file_with_the_old_path_runs_without_allow_import(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cell": OLD_SYNTHETIC, "seeds": [0, 1]}))
    parser = argparse.ArgumentParser(prog="mibounds")
    bench.register(parser.add_subparsers(dest="command", required=True))
    db = tmp_path / "r.sqlite"
    args = parser.parse_args(["bench", "sweep", "--spec", str(spec), "--db", str(db), "--no-progress"])
    assert args.func(args) == 0
    with ResultStore(db, create=False) as store:
        assert store.functions() == [REGISTERED_CELLS["synthetic"]] and len(store.rows()) == 2


@pytest.mark.processes
def test_the_sweep_machinery_runs_cells_without_torch(tmp_path: Path) -> None:
    code = f"""
import sys
from mibounds.experiments import make_cells, run_sweep, write_report
from mibounds.experiments.sweep import cells, executors, grid, report, runner, statistics, store
run_sweep(make_cells(seeds=[0, 1]), {str(tmp_path / "r.sqlite")!r}, {SYNTHETIC!r}, progress=False, verbose=False)
write_report({str(tmp_path / "r.sqlite")!r}, {str(tmp_path / "report")!r}, figure=False)
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
