"""Turning user data into checked ``[n, d]`` float arrays: in-memory arrays and files.

In memory: NumPy arrays, torch tensors, pandas DataFrames / Series, nested lists. A 1-d array is
one feature. Files: CSV / TSV (header optional), ``.npy`` (one 2-d or structured array), ``.npz``
(named arrays) and Parquet (needs ``pyarrow``). Nothing is executed while reading: NumPy files
are loaded with ``allow_pickle=False`` and CSV is parsed as text.

Every problem raises with a one-line message that names what is wrong and how to fix it (the
CLI prints it and exits with status 2).

Example:
    >>> import numpy as np
    >>> from mibounds.estimation.data import as_array, parse_columns
    >>> values, names = as_array([[1, 2], [3, 4]], "x")
    >>> values.shape, values.dtype, names
    ((2, 2), dtype('float64'), ['x[0]', 'x[1]'])
    >>> parse_columns("a,b")
    ['a', 'b']
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mibounds import validation

__all__ = ["SUPPORTED_SUFFIXES", "LoadedData", "as_array", "check_pair", "load_xy", "parse_columns"]

#: File suffixes :func:`load_xy` reads, and the format each one means.
SUPPORTED_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".npy": "npy",
    ".npz": "npz",
    ".parquet": "parquet",
    ".pq": "parquet",
}
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
_MAX_LISTED = 20


def as_array(values: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """Convert one variable's samples to a checked ``float64`` array ``[n, d]`` and column names.

    Args:
        values: NumPy array, torch tensor, pandas DataFrame or Series, or nested list; one row per
            sample. A 1-d input is one feature.
        name: ``"x"`` or ``"y"``, used in messages and default column names.

    Returns:
        ``(array [n, d], column names)``; names come from a DataFrame's columns, else
        ``"x[0]", "x[1]", ...``.

    Raises:
        TypeError: For non-numeric values (a DataFrame's offending columns are named).
        ValueError: For more than 2 dimensions or an empty input.
    """
    columns: list[str] | None = None
    if is_pandas(values):
        values, columns = _from_pandas(values, name)
    elif hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    array = validation.check_matrix(values, name)
    if columns is None or len(columns) != array.shape[1]:
        columns = [f"{name}[{j}]" for j in range(array.shape[1])]
    return array, columns


def check_pair(x: np.ndarray, y: np.ndarray) -> int:
    """Check that two ``[n, d]`` arrays pair up (same rows) and hold only finite values.

    Returns:
        The number of rows.
    """
    n = validation.check_same_rows(x, y)
    validation.check_finite_rows(x, "x")
    validation.check_finite_rows(y, "y")
    return n


def is_pandas(values: Any) -> bool:
    module = type(values).__module__
    return module.split(".")[0] == "pandas" and type(values).__name__ in {"DataFrame", "Series"}


def _from_pandas(values: Any, name: str) -> tuple[np.ndarray, list[str]]:
    frame = values.to_frame() if type(values).__name__ == "Series" else values
    columns = [str(c) for c in frame.columns]
    bad = [
        f"{c!r} ({dtype})"
        for c, dtype in zip(columns, frame.dtypes, strict=True)
        if getattr(dtype, "kind", "O") not in "biuf"
    ]
    if bad:
        raise TypeError(
            f"{name} has non-numeric columns {', '.join(bad[:_MAX_LISTED])}; encode them as numbers "
            "or drop them (e.g. df.select_dtypes('number'))"
        )
    return frame.to_numpy(dtype=np.float64), columns


# --- Files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedData:
    """Two variables read from one file.

    Attributes:
        x: ``[n, dx]`` float64.
        y: ``[n, dy]`` float64.
        x_columns: Names of x's columns (or arrays).
        y_columns: Names of y's columns.
        path: The file.
        z: ``[n, dz]`` float64, the conditioning variables, when asked for (else None).
        z_columns: Names of z's columns (empty without z).
    """

    x: np.ndarray
    y: np.ndarray
    x_columns: list[str]
    y_columns: list[str]
    path: str
    z: np.ndarray | None = None
    z_columns: list[str] = field(default_factory=list)


def parse_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """Split a column spec ``"a,b,3,0:20"`` (or a list of such strings) into tokens: names,
    0-based indices or ``start:stop`` ranges.

    Returns:
        The tokens, or None when ``spec`` is None (columns then default, see :func:`load_xy`).
    """
    if spec is None:
        return None
    parts = [part for item in ([spec] if isinstance(spec, str) else spec) for part in str(item).split(",")]
    tokens = [p.strip() for p in parts if p.strip()]
    if not tokens:
        raise ValueError(f"empty column list {spec!r}; name columns like --x a,b or --x 0:20")
    return tokens


def load_xy(
    path: str | os.PathLike[str],
    x: str | Sequence[str] | None = None,
    y: str | Sequence[str] | None = None,
    z: str | Sequence[str] | None = None,
    labels: str = "none",
) -> LoadedData:
    """Read two variables (and optionally a third, z) from a file without executing anything in it.

    Column specs (``x``, ``y``) are comma-separated names, 0-based indices or half-open ranges
    ``start:stop`` (``"0:20"`` is the first 20 columns), or lists of those. For ``.npz`` files
    they name arrays (default ``x`` and ``y``). When only one of ``x``/``y`` is given, the other
    takes the remaining columns; when neither is, a table must have exactly two columns (x, y).

    Args:
        path: A ``.csv``, ``.tsv``, ``.txt`` (comma-separated), ``.npy``, ``.npz`` or ``.parquet``.
        x: Columns (or arrays) of x.
        y: Columns (or arrays) of y.
        z: Columns (or arrays) of z, the conditioning variables of I(X; Y | Z); they are left
            out when x or y takes "the remaining columns".
        labels: Which of x and y may hold text labels (categories) in a CSV/TSV file:
            ``"none"``, ``"auto"`` (a side whose cells are not all numbers), ``"x"``, ``"y"`` or
            ``"both"`` (the estimator's ``discrete``). Numeric cells are always read as numbers.

    Returns:
        The arrays, checked for shape, numbers and finiteness.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError / TypeError: For an unsupported, empty or unreadable file, unknown or
            non-numeric columns, and every problem :func:`check_pair` finds.
        ImportError: For Parquet without pyarrow.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}; check the path")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory; pass a data file")
    fmt = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot read {path.name!r}: unknown file type {path.suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{path.name} is empty; pass a file with one row per sample")
    x_tokens, y_tokens, z_tokens = parse_columns(x), parse_columns(y), parse_columns(z)
    za, zc = None, list[str]()
    if fmt == "npz":
        xa, xc, ya, yc, z_side = _load_npz(path, x_tokens, y_tokens, z_tokens)
        if z_side is not None:
            za, zc = z_side
    else:
        reader = {"csv": _read_csv, "tsv": _read_csv, "npy": _read_npy, "parquet": _read_parquet}[fmt]
        columns, read = reader(path, "\t" if fmt == "tsv" else ",")
        z_names = _resolve(columns, z_tokens, path.name) if z_tokens is not None else []
        x_names, y_names = _choose_columns(columns, x_tokens, y_tokens, path.name, taken=z_names)
        text_ok = {"x": labels in ("auto", "x", "both"), "y": labels in ("auto", "y", "both")}
        xa, ya = _read_side(read, x_names, text_ok["x"]), _read_side(read, y_names, text_ok["y"])
        xc, yc = x_names, y_names
        if z_names:
            za, zc = read(z_names), z_names
    if xa.dtype == object or ya.dtype == object:  # category labels: the estimator checks them
        if za is not None:
            raise ValueError("conditional MI (--z) needs numeric x and y; encode the categories as numbers")
        if len(xa) != len(ya):
            raise ValueError(f"x has {len(xa)} rows and y has {len(ya)}; pass one row of y per row of x")
        return LoadedData(xa, ya, list(xc), list(yc), str(path))
    xa = validation.check_matrix(xa, "x")
    ya = validation.check_matrix(ya, "y")
    n = check_pair(xa, ya)
    if za is not None:
        za = validation.check_matrix(za, "z")
        if len(za) != n:
            raise ValueError(f"z has {len(za)} rows but x and y have {n}; pass one row of z per row of x and y")
    return LoadedData(xa, ya, list(xc), list(yc), str(path), za, list(zc))


def _read_side(read: ColumnReader, names: list[str], text_ok: bool) -> np.ndarray:
    """Numbers when every cell is one; else, where allowed, the cells as text labels."""
    try:
        return read(names)
    except TypeError:
        if not text_ok or not hasattr(read, "text"):
            raise
        return read.text(names)


def _choose_columns(
    columns: list[str], x: list[str] | None, y: list[str] | None, file: str, taken: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Resolve column tokens to names, filling a missing side with the remaining columns (never
    the ``taken`` ones, which z holds)."""
    x_names = _resolve(columns, x, file) if x is not None else None
    y_names = _resolve(columns, y, file) if y is not None else None
    shared = [c for c in taken if c in set(x_names or ()) | set(y_names or ())]
    if shared:
        raise ValueError(f"columns {', '.join(shared[:_MAX_LISTED])} are in z and in x or y; give z columns of its own")
    columns = [c for c in columns if c not in set(taken)]
    if x is None and y is None:
        if len(columns) != 2:
            example = f"--x 0:{len(columns) // 2} --y {len(columns) // 2}:{len(columns)}"
            raise ValueError(
                f"{file} has {len(columns)} columns; say which are x and which are y, "
                f"e.g. {example} or --x {columns[0]} --y {columns[-1]}"
            )
        return [columns[0]], [columns[1]]
    if x_names is None:
        x_names = [c for c in columns if c not in set(y_names or ())]
    if y_names is None:
        y_names = [c for c in columns if c not in set(x_names)]
    for side, chosen in (("x", x_names), ("y", y_names)):
        if not chosen:
            raise ValueError(f"no columns left for {side} in {file}; name them with --{side}")
    overlap = sorted(set(x_names) & set(y_names), key=columns.index)
    if overlap:
        raise ValueError(
            f"columns {', '.join(overlap[:_MAX_LISTED])} are in both x and y; give x and y "
            "disjoint columns (a variable shares all its information with itself)"
        )
    return x_names, y_names


def _resolve(columns: list[str], tokens: list[str], file: str) -> list[str]:
    """Column names for tokens that are names, 0-based indices or ``start:stop`` ranges."""
    chosen: list[str] = []
    for token in tokens:
        if token in columns:
            chosen.append(token)
        elif ":" in token and all(p.strip().lstrip("-").isdigit() or not p.strip() for p in token.split(":")):
            start, _, stop = token.partition(":")
            picked = columns[slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)]
            if not picked:
                raise ValueError(
                    f"column range {token!r} selects nothing: {file} has {len(columns)} columns "
                    f"(0 to {len(columns) - 1}); use start:stop with 0-based indices"
                )
            chosen.extend(picked)
        elif token.lstrip("-").isdigit():
            index = int(token)
            if not -len(columns) <= index < len(columns):
                raise ValueError(
                    f"column index {index} is out of range: {file} has {len(columns)} columns (0 to {len(columns) - 1})"
                )
            chosen.append(columns[index])
        else:
            raise _unknown_column(token, columns, file)
    return list(dict.fromkeys(chosen))  # keep order, drop repeats


def _unknown_column(token: str, columns: list[str], file: str, kind: str = "column") -> ValueError:
    close = difflib.get_close_matches(token, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(columns[:_MAX_LISTED])
    more = f", ... ({len(columns)} in all)" if len(columns) > _MAX_LISTED else ""
    indices = " (or 0-based indices and ranges like 0:20)" if kind == "column" else ""
    return ValueError(f"unknown {kind} {token!r} in {file}.{hint} {kind.title()}s: {shown}{more}{indices}")


ColumnReader = Callable[[list[str]], np.ndarray]


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], ColumnReader]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle, _field_size_limit(path.stat().st_size + 1):
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if any(c.strip() for c in row)]
    except UnicodeDecodeError as error:
        raise ValueError(_not_utf8(path, error)) from None
    except csv.Error as error:
        raise ValueError(f"cannot read {path.name} as {'TSV' if delimiter == chr(9) else 'CSV'}: {error}") from None
    if rows and len(rows[0]) == 1:
        # One column cannot hold both x and y: most likely another delimiter (a spreadsheet in a
        # locale whose decimal mark is the comma writes semicolons).
        for other, fix in _OTHER_DELIMITERS.items():
            if other != delimiter and len(rows[0][0].split(other)) > 1:
                shown = "tabs" if other == "\t" else repr(other)
                raise ValueError(
                    f"{path.name} seems to be separated by {shown}, not {'tabs' if delimiter == chr(9) else 'commas'} "
                    f"(its first line is {_shorten(rows[0][0])}); {fix}"
                )
    if not rows:
        raise ValueError(f"{path.name} is empty (no rows); pass a file with one row per sample")
    has_header = not all(_is_number(c) for c in rows[0])
    columns = [c.strip() for c in rows[0]] if has_header else [str(j) for j in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    if not body:
        raise ValueError(f"{path.name} has a header but no data rows; add one row per sample")
    first_data_line = 2 if has_header else 1
    for offset, row in enumerate(body):
        if len(row) != len(columns):
            raise ValueError(
                f"line {offset + first_data_line} of {path.name} has {len(row)} fields but "
                f"{'the header has' if has_header else 'the first line has'} {len(columns)}; "
                "give every row the same columns"
            )
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{path.name} has repeated column names {', '.join(repeated)}; rename them")

    def read(names: list[str]) -> np.ndarray:
        out = np.empty((len(body), len(names)))
        for k, name in enumerate(names):
            j = columns.index(name)
            cells = [row[j].strip() for row in body]
            out[:, k] = _cells_to_float(cells, name, path.name, first_data_line)
        return out

    def text(names: list[str]) -> np.ndarray:  # category labels as written (missing cells: None)
        picked = [columns.index(name) for name in names]
        return np.array(
            [[None if row[j].strip().lower() in _MISSING else row[j].strip() for j in picked] for row in body],
            dtype=object,
        )

    read.text = text  # type: ignore[attr-defined]
    return columns, read


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


def _cells_to_float(cells: list[str], column: str, file: str, first_line: int) -> np.ndarray:
    values = np.full(len(cells), math.nan)
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
            raise TypeError(
                f"column {column!r} of {file} is not numeric (line {i + first_line}: {_shorten(cell)}); "
                "select numeric columns with --x/--y or encode this one as numbers"
            ) from None
    return values


def _read_npy(path: Path, delimiter: str) -> tuple[list[str], ColumnReader]:
    array = _np_load(path)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path.name} is not a .npy file (it is an archive); rename it to .npz")
    if array.dtype.names:  # structured array: its fields are the columns
        fields = list(array.dtype.names)

        def read_fields(names: list[str]) -> np.ndarray:
            parts = [validation.check_matrix(array[name], f"field {name!r} of {path.name}") for name in names]
            return np.concatenate(parts, axis=1)

        return fields, read_fields
    if array.ndim != 2:
        raise ValueError(
            f"{path.name} holds an array of shape {array.shape}; an .npy file must hold one 2-d "
            "array [samples, columns] (pick x and y with --x/--y) or use an .npz with arrays x and y"
        )
    matrix = validation.check_matrix(array, path.name)
    columns = [str(j) for j in range(matrix.shape[1])]
    return columns, lambda names: matrix[:, [int(n) for n in names]]


def _load_npz(
    path: Path, x: list[str] | None, y: list[str] | None, z: list[str] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray, list[str], tuple[np.ndarray, list[str]] | None]:
    archive = _np_load(path)
    if isinstance(archive, np.ndarray):
        raise ValueError(f"{path.name} is a single array, not an archive; rename it to .npy")
    with archive:
        keys = list(archive.files)
        if not keys:
            raise ValueError(f"{path.name} holds no arrays; save x and y with np.savez(file, x=x, y=y)")
        if x is None and y is None:
            if not {"x", "y"} <= set(keys):
                raise ValueError(
                    f"{path.name} holds arrays {', '.join(keys[:_MAX_LISTED])}; say which are x and y, "
                    f"e.g. --x {keys[0]} --y {keys[-1]}"
                )
            x, y = ["x"], ["y"]
        if x is None:
            x = [k for k in keys if k not in set(y or ()) | set(z or ())]
        if y is None:
            y = [k for k in keys if k not in set(x) | set(z or ())]
        sides = []
        for side, names in (("x", x), ("y", y), *((("z", z),) if z is not None else ())):
            if not names:
                raise ValueError(f"no arrays left for {side} in {path.name}; name them with --{side}")
            parts, columns = [], []
            for name in names:
                if name not in keys:
                    raise _unknown_column(name, keys, path.name, kind="array")
                part = validation.check_matrix(_load_member(archive, name, path.name), f"array {name!r}")
                parts.append(part)
                columns += [name] if part.shape[1] == 1 else [f"{name}[{j}]" for j in range(part.shape[1])]
            rows = {len(p) for p in parts}
            if len(rows) > 1:
                raise ValueError(
                    f"arrays {', '.join(names)} of {path.name} have different numbers of rows "
                    f"{sorted(rows)}; {side} needs one row per sample in each"
                )
            sides.append((np.concatenate(parts, axis=1), columns))
    (xa, xc), (ya, yc) = sides[:2]
    return xa, xc, ya, yc, (sides[2] if len(sides) == 3 else None)


def _check_npy_size(handle: Any, data_bytes: int, what: str) -> None:
    """Refuse an ``.npy`` stream whose header claims more data than there is, before NumPy
    allocates it (a damaged or hostile header can claim terabytes).

    Args:
        handle: The stream, at its start.
        data_bytes: Bytes in the whole stream.
        what: How to name it in the message.
    """
    try:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle, max_header_size=2**20)
    except (ValueError, OSError, EOFError, SyntaxError):
        return  # not a valid header: np.load says so in its own words
    if dtype.hasobject:
        return  # pickled objects: refused by allow_pickle=False
    claimed = math.prod(shape) * dtype.itemsize
    available = data_bytes - handle.tell()
    if claimed > available:
        raise ValueError(
            f"{what} claims an array of shape {tuple(shape)} ({_size(claimed)}) but holds only {available} bytes "
            "of data; it is truncated or damaged: save the array again with np.save / np.savez"
        )


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _np_load(path: Path) -> Any:
    if path.suffix.lower() == ".npy":
        with path.open("rb") as handle:
            _check_npy_size(handle, path.stat().st_size, path.name)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError(
                f"{path.name} holds pickled Python objects (or is not a NumPy file); mibounds never "
                "unpickles files: save plain numeric arrays (np.save / np.savez)"
            ) from None
        raise ValueError(f"cannot read {path.name} as a NumPy file: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read {path.name} as a NumPy file ({error}); is it corrupt?") from None


def _load_member(archive: Any, name: str, file: str) -> np.ndarray:
    member = f"{name}.npy" if f"{name}.npy" in archive.zip.namelist() else name
    with archive.zip.open(member) as handle:
        _check_npy_size(handle, archive.zip.getinfo(member).file_size, f"array {name!r} of {file}")
    try:
        return archive[name]
    except ValueError:
        raise ValueError(
            f"array {name!r} of {file} holds pickled Python objects; mibounds never unpickles "
            "files: save numeric arrays"
        ) from None


def _read_parquet(path: Path, delimiter: str) -> tuple[list[str], ColumnReader]:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"reading {path.name} needs pyarrow; install it with pip install 'mibounds[data]' "
            "or save the data as CSV / NPZ"
        ) from None
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"cannot read {path.name} as Parquet: {error}") from None
    columns = list(parquet.schema_arrow.names)

    def read(names: list[str]) -> np.ndarray:
        table = parquet.read(columns=names)
        out = np.empty((table.num_rows, len(names)))
        for k, name in enumerate(names):
            column = table.column(name)
            try:
                numbers = pc.cast(column, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise TypeError(
                    f"column {name!r} of {path.name} is not numeric (type {column.type}); "
                    "select numeric columns with --x/--y or encode this one as numbers"
                ) from None
            out[:, k] = numbers.to_numpy(zero_copy_only=False)
        return out

    return columns, read
