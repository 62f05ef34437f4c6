"""What the sweep tests share: the synthetic cell's path, quiet sweeps, reading rows back, cell modules on the path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mibounds.experiments import ResultStore

#: The torch-free cell of the sweep machinery's own tests.
SYNTHETIC = "mibounds.experiments.sweep.cells:synthetic_cell"
#: run_sweep without a progress bar or log lines.
QUIET = {"progress": False, "verbose": False}


def stored_rows(db: Path) -> dict[str, dict]:
    """Every row of a results file, by cell id."""
    with ResultStore(db, create=False) as store:
        return {row["id"]: row for row in store.rows()}


def write_module(folder: Path, name: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell module on sys.path (spawned workers inherit the parent's sys.path)."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(folder))
