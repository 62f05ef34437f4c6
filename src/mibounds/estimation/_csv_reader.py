"""Reading CSV / TSV files as text (private to :mod:`mibounds.estimation.data`): the header, the
cells as numbers, booleans or missing values, and text labels where a side may hold them.

Nothing in a file is executed: cells are parsed by :func:`float` and compared with a few words.
What the reader holds is bounded as it reads (:mod:`mibounds.estimation._file_limits`): a record
longer than :data:`~mibounds.estimation._file_limits.MAX_RECORD_CHARS` characters and a row of
another width are refused at their line, and the text held is checked against the memory budget,
projected to the whole file from its first rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np

from mibounds.estimation import _file_limits
from mibounds.estimation._file_limits import MemoryBudget

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
# Rows of the body that decide whether the first row is a header, and project the memory of all.
_HEADER_SAMPLE = 1000
# Bytes a row held as a list of str costs beyond its characters: the list, and per cell a
# pointer and a str object (CPython, 64-bit).
_ROW_BYTES, _CELL_BYTES = 56, 57
ColumnReader = Callable[[list[str]], np.ndarray]


def read_csv(path: Path, delimiter: str, budget: MemoryBudget | None = None) -> tuple[list[str], ColumnReader]:
    """The column names of a CSV / TSV file and a reader of its columns as numbers.

    The reader has a ``text(names, side, auto)`` attribute that reads columns as text labels
    (:func:`_labels`). Whether the first row is a header: see :func:`has_header`.

    Args:
        path: The file.
        delimiter: ``","`` or ``"\\t"``.
        budget: What the rows may hold (default: :meth:`MemoryBudget.resolve`).
    """
    rows, lines = _rows(path, delimiter, budget or MemoryBudget.resolve())
    header = has_header(rows)
    columns = [c.strip() for c in rows[0]] if header else [str(j) for j in range(len(rows[0]))]
    body, lines = (rows[1:], lines[1:]) if header else (rows, lines)
    if not body:
        raise ValueError(f"{path.name} has a header but no data rows; add one row per sample")
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


def _rows(path: Path, delimiter: str, budget: MemoryBudget) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of the file and the line each one ends on, every row as wide as the first.

    Raises:
        ValueError: For a record over ``MAX_RECORD_CHARS`` characters or a row of another width
            (at its line, before the rest is read), text over the memory budget (projected from
            the first rows and the file's size, or counted), bytes that are not UTF-8, and a
            file of one column that another delimiter would split.
    """
    kind = "TSV" if delimiter == "\t" else "CSV"
    rows: list[list[str]] = []
    lines: list[int] = []
    held = 0  # bytes of the rows held, estimated
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle, _field_size_limit(_file_limits.MAX_RECORD_CHARS):
            source = _BoundedLines(handle, path.name)
            reader = csv.reader(source, delimiter=delimiter)
            for row in reader:
                chars = source.end_record()
                if not any(c.strip() for c in row):
                    continue
                if rows and len(row) != len(rows[0]):
                    _check_delimiter(path.name, rows, delimiter)
                    raise ValueError(_width_error(path.name, reader.line_num, len(row), rows))
                rows.append(row)
                lines.append(reader.line_num)
                held += chars + _ROW_BYTES + _CELL_BYTES * len(row)
                if len(rows) == _HEADER_SAMPLE:
                    _check_projection(path, budget, held, source.chars)
                budget.check(held, f"reading {path.name} (as text, up to line {reader.line_num})", _SMALLER)
    except UnicodeDecodeError as error:
        raise ValueError(_not_utf8(path, error)) from None
    except csv.Error as error:
        raise ValueError(f"cannot read {path.name} as {kind}: {error}") from None
    _check_delimiter(path.name, rows, delimiter)
    if not rows:
        raise ValueError(f"{path.name} is empty (no rows); pass a file with one row per sample")
    return rows, lines


def _check_delimiter(file: str, rows: list[list[str]], delimiter: str) -> None:
    """Refuse a file of one column that another delimiter splits: one column cannot hold both x
    and y, so it is most likely another delimiter (a spreadsheet in a locale whose decimal mark
    is the comma writes semicolons)."""
    if not rows or len(rows[0]) != 1:
        return
    own = "tabs" if delimiter == "\t" else "commas"
    for other, fix in _OTHER_DELIMITERS.items():
        if other != delimiter and len(rows[0][0].split(other)) > 1:
            shown = "tabs" if other == "\t" else repr(other)
            raise ValueError(
                f"{file} seems to be separated by {shown}, not {own} (its first line is {_shorten(rows[0][0])}); {fix}"
            )


_SMALLER = "save the columns you need as .npy (np.save), which is read without text, or pass fewer rows"


class _BoundedLines:
    """The lines of a text file for ``csv.reader``, refusing a record longer than
    ``MAX_RECORD_CHARS`` characters before holding it whole (``readline`` with a size reads no
    further); counts the characters of the record being read and of the whole file."""

    def __init__(self, handle: TextIO, file: str) -> None:
        self.handle = handle
        self.file = file
        self.record = 0  # characters of the record being read
        self.chars = 0  # characters read in all
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        limit = _file_limits.MAX_RECORD_CHARS
        line = self.handle.readline(limit - self.record + 1)
        if not line:
            raise StopIteration
        self.line += 1
        self.record += len(line)
        self.chars += len(line)
        if self.record > limit:
            what = (
                "and holds NUL bytes: it is not a text file (a sparse or binary file?)"
                if "\x00" in line
                else "(a field whose closing quote is missing?)"
            )
            raise ValueError(
                f"the record at line {self.line} of {self.file} is longer than {limit:,} characters {what}; "
                "pass a CSV file with one row per line"
            )
        return line

    def end_record(self) -> int:
        """The characters of the record just read; the next one starts at 0."""
        chars, self.record = self.record, 0
        return chars


def _width_error(file: str, line: int, fields: int, rows: list[list[str]]) -> str:
    header = has_header(rows)
    return (
        f"line {line} of {file} has {fields} fields but {'the header has' if header else 'the first line has'} "
        f"{len(rows[0])}; give every row the same columns"
    )


def _check_projection(path: Path, budget: MemoryBudget, held: int, chars: int) -> None:
    """Refuse early a file whose rows, at the cost per character of its first ones, would not fit."""
    try:
        total = path.stat().st_size
    except OSError:
        return
    if chars and total > chars:
        budget.check(
            held * total / chars,
            f"reading {path.name} as text (projected from its first {_HEADER_SAMPLE:,} rows to its "
            f"{_file_limits.size(total)})",
            _SMALLER,
        )


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
    """Let the csv module read fields as long as a whole record may be (default 128 KB), then
    restore it: a long text cell is read (and named in a message), a record over the limit is
    refused by :class:`_BoundedLines` first."""
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
