"""Reading NumPy (``.npy``, ``.npz``) and Parquet files (private to :mod:`mibounds.estimation.data`).

Nothing is unpickled (``allow_pickle=False``) and nothing is held before what the file says of
itself has been checked: each NumPy array's header (shape and dtype; the rows of x, y and z must
agree, the data must be there) and Parquet's metadata (rows and column types) come first, then
the float64 arrays to make are checked against the :class:`MemoryBudget`, then the data is read.
An ``.npz`` member is inflated a chunk at a time straight into its columns of the result, so a
small archive that inflates to gigabytes (a zip bomb) is refused by its headers, or costs no more
than the rows it holds.
"""

from __future__ import annotations

import difflib
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from mibounds import validation
from mibounds.estimation._file_limits import MemoryBudget, size
from mibounds.estimation._runtime import check_estimate_memory

__all__ = ["check_columns", "load_npz", "read_npy", "read_parquet", "unknown_column"]

ColumnReader = Callable[[list[str]], np.ndarray]
# Names listed in a message, at most.
_MAX_LISTED = 20
#: A compressed member that inflates past _BOMB_BYTES at over _BOMB_RATIO times its size is refused
#: (deflate peaks near 1,000 to 1 on constant data; random binary floats deflate about 27 to 1, a
#: column of 1 % ones about 240 to 1).
_BOMB_BYTES = 256 << 20
_BOMB_RATIO = 500
# Bytes inflated at a time from an .npz member.
_CHUNK_BYTES = 1 << 22
_FEWER_ROWS = "pass a sample of the rows, or fewer columns"


def unknown_column(token: str, columns: list[str], file: str, kind: str = "column") -> ValueError:
    """The error for a column (or array) name that the file does not have, with the closest one."""
    close = difflib.get_close_matches(token, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(columns[:_MAX_LISTED])
    more = f", ... ({len(columns)} in all)" if len(columns) > _MAX_LISTED else ""
    indices = " (or 0-based indices and ranges like 0:20)" if kind == "column" else ""
    return ValueError(f"unknown {kind} {token!r} in {file}.{hint} {kind.title()}s: {shown}{more}{indices}")


def check_columns(read: ColumnReader, budget: MemoryBudget, file: str, names: list[str]) -> None:
    """Refuse, before any is read, columns whose float64 arrays (and what the reader holds on the
    way, ``read.cell_bytes`` a cell in all) exceed the budget, where the reader knows its rows
    without reading them (``read.rows``: a NumPy header, Parquet metadata)."""
    rows = getattr(read, "rows", None)
    if rows is not None:
        nbytes = float(getattr(read, "cell_bytes", 8)) * rows * len(names)
        budget.check(
            nbytes,
            f"reading {len(names)} column{'s' if len(names) > 1 else ''} of {file} ({rows:,} rows, as float64)",
            _FEWER_ROWS,
        )
        check_estimate_memory(rows, len(names), f"the columns of {file}", held=nbytes)


# -- .npy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """What an ``.npy`` stream says of its array."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def columns(self) -> int:
        return 1 if len(self.shape) == 1 else self.shape[1]


def _header(handle: IO[bytes], data_bytes: int, what: str) -> _Header | None:
    """The header of an ``.npy`` stream (left at the start of its data), or None when it has none
    that NumPy would read (then ``np.load`` says so in its own words).

    Raises:
        ValueError: For a header that claims more data than the stream holds (a damaged or
            hostile header can claim terabytes), or an array of pickled objects.
    """
    try:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(handle, max_header_size=2**20)
    except (ValueError, OSError, EOFError, SyntaxError):
        return None
    if dtype.hasobject:
        raise ValueError(
            f"{what} holds pickled Python objects (dtype object); mibounds never unpickles files: save plain "
            "numeric arrays (np.save / np.savez)"
        )
    claimed = math.prod(shape) * dtype.itemsize
    available = data_bytes - handle.tell()
    if claimed > available:
        raise ValueError(
            f"{what} claims an array of shape {tuple(shape)} ({size(claimed)}) but holds only {available} bytes "
            "of data; it is truncated or damaged: save the array again with np.save / np.savez"
        )
    return _Header(tuple(shape), dtype, bool(fortran))


def _check_matrix_header(header: _Header, what: str) -> None:
    """The checks of :func:`mibounds.validation.check_matrix`, made on the header before any data."""
    if header.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} holds non-numeric values (dtype {header.dtype}); pass numbers "
            "(encode categories as numbers or drop those columns)"
        )
    if not header.shape:
        raise ValueError(f"{what} is a single number; pass an array with one row per sample")
    if len(header.shape) > 2:
        raise ValueError(
            f"{what} has {len(header.shape)} dimensions (shape {header.shape}); save a 2-d array [samples, "
            "features], e.g. a.reshape(len(a), -1) to flatten each sample"
        )
    if header.rows == 0 or header.columns == 0:
        raise ValueError(f"{what} is empty (shape {header.shape}); pass at least one row and one column")


def read_npy(path: Path, delimiter: str, budget: MemoryBudget) -> tuple[list[str], ColumnReader]:
    """The columns of an ``.npy`` file (a 2-d array's indices, or a structured array's fields)
    and a reader of some of them as float64; the file is mapped, not read, until columns are
    (check them with :func:`check_columns` first)."""
    with path.open("rb") as handle:
        header = _header(handle, path.stat().st_size, path.name)
    array = _np_load(path, mmap=header is not None)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path.name} is not a .npy file (it is an archive); rename it to .npz")
    if array.dtype.names:  # structured array: its fields are the columns
        fields = list(array.dtype.names)

        def read_fields(names: list[str]) -> np.ndarray:
            parts = [validation.check_matrix(array[name], f"field {name!r} of {path.name}") for name in names]
            return np.concatenate(parts, axis=1)

        read_fields.rows = len(array)  # type: ignore[attr-defined]
        return fields, read_fields
    if array.ndim != 2:
        raise ValueError(
            f"{path.name} holds an array of shape {array.shape}; an .npy file must hold one 2-d "
            "array [samples, columns] (pick x and y with --x/--y) or use an .npz with arrays x and y"
        )
    validation.check_matrix(array[:1], path.name)  # numbers, not empty: without reading the rest
    columns = [str(j) for j in range(array.shape[1])]

    def read(names: list[str]) -> np.ndarray:
        return validation.check_matrix(np.asarray(array[:, [int(n) for n in names]]), path.name)

    read.rows = len(array)  # type: ignore[attr-defined]
    return columns, read


def _np_load(path: Path, mmap: bool = False) -> Any:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError(
                f"{path.name} holds pickled Python objects (or is not a NumPy file); mibounds never "
                "unpickles files: save plain numeric arrays (np.save / np.savez)"
            ) from None
        raise ValueError(f"cannot read {path.name} as a NumPy file: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        if mmap:  # a file system that cannot map files: read it instead
            return _np_load(path)
        raise ValueError(f"cannot read {path.name} as a NumPy file ({error}); is it corrupt?") from None


# -- .npz ---------------------------------------------------------------------------------------


def load_npz(
    path: Path, x: list[str] | None, y: list[str] | None, z: list[str] | None, budget: MemoryBudget
) -> tuple[np.ndarray, list[str], np.ndarray, list[str], tuple[np.ndarray, list[str]] | None]:
    """x, y (and z) from the arrays of an ``.npz`` archive, checked on their headers first."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        with path.open("rb") as handle:
            if handle.read(6) == b"\x93NUMPY":
                raise ValueError(f"{path.name} is a single array, not an archive; rename it to .npy") from None
        raise ValueError(f"cannot read {path.name} as a NumPy file ({error}); is it corrupt?") from None
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        keys = list(members)
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
        sides = {"x": x, "y": y, **({"z": z} if z is not None else {})}
        headers = {side: _side_headers(archive, members, names, side, path.name) for side, names in sides.items()}
        _check_rows(headers, path.name)
        rows = headers["x"][0][1].rows
        width = sum(h.columns for side in headers.values() for _, h in side)
        budget.check(
            8.0 * rows * width + _CHUNK_BYTES,
            f"reading {' and '.join(sides)} from {path.name} ({rows:,} rows of {width} columns, as float64)",
            _FEWER_ROWS,
        )
        # Rows that fit the read can still be more than an estimate can hold (a zip bomb whose
        # arrays agree in their rows): refused before a byte is inflated.
        check_estimate_memory(rows, width, f"the arrays of {path.name}", held=8.0 * rows * width)
        read = {side: _read_side(archive, members, parts, path.name) for side, parts in headers.items()}
    (xa, xc), (ya, yc) = read["x"], read["y"]
    return xa, xc, ya, yc, read.get("z")


def _side_headers(
    archive: zipfile.ZipFile, members: dict[str, str], names: list[str], side: str, file: str
) -> list[tuple[str, _Header]]:
    if not names:
        raise ValueError(f"no arrays left for {side} in {file}; name them with --{side}")
    headers = []
    for name in names:
        if name not in members:
            raise unknown_column(name, list(members), file, kind="array")
        what = f"array {name!r} of {file}"
        with archive.open(members[name]) as handle:
            header = _header(handle, archive.getinfo(members[name]).file_size, what)
        if header is None:
            raise ValueError(f"{what} is not a NumPy array (no .npy header); save the arrays with np.savez")
        _check_matrix_header(header, what)
        _check_inflation(header, archive.getinfo(members[name]).compress_size, what)
        headers.append((name, header))
    return headers


def _check_inflation(header: _Header, compressed: int, what: str) -> None:
    """Refuse a member that inflates to more than :data:`_BOMB_BYTES` at over :data:`_BOMB_RATIO`
    times its compressed size: a zip bomb whose row counts agree passes every other check, and an
    array of nearly one value (the only data that deflates so far) has nothing to estimate from."""
    inflated = header.rows * header.columns * header.dtype.itemsize
    if inflated > _BOMB_BYTES and inflated > _BOMB_RATIO * max(compressed, 1):
        raise ValueError(
            f"{what} inflates {inflated / max(compressed, 1):,.0f} times ({size(compressed)} to {size(inflated)}): "
            "a zip bomb, or an array of nearly one value, with nothing to estimate from; if it is data, save it "
            "uncompressed with np.savez"
        )


def _check_rows(headers: dict[str, list[tuple[str, _Header]]], file: str) -> None:
    """The rows of every array, from the headers: the same within a side and across sides."""
    counts = {}
    for side, parts in headers.items():
        rows = {h.rows for _, h in parts}
        if len(rows) > 1:
            raise ValueError(
                f"arrays {', '.join(name for name, _ in parts)} of {file} have different numbers of rows "
                f"{sorted(rows)}; {side} needs one row per sample in each"
            )
        counts[side] = rows.pop()
    if counts["x"] != counts["y"]:
        validation.check_same_rows(np.empty((counts["x"], 0)), np.empty((counts["y"], 0)))
    if "z" in counts and counts["z"] != counts["x"]:
        raise ValueError(
            f"z has {counts['z']} rows but x and y have {counts['x']}; pass one row of z per row of x and y"
        )


def _read_side(
    archive: zipfile.ZipFile, members: dict[str, str], parts: list[tuple[str, _Header]], file: str
) -> tuple[np.ndarray, list[str]]:
    """One side's arrays side by side as float64, each inflated a chunk at a time into its columns."""
    out = np.empty((parts[0][1].rows, sum(h.columns for _, h in parts)))
    columns: list[str] = []
    start = 0
    for name, header in parts:
        block = out[:, start : start + header.columns]
        with archive.open(members[name]) as handle:
            _header(handle, archive.getinfo(members[name]).file_size, name)  # to the start of the data
            _fill(handle, header, block, f"array {name!r} of {file}")
        start += header.columns
        columns += [name] if header.columns == 1 else [f"{name}[{j}]" for j in range(header.columns)]
    return out, columns


def _fill(handle: IO[bytes], header: _Header, block: np.ndarray, what: str) -> None:
    """Read the data of an ``.npy`` stream into ``block`` ``[rows, columns]``, a chunk at a time:
    rows of the block for row-major data, each column in turn for column-major (Fortran) data."""
    rows, item = header.rows, header.dtype.itemsize
    targets = [block[:, j : j + 1] for j in range(header.columns)] if header.fortran else [block]
    for target in targets:  # views of the block
        width = target.shape[1]
        step = max(1, _CHUNK_BYTES // (width * item))
        for first in range(0, rows, step):
            count = min(step, rows - first)
            data = handle.read(count * width * item)
            if len(data) != count * width * item:
                raise ValueError(f"{what} ends before its data does; it is truncated: save it again with np.savez")
            target[first : first + count] = np.frombuffer(data, dtype=header.dtype).reshape(count, width)


# -- Parquet ------------------------------------------------------------------------------------


def read_parquet(path: Path, delimiter: str, budget: MemoryBudget) -> tuple[list[str], ColumnReader]:
    """The columns of a Parquet file and a reader of some of them as float64 (check them against
    the budget with :func:`check_columns` first: its metadata gives the rows). The reader's ``text(names, side, auto)`` reads text and
    boolean columns as class labels, as the CSV reader does."""
    try:
        import pyarrow as pa
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
    if len(set(columns)) != len(columns):  # pyarrow cannot tell them apart by name
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{path.name} has repeated column names {', '.join(repeated)}; rename them")

    def read(names: list[str]) -> np.ndarray:
        data = parquet.read(columns=names)
        out = np.empty((data.num_rows, len(names)))
        for k, name in enumerate(names):
            out[:, k] = _parquet_numbers(data.column(name), name, path.name)
        return out

    def text(names: list[str], side: str, auto: bool) -> np.ndarray:  # labels as stored (missing: None)
        data = parquet.read(columns=names)
        return np.column_stack([np.array(data.column(name).to_pylist(), dtype=object) for name in names])

    read.text = text  # type: ignore[attr-defined]
    read.rows = parquet.metadata.num_rows  # type: ignore[attr-defined]
    read.cell_bytes = 16  # type: ignore[attr-defined]  # pyarrow's column (up to 8 bytes a cell), then float64
    return columns, read


def _parquet_numbers(column: Any, name: str, file: str) -> np.ndarray:
    """A Parquet column as float64: integers of any size (those beyond 2**53 rounded to the
    nearest float64, as every number is), floats, booleans (1 and 0), decimals."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # safe=False: an integer beyond 2**53 becomes its nearest float64, not an error
        numbers = pc.cast(column, pa.float64(), safe=not pa.types.is_integer(column.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise TypeError(
            f"column {name!r} of {file} is not numeric (type {column.type}); "
            "select numeric columns with --x/--y or encode this one as numbers"
        ) from None
    return numbers.to_numpy(zero_copy_only=False)
