"""The results file of a sweep: an embedded SQLite database with one row per finished cell.

Table ``cells``, keyed by (``function``, ``id``): the cell function's dotted path and the cell's
stable id, so one file can hold sweeps of several cell functions. Each row has

- every cell parameter as a column of its own (added as new parameter names appear; lists and
  dicts stored as JSON text) and all of them as ``params`` (canonical JSON, exact types);
- ``status`` (``"done"`` or ``"failed"``), ``error`` (the traceback of a failed cell);
- ``estimate``, ``ci_low``, ``ci_high``, ``stderr``, ``true_mi`` (nats) copied from the cell's
  result when it has them, and ``result``, the whole result dict as JSON;
- ``seconds`` (wall time of the cell function), ``host``, ``attempts`` (how many times the cell
  was recorded: above 1 only for retried failures), ``started_at`` and ``finished_at`` (UTC,
  ISO 8601).

The file is in WAL mode and each finished cell is committed on its own, so a sweep killed at
any moment (even with SIGKILL) keeps every cell it recorded, and readers such as
``mibounds bench report`` can read while a sweep writes. Only the sweep's parent process writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mibounds.experiments.grid import Cell, canonical_json

__all__ = ["RESULT_COLUMNS", "ResultStore", "check_parameter_names"]

#: Numbers copied from a cell's result dict into columns of their own.
RESULT_COLUMNS = ("estimate", "ci_low", "ci_high", "stderr", "true_mi")

_SCHEMA_VERSION = 1
_CREATE = """
CREATE TABLE IF NOT EXISTS cells (
    function TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    estimate REAL,
    ci_low REAL,
    ci_high REAL,
    stderr REAL,
    true_mi REAL,
    seconds REAL,
    error TEXT,
    params TEXT NOT NULL,
    result TEXT,
    host TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (function, id)
)
"""
# Filled from the outcome of a cell (see executors.run_cell), besides the parameters.
_OUTCOME_COLUMNS = ("status", *RESULT_COLUMNS, "seconds", "error", "result", "host", "started_at", "finished_at")
_RESERVED = frozenset({"function", "id", "params", "attempts", *_OUTCOME_COLUMNS})


def check_parameter_names(names: Iterable[str]) -> None:
    """Raise ValueError if a cell parameter has the name of a results column (``seconds``, ...)."""
    clash = sorted(set(names) & _RESERVED)
    if clash:
        raise ValueError(
            f"cell parameter {', '.join(map(repr, clash))} has the name of a results column "
            f"({', '.join(sorted(_RESERVED))}); rename the parameter"
        )


class ResultStore:
    """Read and write a sweep's SQLite results file. Use as a context manager.

    Args:
        path: The database file.
        create: Create the file (and its parent folder) if it does not exist; otherwise a missing
            file is an error (reading a report).

    Raises:
        ValueError: If the file is missing (with ``create=False``), is not an SQLite database,
            or is not a results file of this package.
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ValueError(
                f"no results file at {str(self.path)!r}; run `mibounds bench sweep --db {self.path}` "
                "first, or pass the path of an existing results file"
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # A long busy timeout: a reader (a report) may hold the file for a moment.
        self._connection = sqlite3.connect(self.path, timeout=60.0)
        try:
            self._setup(create)
        except sqlite3.DatabaseError as error:
            self._connection.close()
            raise ValueError(f"{str(self.path)!r} is not a mibounds results file: {error}") from None
        except BaseException:
            self._connection.close()
            raise
        self._columns = self._table_columns()

    def _setup(self, create: bool) -> None:
        connection = self._connection
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise ValueError(
                f"{str(self.path)!r} was written by a newer mibounds (schema {version}); upgrade mibounds"
            )
        if create:
            # WAL: a commit is one append to the log, readers never block the writer, and a
            # killed process leaves every committed cell in place.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            with connection:
                connection.execute(_CREATE)
                connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        elif not connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='cells'").fetchone():
            raise ValueError(f"{str(self.path)!r} has no 'cells' table: it is not a results file of mibounds bench sweep")

    def _table_columns(self) -> list[str]:
        return [row[1] for row in self._connection.execute("PRAGMA table_info(cells)")]

    # -- context manager ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (everything recorded is already committed)."""
        self._connection.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def add_parameter_columns(self, names: Iterable[str]) -> None:
        """Add a column for each parameter name that has none yet.

        Raises:
            ValueError: If a name is one of the results columns (``seconds``, ``status``, ...).
        """
        names = list(names)
        check_parameter_names(names)
        new = [name for name in dict.fromkeys(names) if name not in self._columns]
        if new:
            with self._connection:
                for name in new:
                    # Names are checked identifiers (Cell.from_params); no declared type, so
                    # each value keeps its own (integer, real, text).
                    self._connection.execute(f'ALTER TABLE cells ADD COLUMN "{name}"')
            self._columns = self._table_columns()

    def record(self, function: str, cell: Cell, outcome: Mapping[str, Any]) -> None:
        """Write one finished cell and commit at once; a cell recorded before is replaced.

        Args:
            function: The cell function's dotted path.
            cell: The cell.
            outcome: What :func:`mibounds.experiments.executors.run_cell` returned: ``status``,
                ``result`` (dict or None), ``error``, ``seconds``, ``host``, ``started_at``,
                ``finished_at``.
        """
        self.add_parameter_columns(cell.params)
        result = outcome.get("result") or {}
        values: dict[str, Any] = {name: _sql_value(value) for name, value in cell.params.items()}
        values.update(
            function=function,
            id=cell.id,
            params=canonical_json(cell.params),
            status=outcome["status"],
            seconds=outcome.get("seconds"),
            error=outcome.get("error"),
            result=json.dumps(result, sort_keys=True) if outcome.get("result") is not None else None,
            host=outcome.get("host"),
            started_at=outcome.get("started_at"),
            finished_at=outcome.get("finished_at"),
        )
        for name in RESULT_COLUMNS:
            values[name] = _number(result.get(name))
        names = list(values)
        columns = ", ".join(f'"{name}"' for name in names)
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f'"{name}" = excluded."{name}"' for name in names if name not in ("function", "id"))
        sql = (
            f"INSERT INTO cells ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT (function, id) DO UPDATE SET {updates}, attempts = cells.attempts + 1"
        )
        with self._connection:  # commits, or rolls back on error
            self._connection.execute(sql, [values[name] for name in names])

    # -- reading --------------------------------------------------------------------------

    def statuses(self, function: str) -> dict[str, str]:
        """``{cell id: "done" | "failed"}`` for the cells of ``function`` recorded so far."""
        rows = self._connection.execute("SELECT id, status FROM cells WHERE function = ?", (function,))
        return dict(rows.fetchall())

    def functions(self) -> list[str]:
        """The cell functions that have rows in this file."""
        return [row[0] for row in self._connection.execute("SELECT DISTINCT function FROM cells ORDER BY function")]

    def rows(self, function: str | None = None) -> list[dict[str, Any]]:
        """Every recorded cell as a flat dict, oldest first.

        The dict holds the result's own keys, then the parameters (exact JSON types, taking
        precedence over result keys of the same name), then the file's columns (``function``,
        ``id``, ``status``, ``estimate``, ..., ``seconds``, ``error``, ``attempts``, timestamps),
        and ``params``: the parameters again as a dict of their own.
        """
        query = "SELECT * FROM cells" + (" WHERE function = ?" if function is not None else "")
        cursor = self._connection.execute(query + " ORDER BY finished_at, rowid", () if function is None else (function,))
        names = [description[0] for description in cursor.description]
        rows = []
        for raw in cursor.fetchall():
            stored = dict(zip(names, raw))
            params = json.loads(stored["params"])
            row = json.loads(stored["result"]) if stored["result"] else {}
            row.update(params)
            row.update({name: stored[name] for name in ("function", "id", "attempts", *_OUTCOME_COLUMNS)})
            row.pop("result")
            row["params"] = params
            rows.append(row)
        return rows


def _sql_value(value: Any) -> Any:
    # Lists and dicts go in as JSON text; bools become 0/1 (SQLite has no boolean type).
    return canonical_json(value) if isinstance(value, (list, dict)) else value


def _number(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
