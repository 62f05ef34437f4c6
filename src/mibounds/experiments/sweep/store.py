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
``mibounds bench report`` can read while a sweep writes. Only the sweep's parent process writes,
and only one sweep at a time: :meth:`ResultStore.sweep_lock` records the sweep's process id and
host in the table ``sweep_lock``, and a second sweep refuses to start while that process lives.

A results file carries the SQLite ``application_id`` of mibounds. A file is checked before
anything is written to it, so an SQLite database of another program is refused untouched.

Example:
    >>> from mibounds.experiments.sweep.grid import Cell
    >>> from mibounds.experiments.sweep.store import ResultStore
    >>> cell = Cell.from_params({"task": "t", "seed": 0})
    >>> outcome = {"status": "done", "result": {"estimate": 1.5}, "error": None, "seconds": 0.1,
    ...            "host": "h", "started_at": None, "finished_at": None}
    >>> with ResultStore("results.sqlite") as store:
    ...     store.record("my.module:cell", cell, outcome)
    ...     store.statuses("my.module:cell") == {cell.id: "done"}
    True
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mibounds.experiments.sweep.grid import Cell, canonical_json, check_parameter_name

__all__ = ["RESULT_COLUMNS", "ResultStore", "check_parameter_names"]

#: Numbers copied from a cell's result dict into columns of their own.
RESULT_COLUMNS = ("estimate", "ci_low", "ci_high", "stderr", "true_mi")

_SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a results file: "MIbd" in ASCII (SQLite's way to tag a file type).
APPLICATION_ID = 0x4D496264
_SQLITE_MAGIC = b"SQLite format 3\x00"
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
# At most one row: the sweep writing the file now (see ResultStore.sweep_lock).
_CREATE_LOCK = """
CREATE TABLE IF NOT EXISTS sweep_lock (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL
)
"""
# Columns every results file has had since the first version: how a file written before the
# application id is recognized.
_CORE_COLUMNS = frozenset({"function", "id", "status", "params", "result", "attempts"})
# Filled from the outcome of a cell (see executors.run_cell), besides the parameters.
_OUTCOME_COLUMNS = ("status", *RESULT_COLUMNS, "seconds", "error", "result", "host", "started_at", "finished_at")
# Lower case: SQLite column names ignore case. rowid and its aliases name SQLite's row key.
_RESERVED = frozenset({"function", "id", "params", "attempts", "rowid", "oid", "_rowid_", *_OUTCOME_COLUMNS})


def check_parameter_names(names: Iterable[str], columns: Iterable[str] = ()) -> None:
    """Raise ValueError unless every name can be a column of the results file.

    A name must be an ASCII identifier that is not a Python keyword (it is also a keyword
    argument), must not be a results column (``seconds``, ``status``, ...) or SQLite's ``rowid``,
    and must not differ only in case from another name or from an existing column: SQLite
    compares column names without case, so ``Seed`` *is* the column ``seed``.

    Args:
        names: The parameter names.
        columns: The columns the file already has.
    """
    names = list(dict.fromkeys(names))
    for name in names:
        check_parameter_name(name)
    clash = sorted(name for name in names if name.lower() in _RESERVED)
    if clash:
        raise ValueError(
            f"cell parameter {', '.join(map(repr, clash))} has the name of a results column "
            f"({', '.join(sorted(_RESERVED))}; case does not count); rename the parameter"
        )
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise ValueError(
                f"cell parameters {name!r} and {other!r} differ only in case, and database columns ignore "
                "case; rename one of them"
            )
    existing = {column.lower(): column for column in columns}
    for name in names:
        column = existing.get(name.lower())
        if column is not None and column != name:
            raise ValueError(
                f"cell parameter {name!r} differs only in case from the column {column!r} of the results "
                f"file; spell it {column!r}"
            )


class ResultStore:
    """Read and write a sweep's SQLite results file. Use as a context manager.

    The file is looked at read-only first: an SQLite database of another program, a damaged
    file or one of a newer mibounds is refused before anything is written, and the file is left
    byte for byte as it was. ``create=False`` (a report) only ever reads, so it also works on
    read-only storage.

    Args:
        path: The database file.
        create: Create the file (and its parent folder) if it does not exist, and open it for
            writing; otherwise a missing file is an error (reading a report).

    Raises:
        ValueError: If the file is missing (with ``create=False``), is not an SQLite database, is
            a database of another program or of a newer mibounds, is damaged, or cannot be
            written (with ``create=True``: read-only storage or folder). One line each.
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ValueError(
                f"no results file at {str(self.path)!r}; run `mibounds bench sweep --db {self.path}` "
                "first, or pass the path of an existing results file"
            )
        if self.path.is_dir():
            raise ValueError(f"{str(self.path)!r} is a folder; pass the path of a results file")
        kind = self._identify() if self.path.is_file() and self.path.stat().st_size > 0 else "new"
        if not create and kind == "new":
            raise ValueError(
                f"{str(self.path)!r} has no 'cells' table: it is not a results file of mibounds bench sweep"
            )
        with self._translated():
            self._connection = self._open_for_writing(kind) if create else self._connect_read_only()
        try:
            with self._translated():
                self._columns = self._table_columns()
        except BaseException:
            self._connection.close()
            raise

    # -- opening ----------------------------------------------------------------------------

    def _identify(self) -> str:
        """What an existing, non-empty file is: ``"mibounds"``, ``"legacy"`` (a results file
        written before the application id) or ``"new"`` (an SQLite database with nothing in it);
        anything else raises. Only reads."""
        where = repr(str(self.path))
        try:
            with self.path.open("rb") as handle:
                header = handle.read(len(_SQLITE_MAGIC))
        except OSError as error:
            raise ValueError(f"cannot read {where}: {error.strerror or error}") from None
        if header != _SQLITE_MAGIC:
            raise ValueError(f"{where} is not a mibounds results file (not an SQLite database); pass another path")
        with self._translated():
            connection = self._connect_read_only()
            try:
                application_id = connection.execute("PRAGMA application_id").fetchone()[0]
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                tables = [
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY name"
                    )
                ]
                columns = {row[1] for row in connection.execute("PRAGMA table_info(cells)")}
            finally:
                connection.close()
        if application_id == APPLICATION_ID or (application_id == 0 and version == 1 and _CORE_COLUMNS <= columns):
            if version > _SCHEMA_VERSION:
                raise ValueError(f"{where} was written by a newer mibounds (schema {version}); upgrade mibounds")
            return "mibounds" if application_id == APPLICATION_ID else "legacy"
        if application_id == 0 and version == 0 and not tables:
            return "new"
        shown = ", ".join(tables[:5]) + (f", ... ({len(tables)} in all)" if len(tables) > 5 else "")
        raise ValueError(
            f"{where} is an SQLite database of another program (tables: {shown or 'none'}"
            f"{f'; application_id {application_id}' if application_id else ''}), not a mibounds results "
            "file; it was left untouched: pass a new file as the results file (--db)"
        )

    def _connect_read_only(self) -> sqlite3.Connection:
        # mode=ro: this connection can never write. Without a -wal file no connection has the
        # file open in WAL mode and the file holds every commit, so immutable=1 reads it as it is,
        # creating no -wal/-shm files beside it (another program's database gets none) and
        # working on read-only storage. With one, read through SQLite's usual locking.
        uri = self.path.resolve().as_uri() + "?mode=ro"
        if not Path(f"{self.path}-wal").exists():
            uri += "&immutable=1"
        connection = sqlite3.connect(uri, uri=True, timeout=60.0)
        try:
            connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return connection
        except sqlite3.OperationalError:
            connection.close()
            if uri.endswith("immutable=1") or _writable(self.path.parent):
                raise
        # A -wal file on read-only storage: no sweep can be writing there, read the file as it is.
        connection = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=60.0)
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return connection

    def _open_for_writing(self, kind: str) -> sqlite3.Connection:
        where = repr(str(self.path))
        folder = self.path.parent
        if kind == "new" and self.path.is_symlink():
            # SQLite would create (or take over) the link's target, wherever it points.
            raise ValueError(
                f"cannot create the results file {where}: it is a symbolic link (to {str(os.readlink(self.path))!r}), "
                "and a sweep creates its results file only where it is named; pass the path of a new file, or of an "
                "existing results file"
            )
        if kind == "new" and not self.path.exists():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ValueError(
                    f"cannot create the results file {where}: its folder {str(folder)!r} cannot be made "
                    f"({error.strerror or error}); pass a path in a folder you can write to"
                ) from None
            if not _writable(folder):
                raise ValueError(
                    f"cannot create the results file {where}: the folder {str(folder)!r} is not writable; "
                    "pass a path in a folder you can write to"
                )
        elif not (_writable(self.path) and _writable(folder)):
            # SQLite also writes the -wal and -shm files next to the database.
            storage = (
                "is on read-only storage" if _read_only_storage(folder) else "(or its folder) is read-only for you"
            )
            raise ValueError(
                f"results file {where} {storage}, and a sweep records into it; copy it to a folder you can "
                "write to and pass that path (reports read it where it is)"
            )
        # A long busy timeout: a reader (a report) may hold the file for a moment.
        connection = sqlite3.connect(self.path, timeout=60.0)
        try:
            if kind != "mibounds" or not {"cells", "sweep_lock"} <= _tables(connection):
                self._create_schema(connection)
            # WAL: a commit is one append to the log, readers never block the writer, and a
            # killed process leaves every committed cell in place.
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        # In one write transaction, after a last look (another process may have created the
        # file since it was identified): two sweeps creating one file at once make it once.
        connection.execute("BEGIN IMMEDIATE")
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            if application_id not in (0, APPLICATION_ID):
                raise ValueError(f"{str(self.path)!r} was taken by another program (application_id {application_id})")
            connection.execute(_CREATE)
            connection.execute(_CREATE_LOCK)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except BaseException:
            connection.rollback()
            raise
        connection.commit()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn SQLite's errors into one-line ValueErrors that name the file and what to do."""
        try:
            yield
        except sqlite3.Error as error:
            raise _file_error(self.path, error) from None

    def _table_columns(self) -> list[str]:
        return [row[1] for row in self._connection.execute("PRAGMA table_info(cells)")]

    # -- context manager ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (everything recorded is already committed)."""
        self._connection.close()

    # -- one sweep at a time --------------------------------------------------------------

    @contextlib.contextmanager
    def sweep_lock(self) -> Iterator[None]:
        """Hold the file for one sweep: a second sweep on it refuses to start meanwhile.

        The holder (process id, host, start time) is a row of the table ``sweep_lock``, taken in
        a write transaction (``BEGIN IMMEDIATE``), so of two sweeps started at once exactly one
        gets it. A row left by a sweep that was killed (SIGKILL, a power cut) is taken over when
        its process no longer runs on this host.

        Raises:
            ValueError: If another sweep holds the file, naming its process id and host.
        """
        pid, host = os.getpid(), socket.gethostname()
        connection = self._connection
        with self._translated():
            connection.execute("BEGIN IMMEDIATE")
            try:
                holder = connection.execute("SELECT pid, host, started_at FROM sweep_lock WHERE slot = 1").fetchone()
                if holder is not None and _still_running(holder[0], holder[1]):
                    raise ValueError(
                        f"results file {str(self.path)!r} is in use by another sweep (process {holder[0]} on host "
                        f"{holder[1]}, since {holder[2]}); wait until it ends, or stop it, and run this sweep again"
                    )
                connection.execute(
                    "INSERT OR REPLACE INTO sweep_lock (slot, pid, host, started_at) VALUES (1, ?, ?, ?)",
                    (pid, host, _utc_now()),
                )
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        try:
            yield
        finally:
            # An error here must not hide the sweep's own; a row left behind is taken over by
            # the next sweep once this process has ended.
            with contextlib.suppress(sqlite3.Error):
                with connection:
                    connection.execute("DELETE FROM sweep_lock WHERE pid = ? AND host = ?", (pid, host))

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def add_parameter_columns(self, names: Iterable[str]) -> None:
        """Add a column for each parameter name that has none yet.

        Raises:
            ValueError: If a name is not an ASCII identifier, is one of the results columns
                (``seconds``, ``status``, ... in any case), or differs only in case from another
                name or column (see :func:`check_parameter_names`). Nothing is changed then.
        """
        names = list(dict.fromkeys(names))
        check_parameter_names(names, self._columns)
        existing = {column.lower() for column in self._columns}
        new = [name for name in names if name.lower() not in existing]
        if new:
            with self._translated(), self._connection:
                for name in new:
                    # Names are checked identifiers (check_parameter_names); no declared type,
                    # so each value keeps its own (integer, real, text).
                    self._connection.execute(f'ALTER TABLE cells ADD COLUMN "{name}"')
            self._columns = self._table_columns()

    def record(self, function: str, cell: Cell, outcome: Mapping[str, Any]) -> None:
        """Write one finished cell and commit at once; a cell recorded before is replaced.

        Args:
            function: The cell function's dotted path.
            cell: The cell.
            outcome: What :func:`mibounds.experiments.sweep.executors.run_cell` returned: ``status``,
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
            # attempts counts runs of a cell that failed before: recording a cell again after it
            # was done is not a retry.
            f"ON CONFLICT (function, id) DO UPDATE SET {updates}, "
            "attempts = cells.attempts + (cells.status = 'failed')"
        )
        with self._translated(), self._connection:  # commits, or rolls back on error
            self._connection.execute(sql, [values[name] for name in names])

    # -- reading --------------------------------------------------------------------------

    def statuses(self, function: str) -> dict[str, str]:
        """``{cell id: "done" | "failed"}`` for the cells of ``function`` recorded so far."""
        with self._translated():
            return dict(
                self._connection.execute("SELECT id, status FROM cells WHERE function = ?", (function,)).fetchall()
            )

    def functions(self) -> list[str]:
        """The cell functions that have rows in this file."""
        with self._translated():
            return [row[0] for row in self._connection.execute("SELECT DISTINCT function FROM cells ORDER BY function")]

    def rows(self, function: str | None = None) -> list[dict[str, Any]]:
        """Every recorded cell as a flat dict, oldest first.

        The dict holds the result's own keys, then the parameters (exact JSON types, taking
        precedence over result keys of the same name), then the file's columns (``function``,
        ``id``, ``status``, ``estimate``, ..., ``seconds``, ``error``, ``attempts``, timestamps),
        and ``params``: the parameters again as a dict of their own.
        """
        query = "SELECT * FROM cells" + (" WHERE function = ?" if function is not None else "")
        with self._translated():
            cursor = self._connection.execute(
                query + " ORDER BY finished_at, rowid", () if function is None else (function,)
            )
            names = [description[0] for description in cursor.description]
            fetched = cursor.fetchall()
        rows = []
        for raw in fetched:
            stored = dict(zip(names, raw, strict=True))
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


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _writable(path: Path) -> bool:
    # access() also answers False for write access on a read-only file system, even for root.
    return os.access(path, os.W_OK)


def _read_only_storage(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows)
        return False


def _still_running(pid: int, host: str) -> bool:
    """Whether the sweep holding a file may still run: unknowable on another host, so yes."""
    if host != socket.gethostname() or pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, under another user
        return True
    try:  # a zombie (ended, not yet reaped) does not run any more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _utc_now() -> str:
    return _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds")


def _file_error(path: Path, error: sqlite3.Error) -> ValueError:
    """A one-line error for an SQLite failure on the results file, with what to do about it."""
    where, text = repr(str(path)), str(error)
    lowered = text.lower()
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return ValueError(
            f"results file {where} is damaged ({text}); restore it from a backup, or start a new one under another path"
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return ValueError(
            f"cannot write the results file {where} ({text}); copy it to a folder you can write to and pass that path"
        )
    if "locked" in lowered or "busy" in lowered:
        return ValueError(
            f"results file {where} stayed locked by another process for a minute ({text}); "
            "run again when that process is done"
        )
    if "full" in lowered:
        return ValueError(f"cannot write the results file {where}: {text}; free some disk space and run again")
    return ValueError(f"cannot use the results file {where}: {text}")
