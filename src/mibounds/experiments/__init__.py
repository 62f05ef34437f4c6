"""Experiments: the sweep machinery, and the published studies built on it.

The studies are modules of this package (:mod:`~mibounds.experiments.accuracy`,
:mod:`~mibounds.experiments.amdim`, :mod:`~mibounds.experiments.bias_variance`,
:mod:`~mibounds.experiments.consistency`, :mod:`~mibounds.experiments.critic_tradeoff`,
:mod:`~mibounds.experiments.digit_halves`, :mod:`~mibounds.experiments.digits`,
:mod:`~mibounds.experiments.dim_digits`,
:mod:`~mibounds.experiments.dsprites`, :mod:`~mibounds.experiments.ica`, :mod:`~mibounds.experiments.infogan`,
:mod:`~mibounds.experiments.stdim`, :mod:`~mibounds.experiments.staircase`); their tables and
figures are made one way, by :mod:`~mibounds.experiments.figures`.

The sweep machinery (:mod:`mibounds.experiments.sweep`) runs a grid of independent, deterministic
cells, records each in an SQLite file the moment it finishes, and resumes an interrupted sweep
without repeating a cell. Its public names are exported here:

- :func:`make_cells`, :class:`Cell`: the grid (:mod:`mibounds.experiments.sweep.grid`).
- :func:`run_sweep`: run it in this process, in local worker processes, or on Ray
  (:mod:`mibounds.experiments.sweep.runner`, :mod:`mibounds.experiments.sweep.executors`).
- :class:`ResultStore`: the results file (:mod:`mibounds.experiments.sweep.store`).
- :func:`estimate_cell`, :func:`synthetic_cell`: cell functions, and :data:`REGISTERED_CELLS`, the
  ones a spec file may name (:mod:`mibounds.experiments.sweep.cells`).
- :func:`write_report`, :func:`summarize`: tables and a figure (:mod:`mibounds.experiments.sweep.report`).

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
    "Cell": "mibounds.experiments.sweep.grid",
    "make_cells": "mibounds.experiments.sweep.grid",
    "cells_from_spec": "mibounds.experiments.sweep.grid",
    "read_spec": "mibounds.experiments.sweep.grid",
    "run_sweep": "mibounds.experiments.sweep.runner",
    "SweepSummary": "mibounds.experiments.sweep.runner",
    "SweepInterrupted": "mibounds.experiments.sweep.runner",
    "DEFAULT_CELL": "mibounds.experiments.sweep.runner",
    "ResultStore": "mibounds.experiments.sweep.store",
    "estimate_cell": "mibounds.experiments.sweep.cells",
    "synthetic_cell": "mibounds.experiments.sweep.cells",
    "REGISTERED_CELLS": "mibounds.experiments.sweep.cells",
    "choose_cell": "mibounds.experiments.sweep.cells",
    "summarize": "mibounds.experiments.sweep.report",
    "write_report": "mibounds.experiments.sweep.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mibounds.experiments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
