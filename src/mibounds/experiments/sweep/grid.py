"""A sweep's cells: the cartesian product of parameter axes, each cell with a stable id.

A cell is one independent, deterministic job: a JSON-serializable dict of keyword arguments for a
cell function. Its id is a hash of the canonical JSON of those parameters, so the same parameters
give the same id in every process, on every machine and in every later run; this is what lets an
interrupted sweep skip the cells it already finished. Note that ``64`` and ``64.0`` are different
JSON and so different cells.

This module imports nothing heavy (no torch): worker processes import it at start-up.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import keyword
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Cell",
    "SPEC_KEYS",
    "canonical_json",
    "cell_id",
    "check_parameter_name",
    "cells_from_spec",
    "make_cells",
    "parameter_names",
    "read_spec",
]

# Plural axis arguments of make_cells -> the parameter name each cell gets.
_NAMED_AXES = {"tasks": "task", "bounds": "bound", "critics": "critic", "n": "n", "seeds": "seed"}

#: Keys a JSON sweep spec may hold (see :func:`cells_from_spec`).
SPEC_KEYS = (*_NAMED_AXES, "axes", "fixed", "cell")
# ASCII identifiers only: a name becomes a keyword argument and a database column, and is pasted
# into SQL between double quotes, which none of these characters can close.
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_parameter_name(name: Any) -> str:
    """Return ``name`` if it can name a cell parameter: an ASCII identifier, not a Python keyword.

    Raises:
        ValueError: Otherwise, naming the parameter and the rule.
    """
    if not (isinstance(name, str) and _PARAMETER_NAME.fullmatch(name) and not keyword.iskeyword(name)):
        raise ValueError(
            f"cell parameter name {name!r} is not a Python identifier of ASCII letters, digits and "
            "underscores; use names like 'max_steps' (they become keyword arguments and database columns)"
        )
    return name


def canonical_json(params: Any) -> str:
    """The canonical JSON text of parameters (a dict, or one value): sorted keys, no spaces, ASCII.

    Raises:
        ValueError: If a value is not JSON (e.g. a tensor, a set) or is a non-finite float.
    """
    try:
        return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"cell parameters must be JSON values (str, int, float, bool, None, lists and dicts of "
            f"them; floats finite): {error}; got {params!r}"
        ) from None


def cell_id(params: Mapping[str, Any]) -> str:
    """The stable id of a cell: the first 16 hex digits of SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(params).encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Cell:
    """One job of a sweep: keyword arguments for the cell function, and their stable id.

    Cells compare and hash by id. Build them with :func:`make_cells` or :meth:`from_params`.

    Attributes:
        id: :func:`cell_id` of ``params``.
        params: The parameters, as plain JSON values (tuples become lists).
    """

    id: str
    params: dict[str, Any] = field(compare=False, hash=False)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Cell:
        """Check the parameter names and values and build the cell.

        Raises:
            ValueError: If a name is not an ASCII Python identifier (it becomes a keyword argument
                and a database column; see :func:`check_parameter_name`) or a value is not JSON.
        """
        for name in params:
            check_parameter_name(name)
        plain = json.loads(canonical_json(params))
        return cls(id=cell_id(plain), params=plain)

    def __repr__(self) -> str:
        return f"Cell({self.id}, {canonical_json(self.params)})"


def make_cells(
    tasks: Iterable[Any] | Any = None,
    bounds: Iterable[Any] | Any = None,
    critics: Iterable[Any] | Any = None,
    n: Iterable[Any] | Any = None,
    seeds: Iterable[Any] | Any = None,
    *,
    axes: Mapping[str, Iterable[Any] | Any] | None = None,
    **fixed: Any,
) -> list[Cell]:
    """The cells of a grid: every combination of the axes' values, plus the fixed parameters.

    The named axes give the parameters ``task``, ``bound``, ``critic``, ``n`` and ``seed`` (the
    arguments of :func:`mibounds.experiments.sweep.cells.estimate_cell`); an axis left as None is not a
    parameter at all. ``axes`` adds more axes by parameter name (e.g. ``{"alpha": [0.01, 0.5]}``).
    A single value (a string or a number) is an axis of one value. Every cell also gets the
    ``fixed`` parameters. Cells come in product order (seeds vary fastest among the named axes,
    then the extra axes); repeated combinations are dropped.

    Example:
        >>> cells = make_cells(tasks=["gaussian-d20-mi2"], bounds=["nwj", "infonce"],
        ...                    critics="separable", n=[2048], seeds=range(3), max_steps=500)
        >>> len(cells), cells[0].params["bound"], cells[0].params["max_steps"]
        (6, 'nwj', 500)

    Returns:
        The list of :class:`Cell` objects.

    Raises:
        ValueError: For an empty axis, a parameter given both as an axis and as fixed, or names
            and values that :meth:`Cell.from_params` refuses.
    """
    named = {"tasks": tasks, "bounds": bounds, "critics": critics, "n": n, "seeds": seeds}
    grid: dict[str, list[Any]] = {}
    for argument, values in named.items():
        if values is not None:
            grid[_NAMED_AXES[argument]] = _axis_values(values, argument)
    for name, values in (axes or {}).items():
        if name in grid:
            raise ValueError(f"axis {name!r} is given twice (as a named axis and in axes); give it once")
        grid[name] = _axis_values(values, f"axes[{name!r}]")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"{', '.join(map(repr, both))} given both as an axis and as a fixed value; give each once")
    cells: dict[str, Cell] = {}
    for combination in itertools.product(*grid.values()):
        cell = Cell.from_params({**dict(zip(grid, combination, strict=True)), **fixed})
        cells.setdefault(cell.id, cell)
    return list(cells.values())


def _axis_values(values: Iterable[Any] | Any, name: str) -> list[Any]:
    if isinstance(values, (str, bytes, int, float, bool, Mapping)):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{name} is empty; give at least one value (or leave the axis out)")
    for value in values:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} holds {value}; cell parameters must be finite")
    return values


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read a JSON sweep spec and check its keys.

    A spec is an object with any of ``tasks``, ``bounds``, ``critics``, ``n``, ``seeds`` (lists),
    ``axes`` (object of lists), ``fixed`` (object) and ``cell`` (the cell function's dotted
    path), e.g. ``{"tasks": ["gaussian-d20-mi2"], "bounds": ["nwj"], "critics": ["separable"],
    "n": [4096], "seeds": [0, 1, 2], "fixed": {"max_steps": 500}}``.

    Raises:
        ValueError: If the file is missing, is not JSON, is not an object or has unknown keys.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read the sweep spec {str(path)!r}: {error.strerror or error}") from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"sweep spec {str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"sweep spec {str(path)!r} must hold a JSON object, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"sweep spec {str(path)!r} has unknown keys {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(SPEC_KEYS)}"
        )
    return spec


def cells_from_spec(spec: Mapping[str, Any]) -> list[Cell]:
    """The cells of a spec read by :func:`read_spec` (the ``cell`` key is not used here)."""
    for key in ("axes", "fixed"):
        if not isinstance(spec.get(key, {}), Mapping):
            raise ValueError(f"the spec's {key!r} must be a JSON object of parameter names, got {spec[key]!r}")
    named = {key: spec[key] for key in _NAMED_AXES if key in spec}
    return make_cells(**named, axes=spec.get("axes"), **spec.get("fixed", {}))


def parameter_names(cells: Sequence[Cell]) -> list[str]:
    """Every parameter name used by the cells, in first-seen order."""
    names: dict[str, None] = {}
    for cell in cells:
        names.update(dict.fromkeys(cell.params))
    return list(names)
