"""Cell functions for the benchmark runner: one independent, deterministic job each.

A cell function takes a cell's parameters as keyword arguments and returns a dict of JSON
values; the runner stores ``estimate``, ``ci_low``, ``ci_high``, ``stderr`` and ``true_mi``
(nats) in columns of their own and the whole dict as JSON. Name one by its dotted path, e.g.
``"mibounds.experiments.sweep.cells:estimate_cell"``, so worker processes can import it.

- :func:`estimate_cell`: the data-driven cell. Sample a ground-truth task, train a critic with
  :func:`mibounds.estimate`, report the held-out estimate next to the true MI.
- :func:`synthetic_cell`: a cheap stand-in with a known answer (no torch), to try the runner,
  its executors and reports in a second; it can be told to sleep or to fail.

A cell function may carry a ``check_cells(list_of_params)`` attribute that the runner calls
before running anything, to refuse bad values (unknown names) at once.

:data:`REGISTERED_CELLS` lists the cell functions that a sweep spec file or ``--cell`` may name;
:func:`choose_cell` refuses any other dotted path unless the user opts in (``--allow-import``),
because naming a function runs it: ``{"cell": "os:system", "fixed": {"command": ...}}`` in a
spec file would otherwise run a shell command.

Results files and spec files store a cell function's dotted path, so a path keeps working after
its module moves: :data:`MOVED_MODULES` maps the modules of earlier versions to where they are
now (:func:`current_cell_path`), and a sweep that resumes a file written before the move goes on
recording under the path the file already uses (:func:`former_cell_paths`).

Example:
    >>> from mibounds.experiments.sweep.cells import REGISTERED_CELLS, choose_cell, synthetic_cell
    >>> choose_cell("synthetic") == REGISTERED_CELLS["synthetic"]
    True
    >>> sorted(synthetic_cell(mi=2.0, seed=0))
    ['ci_high', 'ci_low', 'estimate', 'stderr', 'true_mi']
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from mibounds.experiments.sweep.grid import canonical_json

__all__ = [
    "MOVED_MODULES",
    "REGISTERED_CELLS",
    "choose_cell",
    "current_cell_path",
    "estimate_cell",
    "former_cell_paths",
    "synthetic_cell",
]

# Two-sided 95% normal quantile, for the synthetic cell's interval.
_Z95 = 1.959963984540054

#: The cell functions of mibounds: short name -> dotted path. Only these run from a spec file or
#: ``--cell`` without ``--allow-import``; either the name or the path may be given.
REGISTERED_CELLS = {
    "estimate": "mibounds.experiments.sweep.cells:estimate_cell",
    "synthetic": "mibounds.experiments.sweep.cells:synthetic_cell",
    "accuracy": "mibounds.experiments.accuracy:accuracy_cell",
    "consistency": "mibounds.experiments.consistency:consistency_cell",
}

#: Modules of cell functions that moved: the module an earlier mibounds had -> the module now.
#: Never remove an entry: results files and spec files written then name their cells this way.
MOVED_MODULES = {
    "mibounds.experiments.cells": "mibounds.experiments.sweep.cells",  # the sweep subpackage, 0.1.0
}


def current_cell_path(path: str) -> str:
    """The dotted path a cell function has now, given one that a results or spec file stored.

    A path into a module of :data:`MOVED_MODULES` becomes the path into the module it moved to;
    any other value comes back unchanged.

    Example:
        >>> current_cell_path("mibounds.experiments.cells:estimate_cell")
        'mibounds.experiments.sweep.cells:estimate_cell'
    """
    module, sep, attribute = path.partition(":")
    return f"{MOVED_MODULES[module]}{sep}{attribute}" if sep and module in MOVED_MODULES else path


def former_cell_paths(path: str) -> list[str]:
    """The dotted paths the cell function at ``path`` had in earlier versions (oldest module first).

    Example:
        >>> former_cell_paths("mibounds.experiments.sweep.cells:synthetic_cell")
        ['mibounds.experiments.cells:synthetic_cell']
    """
    module, sep, attribute = path.partition(":")
    return [f"{old}{sep}{attribute}" for old, new in MOVED_MODULES.items() if sep and new == module]


def choose_cell(cell: Any, *, allow_import: bool = False) -> str:
    """The dotted path of the cell function a sweep may run, refusing unknown code by default.

    Args:
        cell: A name or dotted path of :data:`REGISTERED_CELLS` (also the path it had before its
            module moved, see :data:`MOVED_MODULES`), or (with ``allow_import``) the dotted path
            ``"module:function"`` of a function of the user's own.
        allow_import: Accept a dotted path outside the registered cells: its module is imported
            and the function is called with every cell's parameters.

    Returns:
        The dotted path (where the function is now).

    Raises:
        ValueError: For a value that is not a string, or a path outside the registered cells
            without ``allow_import``. Nothing is imported either way.
    """
    if not isinstance(cell, str):
        raise ValueError(f"a cell function is named by a string such as 'estimate', got {cell!r}")
    if cell in REGISTERED_CELLS:
        return REGISTERED_CELLS[cell]
    path = current_cell_path(cell)
    if path in REGISTERED_CELLS.values() or allow_import:
        return path
    raise ValueError(
        f"cell function {cell!r} is not a registered cell ({', '.join(REGISTERED_CELLS)}); to run a "
        "function of your own module, which imports and runs its code, pass --allow-import"
    )


def estimate_cell(
    task: str | Mapping[str, Any],
    bound: str,
    critic: str,
    n: int,
    seed: int,
    **estimate_kwargs: Any,
) -> dict[str, Any]:
    """Estimate the MI of a ground-truth task from ``n`` samples and report it with the truth.

    Draws ``n`` pairs from the task with ``seed``, then calls
    ``mibounds.estimate(x, y, bound=bound, critic=critic, random_state=seed, progress=False,
    **estimate_kwargs)``. The same parameters give the same numbers (on the same hardware).

    Args:
        task: A task id or family name for :func:`mibounds.tasks.make` (``"gaussian-d20-mi2"``),
            or a dict ``{"name": family, **params}``.
        bound: A bound :func:`mibounds.estimate` can train (``"nwj"``, ``"infonce"``, ...).
        critic: A critic name (``"separable"``, ``"concat"``, ``"bilinear"``).
        n: Number of samples drawn (split into train / validation / test by ``estimate``).
        seed: Seed of the samples and of the training.
        **estimate_kwargs: More arguments of :func:`mibounds.estimate` (``max_steps``,
            ``batch_size``, ``learning_rate``, ...).

    Returns:
        The fields of :meth:`mibounds.EstimateResult.to_dict` except the learning curves
        (``estimate``, ``ci_low``, ``ci_high``, ``stderr``, ``steps``, ``warnings``, ...), plus
        ``true_mi`` (nats) and ``task_id`` (the task's full id).
    """
    import torch

    from mibounds.estimation import estimate

    ground_truth = _make_task(task)
    x, y = ground_truth.sample(n, seed=seed)
    # As many threads as the sweep gave this cell, unless told (its workers share the machine's cores).
    estimate_kwargs.setdefault("threads", torch.get_num_threads())
    result = estimate(x, y, bound=bound, critic=critic, random_state=seed, progress=False, **estimate_kwargs)
    row = result.to_dict()
    row.pop("history", None)  # learning curves: too bulky for a results row
    row["true_mi"] = ground_truth.mutual_information
    row["task_id"] = ground_truth.name
    return row


def _make_task(task: str | Mapping[str, Any]) -> Any:
    from mibounds import tasks

    if isinstance(task, Mapping):
        params = dict(task)
        if "name" not in params:
            raise ValueError(f"a task given as a dict needs a 'name' (a task family), got {task!r}")
        return tasks.make(params.pop("name"), **params)
    return tasks.make(task)


def _check_estimate_cells(cells: Sequence[Mapping[str, Any]]) -> None:
    """Refuse unknown task, bound and critic names and bad sizes before a sweep starts."""
    from mibounds.estimation.names import check_bound, check_critic
    from mibounds.validation import check_int

    checked: set[str] = set()
    for params in cells:
        task = params.get("task")
        key = canonical_json(task)
        if key not in checked:
            _make_task(cast(Any, task))
            checked.add(key)
        check_bound(cast(str, params.get("bound")))
        check_critic(params.get("critic"))
        check_int(params.get("n"), "n", minimum=2, kind="an integer number of samples")


estimate_cell.check_cells = _check_estimate_cells  # type: ignore[attr-defined]


def synthetic_cell(
    task: str = "synthetic",
    bound: str = "nwj",
    critic: str = "separable",
    n: int = 1000,
    seed: int = 0,
    mi: float = 1.0,
    bias: float = 0.0,
    noise: float = 1.0,
    sleep: float = 0.0,
    fail: bool = False,
) -> dict[str, Any]:
    """A fake estimate with a known distribution, for trying and testing the runner (no torch).

    The estimate is ``mi + bias + noise * z / sqrt(n)`` with ``z`` a standard normal drawn
    from a generator seeded by the hash of all the arguments: the same arguments give the same
    number in any process. The interval is ``estimate +- 1.96 * stderr`` with
    ``stderr = noise / sqrt(n)``, so it covers ``mi`` 95% of the time when ``bias = 0``.

    Args:
        task, bound, critic: Labels, only used to seed the draw (and stored as parameters).
        n: Sample size the noise shrinks with.
        seed: Replicate number.
        mi: The true MI to report (nats), as ``true_mi``.
        bias: Systematic error added to the estimate.
        noise: Standard deviation of the estimate times sqrt(n).
        sleep: Seconds to wait first (to make a cell slow).
        fail: Raise a RuntimeError instead of returning.

    Returns:
        ``{"estimate", "ci_low", "ci_high", "stderr", "true_mi"}``.
    """
    arguments = dict(task=task, bound=bound, critic=critic, n=n, seed=seed, mi=mi, bias=bias, noise=noise)
    if sleep > 0:
        time.sleep(sleep)
    if fail:
        raise RuntimeError(f"synthetic cell told to fail ({arguments})")
    digest = hashlib.sha256(canonical_json(arguments).encode("ascii")).digest()
    z = random.Random(int.from_bytes(digest[:8], "big")).gauss(0.0, 1.0)
    stderr = noise / math.sqrt(n)
    estimate = mi + bias + z * stderr
    return {
        "estimate": estimate,
        "ci_low": estimate - _Z95 * stderr,
        "ci_high": estimate + _Z95 * stderr,
        "stderr": stderr,
        "true_mi": mi,
    }
