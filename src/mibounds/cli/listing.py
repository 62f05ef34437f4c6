"""``mibounds bounds`` and ``mibounds tasks``: the registries as tables."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["bounds_table", "register", "tasks_table"]


def register(subparsers: Any) -> None:
    """Add ``bounds`` and ``tasks`` to the ``mibounds`` subparsers."""
    for name, help_text, func in (
        ("bounds", "list the bounds: lower/upper, needs, ceiling, Poole et al.'s Table 1 columns, reference", _bounds),
        ("tasks", "list the ground-truth tasks (MI known in closed form)", _tasks),
    ):
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--json", action="store_true", help="print the table as JSON")
        parser.set_defaults(func=func)


def bounds_table() -> list[dict[str, Any]]:
    """One row per registered bound: name, kind, population_only, needs, ceiling, the columns of
    Poole et al.'s Table 1 (``traits``: name -> True/False/None; ``traits_source`` and
    ``traits_in_table_1``; None for upper bounds), estimate (usable by ``mibounds estimate``), year, reference, summary."""
    from mibounds import bounds
    from mibounds.estimation import estimator_bounds

    usable = set(estimator_bounds())
    rows = []
    for name in bounds.names():
        info = bounds.get(name)
        rows.append(
            {
                "name": name,
                "kind": info.kind,
                "population_only": info.population_only,
                "needs": list(info.needs),
                "ceiling": _ceiling_text(info),
                "traits": None
                if info.traits is None
                else {field: getattr(info.traits, field) for field, _ in bounds.Traits.COLUMNS},
                "traits_source": None if info.traits is None else info.traits.source,
                "traits_in_table_1": None if info.traits is None else info.traits.in_table_1,
                "estimate": name in usable,
                "year": info.year,
                "reference": info.reference,
                "summary": info.summary,
            }
        )
    return rows


def _ceiling_text(info: Any) -> str:
    """``"log K"`` when the ceiling is log K, a formula-free value at K = 128 otherwise."""
    values = {k: info.ceiling_for(k) for k in (16, 128)}
    if all(v is None for v in values.values()):
        return "none"
    if all(v is not None and math.isclose(v, math.log(k)) for k, v in values.items()):
        return "log K"
    params = ", ".join(f"{k}={v}" for k, v in info.params.items())
    return f"{values[128]:.2f} at K=128" + (f" ({params})" if params else "")


def tasks_table() -> list[dict[str, Any]]:
    """One row per task family: name, summary, reference, and the default task's id and MI."""
    from mibounds import tasks

    rows = []
    for name in tasks.names():
        family = tasks.get(name)
        row: dict[str, Any] = {"name": name, "summary": family.summary, "reference": family.reference}
        try:
            task = tasks.make(name)
            row.update(default=task.name, dim_x=task.dim_x, dim_y=task.dim_y, mi=float(task.mutual_information))
        except (TypeError, ValueError, NotImplementedError):
            pass
        rows.append(row)
    return rows


def _mark(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def _bounds(args: argparse.Namespace) -> int:
    from mibounds.bounds import Traits

    columns = Traits.COLUMNS
    return _emit(
        bounds_table(),
        args,
        ["name", "kind", "needs", "ceiling", *(header for _, header in columns), "from", "estimate", "reference"],
        lambda r: [
            r["name"],
            r["kind"] + ("*" if r["population_only"] else ""),
            ", ".join(r["needs"]),
            r["ceiling"],
            *(_mark(None if r["traits"] is None else r["traits"][field]) for field, _ in columns),
            {None: "-", True: "Table 1", False: "ours"}[r["traits_in_table_1"]],
            "yes" if r["estimate"] else "-",
            r["reference"],
        ],
        "value, grad, K-indep, low-var, unnorm: Poole et al. 2019, Table 1 (tractable value, tractable "
        "gradient,\nindependent of the batch size K, low variance, accepts an unnormalized critic; '-': "
        "not applicable);\n'from': the paper's Table 1, or ours for the bounds it leaves out, by the same criteria.\n"
        "* lower bound in population only: with the optimal critic the batch value is above I on average "
        "at a finite K.\n'estimate' = usable by 'mibounds estimate --bound NAME' (trains a critic from samples).",
    )


def _tasks(args: argparse.Namespace) -> int:
    return _emit(
        tasks_table(),
        args,
        ["name", "default id", "MI (nats)", "description"],
        lambda r: [r["name"], r.get("default", "-"), f"{r['mi']:.3f}" if "mi" in r else "-", r["summary"]],
        "Use an id or a family with 'mibounds demo --task ID', e.g. --task gaussian-d5-mi1.",
    )


def _emit(rows: list[dict[str, Any]], args: argparse.Namespace, header: list[str], cells: Any, note: str) -> int:
    """Print ``rows`` as JSON (``--json``) or as a table of ``cells(row)`` with a closing note."""
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _print_table(header, [cells(r) for r in rows])
    print(f"\n{note}")
    return 0


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(row[j])) for row in [header, *rows]) for j in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
