"""Experiments: the benchmark runner, and the published experiments built on it.

The runner (issue 4, item 5) runs a grid of independent, deterministic cells, records each in an
SQLite file the moment it finishes, and resumes an interrupted sweep without repeating a cell:

- :func:`make_cells`, :class:`Cell`: the grid (:mod:`mibounds.experiments.grid`).
- :func:`run_sweep`: run it in this process, in local worker processes, or on Ray
  (:mod:`mibounds.experiments.runner`, :mod:`mibounds.experiments.executors`).
- :class:`ResultStore`: the results file (:mod:`mibounds.experiments.store`).
- :func:`estimate_cell`, :func:`synthetic_cell`: cell functions, and :data:`REGISTERED_CELLS`, the
  ones a spec file may name (:mod:`mibounds.experiments.cells`).
- :func:`write_report`, :func:`summarize`: tables and a figure (:mod:`mibounds.experiments.report`).

Example:
    >>> from mibounds.experiments import make_cells, run_sweep, write_report
    >>> cells = make_cells(tasks=["gaussian-d20-mi2", "gaussian-d20-mi6"], bounds=["nwj", "infonce"],
    ...                    critics=["separable"], n=[4096], seeds=range(5), max_steps=500)
    >>> run_sweep(cells, "results.sqlite", workers=2)  # doctest: +SKIP
    >>> write_report("results.sqlite", "report")  # doctest: +SKIP

Names are imported lazily, so worker processes that only run cells do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS = {
    "Cell": "mibounds.experiments.grid",
    "make_cells": "mibounds.experiments.grid",
    "cells_from_spec": "mibounds.experiments.grid",
    "read_spec": "mibounds.experiments.grid",
    "run_sweep": "mibounds.experiments.runner",
    "SweepSummary": "mibounds.experiments.runner",
    "SweepInterrupted": "mibounds.experiments.runner",
    "DEFAULT_CELL": "mibounds.experiments.runner",
    "ResultStore": "mibounds.experiments.store",
    "estimate_cell": "mibounds.experiments.cells",
    "synthetic_cell": "mibounds.experiments.cells",
    "REGISTERED_CELLS": "mibounds.experiments.cells",
    "choose_cell": "mibounds.experiments.cells",
    "summarize": "mibounds.experiments.report",
    "write_report": "mibounds.experiments.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mibounds.experiments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
