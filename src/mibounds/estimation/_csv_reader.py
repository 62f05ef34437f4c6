"""Reading CSV / TSV files as text (private to :mod:`mibounds.estimation.data`): the header, the
cells as numbers, booleans or missing values, and text labels where a side may hold them.

Nothing in a file is executed: cells are parsed by :func:`float` and compared with a few words.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["ColumnReader", "read_csv"]

# Cells read as missing values in text files (then reported as NaN with their rows).
_MISSING = {"", "na", "n/a", "nan", "null", "none"}
# Cells read as booleans in text files, as Parquet booleans are: 1 and 0.
_BOOLEANS = {"true": 1.0, "false": 0.0}
# Delimiters a file named .csv may really use, with the one fix that reads it.
_OTHER_DELIMITERS = {
    ";": "save it with commas between fields",
    "\t": "rename it to .tsv",
    "|": "save it with commas between fields",
}
# Cells listed in a message about a column, at most.
_MAX_CELLS = 5
# Rows of the body that decide whether the first row is a header.
_HEADER_SAMPLE = 1000
ColumnReader = Callable[[list[str]], np.ndarray]


def read_csv(path: Path, delimiter: str) -> tuple[list[str], ColumnReader]:
    """The column names of a CSV / TSV file and a reader of its columns as numbers.

    The reader has a ``text(names, side, auto)`` attribute that reads columns as text labels
    (:func:`_labels`). Whether the first row is a header: see :func:`has_header`.
    """
    rows, lines = _rows(path, delimiter)
    header = has_header(rows)
    columns = [c.strip() for c in rows[0]] if header else [str(j) for j in range(len(rows[0]))]
    body, lines = (rows[1:], lines[1:]) if header else (rows, lines)
    if not body:
        raise ValueError(f"{path.name} has a header but no data rows; add one row per sample")
    for row, line in zip(body, lines, strict=True):
        if len(row) != len(columns):
            raise ValueError(
                f"line {line} of {path.name} has {len(row)} fields but "
                f"{'the header has' if header else 'the first line has'} {len(columns)}; "
                "give every row the same columns"
            )
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{path.name} has repeated column names {', '.join(repeated)}; rename them")

    def cells(name: str) -> list[str]:
        j = columns.index(name)
        return [row[j].strip() for row in body]

    def read(names: list[str]) -> np.ndarray:
        out = np.empty((len(body), len(names)))
        for k, name in enumerate(names):
            out[:, k] = _cells_to_float(cells(name), name, path.name, lines)
        return out

    def text(names: list[str], side: str, auto: bool) -> np.ndarray:  # labels as written (missing: None)
        return np.column_stack([_labels(cells(name), name, path.name, lines, side, auto) for name in names])

    read.text = text  # type: ignore[attr-defined]
    return columns, read


def _rows(path: Path, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of the file and the line each one ends on."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    rows, lines = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle, _field_size_limit(path.stat().st_size + 1):
            reader = csv.reader(handle, delimiter=delimiter)
            for row in reader:
                if any(c.strip() for c in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as error:
        raise ValueError(_not_utf8(path, error)) from None
    except csv.Error as error:
        raise ValueError(f"cannot read {path.name} as {kind}: {error}") from None
    if rows and len(rows[0]) == 1:
        # One column cannot hold both x and y: most likely another delimiter (a spreadsheet in a
        # locale whose decimal mark is the comma writes semicolons).
        for other, fix in _OTHER_DELIMITERS.items():
            if other != delimiter and len(rows[0][0].split(other)) > 1:
                shown = "tabs" if other == "\t" else repr(other)
                raise ValueError(
                    f"{path.name} seems to be separated by {shown}, not {'tabs' if kind == 'TSV' else 'commas'} "
                    f"(its first line is {_shorten(rows[0][0])}); {fix}"
                )
    if not rows:
        raise ValueError(f"{path.name} is empty (no rows); pass a file with one row per sample")
    return rows, lines


def has_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns.

    It does when a cell of it is text (not a number, a boolean or a missing-value word; an empty
    cell is none of these, so a first data row with a missing value stays a data row). A first row
    of numbers or booleans is a header when every column it can be compared in disagrees with it:
    each of its cells is of a kind (integer, decimal, boolean) that no cell below it in the first
    1,000 rows has, as the header ``1,2`` or ``true,false`` above columns of decimals.

    Example:
        >>> has_header([["a", "b"], ["1", "2"]]), has_header([["1", ""], ["3", "4"]])
        (True, False)
        >>> has_header([["1", "2"], ["0.5", "0.25"]]), has_header([["1", "2"], ["3", "4.5"]])
        (True, False)
    """
    first = [_kind(cell) for cell in rows[0]]
    if "text" in first:
        return True
    votes = set()
    for j, kind in enumerate(first):
        below = {_kind(row[j]) for row in rows[1:_HEADER_SAMPLE] if j < len(row)} - {"missing"}
        if kind != "missing" and below and "text" not in below:
            votes.add(kind not in below)
    return votes == {True}


def _kind(cell: str) -> str:
    """``"missing"``, ``"boolean"``, ``"integer"``, ``"decimal"`` or ``"text"``."""
    lowered = cell.strip().lower()
    if lowered in _MISSING:
        return "missing"
    if lowered in _BOOLEANS:
        return "boolean"
    try:
        int(lowered)
    except ValueError:
        return "decimal" if _is_number(lowered) else "text"
    return "integer"


def _labels(cells: list[str], column: str, file: str, lines: list[int], side: str, auto: bool) -> np.ndarray:
    """A column's cells as text labels (missing ones None).

    Raises:
        ValueError: Under ``auto``, for a column of numbers with some other cells (a typo or a
            stray mark would otherwise turn numbers into labels), naming those cells; and for a
            column with too many distinct values to be labels (numbers in a format float() does
            not read, such as "1,000" or "0x10"), naming its first such cell.
    """
    from mibounds.estimation.discrete import MAX_AUTO_CLASSES

    present = [(i, c) for i, c in enumerate(cells) if c.lower() not in _MISSING]
    other = [(i, c) for i, c in present if not _is_number(c)]
    numbers = len(present) - len(other)
    if auto and numbers and other:
        raise ValueError(
            f"column {column!r} of {file} holds {numbers} number{'s' if numbers > 1 else ''} and {len(other)} other "
            f"cell{'s' if len(other) > 1 else ''} "
            f"({_cell_list(other, lines)}); correct those cells (a number, or empty for a missing value), "
            f"or pass discrete='{side}' to read the column as labels"
        )
    distinct = len({c for _, c in present})
    if distinct > max(MAX_AUTO_CLASSES, len(cells) // 2):
        raise ValueError(
            f"column {column!r} of {file} is not numeric ({_cell_list(other[:1], lines)}) and has {distinct} "
            f"distinct values in {len(cells)} rows, too many to be labels; write its numbers plainly "
            "(no thousands separators, hexadecimal or control characters) or select other columns"
        )
    return np.array([None if c.lower() in _MISSING else c for c in cells], dtype=object)


def _cell_list(cells: list[tuple[int, str]], lines: list[int]) -> str:
    """``line 3: '?', line 9: 'n.a.'`` for the first few of ``(row, cell)`` pairs."""
    shown = ", ".join(f"line {lines[i]}: {_shorten(c)}" for i, c in cells[:_MAX_CELLS])
    return shown + (f", ... ({len(cells)} in all)" if len(cells) > _MAX_CELLS else "")


@contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    """Let the csv module read fields as long as the file itself (default 128 KB), then restore it.

    The limit guards against a runaway field (an unclosed quote swallowing the file); a field can
    never be longer than the file, so this limit only stops what could not be read anyway.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, min(limit, 2**31 - 1)))  # a C long on every platform
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    with path.open("rb") as handle:
        line = handle.read(error.start).count(b"\n") + 1  # error.start counts bytes of the whole file
    byte = error.object[error.start : error.start + 1]
    where = f"byte 0x{byte.hex()} on line {line}" if byte else f"line {line}"
    return f"{path.name} is not UTF-8 text ({where}); save it as UTF-8 (in a spreadsheet: Save As, 'CSV UTF-8')"


def _shorten(text: str, limit: int = 20) -> str:
    """``repr(text)``, cut after ``limit`` characters so that a huge field keeps a message short."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit] + '...'!r} ({len(text)} characters)"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell.strip().lower() in (_MISSING - {""}) | set(_BOOLEANS)
    return True


def _cells_to_float(cells: list[str], column: str, file: str, lines: list[int]) -> np.ndarray:
    values = np.full(len(cells), math.nan)
    bad = []
    for i, cell in enumerate(cells):
        lowered = cell.lower()
        if lowered in _MISSING:
            continue  # stays NaN; the finiteness check then names the rows
        if lowered in _BOOLEANS:
            values[i] = _BOOLEANS[lowered]
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            bad.append((i, cell))
    if bad:
        raise TypeError(
            f"column {column!r} of {file} is not numeric ({_cell_list(bad, lines)}); "
            "select numeric columns with --x/--y or encode this one as numbers"
        )
    return values
