"""The Ray executor gives the rows of the local one (a local Ray instance on this machine).

Ray 2.x no longer has ``local_mode``; ``ray.init(num_cpus=2)`` starts a real single-machine
instance, which is what a sweep without ``--address`` does too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mibounds.experiments import ResultStore, make_cells, run_sweep

pytestmark = pytest.mark.processes  # Ray starts its own processes

ray = pytest.importorskip("ray", reason="the Ray executor needs the 'ray' extra: pip install 'mibounds[ray]'")

SYNTHETIC = "mibounds.experiments.sweep.cells:synthetic_cell"
# Columns that describe where and when a cell ran rather than what it computed.
_RUN_COLUMNS = {"seconds", "host", "started_at", "finished_at", "error"}


def _rows(db: Path) -> dict[str, dict]:
    with ResultStore(db, create=False) as store:
        return {row["id"]: {k: v for k, v in row.items() if k not in _RUN_COLUMNS} for row in store.rows()}


def test_ray_executor_gives_the_rows_of_the_local_one(tmp_path: Path) -> None:
    cells = make_cells(
        tasks=["a", "b"],
        bounds=["nwj"],
        critics=["separable"],
        n=[100, 1000],
        seeds=range(3),
        axes={"fail": [False, True]},
    )
    local, remote = tmp_path / "local.sqlite", tmp_path / "ray.sqlite"
    run_sweep(cells, local, SYNTHETIC, progress=False, verbose=False)
    # As `--executor ray` without --address: the runner starts a local instance and stops it.
    summary = run_sweep(
        cells,
        remote,
        SYNTHETIC,
        executor="ray",
        ray_init_kwargs={"num_cpus": 2, "log_to_driver": False},
        progress=False,
        verbose=False,
    )
    assert not ray.is_initialized()
    assert (summary.done, summary.failed) == (12, 12)
    assert _rows(remote) == _rows(local)
    with ResultStore(remote, create=False) as store:
        errors = [row["error"] for row in store.rows() if row["status"] == "failed"]
    assert len(errors) == 12 and all("RuntimeError: synthetic cell told to fail" in e for e in errors)
