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

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mibounds import validation
from mibounds.estimation._csv_reader import ColumnReader, read_csv
from mibounds.estimation._file_limits import MemoryBudget
from mibounds.estimation._file_readers import check_columns, load_npz, read_npy, read_parquet, unknown_column

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadedData",
    "as_array",
    "check_input",
    "check_pair",
    "load_xy",
    "pair_rows",
    "parse_columns",
]

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
    values = check_input(values, name)
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


def pair_rows(values: Sequence[Any], names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Line up the rows of x and y (and z) as their caller means them, before anything reads them.

    - **pandas objects** pair by index label, as pandas pairs them everywhere (arithmetic,
      ``concat``, assignment): when two of them hold the same labels, each once, in different
      orders (``df.sample(frac=1)`` against the unshuffled target), the rows are reordered to the
      first one's order, and a note says so. When their labels differ or repeat, neither label
      nor position is surely meant, so this refuses, saying how to pair them. Inputs that are
      not pandas pair by position.
    - **NumPy masked arrays**: a row with a masked value in any input is left out of every input
      (a note says how many); the masked values themselves are never read.

    Args:
        values: The inputs, in order (x, y[, z]).
        names: Their names in messages.

    Returns:
        The inputs, reordered or with rows left out where needed, and the notes.

    Raises:
        ValueError: For pandas inputs whose index labels differ or repeat.

    Example:
        >>> import pandas as pd
        >>> x = pd.Series([1.0, 2.0, 3.0], index=[2, 0, 1])
        >>> (x_, y_), notes = pair_rows([x, pd.Series([10.0, 20.0, 30.0])], ["x", "y"])
        >>> y_.tolist(), len(notes)
        ([30.0, 10.0, 20.0], 1)
    """
    values = [check_input(v, n) for v, n in zip(values, names, strict=True)]
    values, notes = _align_pandas(values, names)
    masks = [
        np.asarray(np.ma.getmaskarray(v).reshape(len(v), -1).any(1)) for v in values if isinstance(v, np.ma.MaskedArray)
    ]
    if not masks:
        return values, notes
    which = " and ".join(n for n, v in zip(names, values, strict=True) if isinstance(v, np.ma.MaskedArray))
    values = [np.asarray(v.data) if isinstance(v, np.ma.MaskedArray) else v for v in values]
    masked: np.ndarray | None = np.logical_or.reduce(masks) if len({len(m) for m in masks}) == 1 else None
    if masked is None or not masked.any() or any(len(v) != len(masked) for v in values):
        return values, notes  # nothing masked, or row counts that differ (refused later, by count)
    keep = ~masked
    return [_rows(v, keep) for v in values], [
        *notes,
        f"{int(masked.sum())} of {len(keep)} rows have masked values ({which}: numpy masked arrays); those rows "
        f"were left out of {', '.join(names)}, leaving {int(keep.sum())}",
    ]


def check_input(values: Any, name: str) -> Any:
    """Refuse, in their own words, inputs that no path of the estimator reads, and give torch
    tensors of a float type NumPy lacks (bfloat16, float8) as float32; anything else as it is.

    Raises:
        TypeError: For a scipy.sparse matrix or array (say how to make it dense).
        ValueError: For an input with no rows or no columns (an empty DataFrame).

    Example:
        >>> import numpy as np
        >>> check_input(np.zeros((0, 3)), "x")
        Traceback (most recent call last):
        ...
        ValueError: x is empty (shape (0, 3)); pass one row per sample and at least one column
    """
    module = type(values).__module__
    if module.startswith("scipy.sparse"):
        raise TypeError(
            f"{name} is a scipy.sparse {type(values).__name__} (shape {values.shape}, {values.nnz} stored values); "
            f"mibounds reads dense rows: pass {name}.toarray(), or a selection of its columns"
        )
    shape = getattr(values, "shape", None)
    if isinstance(shape, tuple) and len(shape) >= 1 and 0 in shape:
        kind = f"a {type(values).__name__} of " if is_pandas(values) else ""
        raise ValueError(f"{name} is empty ({kind}shape {shape}); pass one row per sample and at least one column")
    dtype = getattr(values, "dtype", None)
    if hasattr(values, "detach") and getattr(dtype, "is_floating_point", False):
        if str(dtype) not in ("torch.float16", "torch.float32", "torch.float64"):
            return values.float()
    return values


def _align_pandas(values: list[Any], names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Reorder pandas inputs to the first one's index labels (:func:`pair_rows`)."""
    frames = [(i, v) for i, v in enumerate(values) if is_pandas(v)]
    if len(frames) < 2 or all(v.index.equals(frames[0][1].index) for _, v in frames):
        return values, []
    first_at, first = frames[0]
    for i, other in frames[1:]:
        pair = f"{names[first_at]} and {names[i]}"
        fix = (
            f"pair the rows yourself: by label, e.g. {names[i]} = {names[i]}.loc[{names[first_at]}.index], or by "
            "position, with .to_numpy() on both"
        )
        for name, index in ((names[first_at], first.index), (names[i], other.index)):
            if not index.is_unique:
                raise ValueError(f"{pair} are pandas objects but {name}'s index repeats labels; {fix}")
        if len(other.index) != len(first.index) or not other.index.isin(first.index).all():
            only = other.index.difference(first.index)
            detail = f"label {only[0]!r} is in {names[i]} only" if len(only) else "they have different lengths"
            raise ValueError(f"{pair} are pandas objects whose indexes hold different labels ({detail}); {fix}")
        values[i] = other.loc[first.index]
    return values, [
        f"{' and '.join(names[i] for i, _ in frames)} are pandas objects with the same index labels in different "
        "orders: their rows were paired by label, as pandas pairs them (pass .to_numpy() to pair them by position)"
    ]


def _rows(values: Any, keep: np.ndarray) -> Any:
    """The rows of an input where ``keep`` is True, the input's type kept."""
    if is_pandas(values):
        return values.iloc[keep]
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        return values[np.flatnonzero(keep)]
    if isinstance(values, (list, tuple)):
        return [row for row, k in zip(values, keep, strict=True) if k]
    return np.asarray(values)[keep]


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
    max_bytes: int | None = None,
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
            ``"none"``, ``"auto"`` (a side whose columns hold text and no numbers: a column of
            numbers with a few other cells is an error naming them), ``"x"``, ``"y"`` or
            ``"both"`` (the estimator's ``discrete``). A side whose cells are all numbers is
            read as numbers. Parquet text and boolean columns are labels the same way.
        max_bytes: The most memory the reader may hold, in bytes (default: half of this
            machine's memory). A file whose rows would need more is refused as soon as that is
            known, before it is held: from a NumPy header or Parquet's metadata, from a CSV
            file's size and first rows, or as the rows are read.

    Returns:
        The arrays, checked for shape, numbers and finiteness.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError / TypeError: For an unsupported, empty, unreadable or too large file (or one
            that is not a regular file, such as a named pipe), unknown or non-numeric columns,
            and every problem :func:`check_pair` finds.
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
    _check_regular(path)
    x_tokens, y_tokens, z_tokens = parse_columns(x), parse_columns(y), parse_columns(z)
    budget = MemoryBudget.resolve(max_bytes)
    za, zc = None, list[str]()
    if fmt == "npz":
        xa, xc, ya, yc, z_side = load_npz(path, x_tokens, y_tokens, z_tokens, budget)
        if z_side is not None:
            za, zc = z_side
    else:
        reader = {"csv": read_csv, "tsv": read_csv, "npy": read_npy, "parquet": read_parquet}[fmt]
        columns, read = reader(path, "\t" if fmt == "tsv" else ",", budget)
        z_names = _resolve(columns, z_tokens, path.name) if z_tokens is not None else []
        x_names, y_names = _choose_columns(columns, x_tokens, y_tokens, path.name, taken=z_names)
        check_columns(read, budget, path.name, [*x_names, *y_names, *z_names])
        xa, ya = _read_side(read, x_names, "x", labels), _read_side(read, y_names, "y", labels)
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
        validation.check_finite_rows(za, "z", inputs="x, y and z")
    return LoadedData(xa, ya, list(xc), list(yc), str(path), za, list(zc))


def _check_regular(path: Path) -> None:
    """Refuse what is not a regular file (a named pipe reads as 0 bytes and cannot be read twice),
    and an empty file."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )
        raise ValueError(
            f"{path.name} is {kind}, not a file of data; save the data to a file first (e.g. cat > data.csv) and "
            "pass that"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{path.name} is empty; pass a file with one row per sample")


def _read_side(read: ColumnReader, names: list[str], side: str, labels: str) -> np.ndarray:
    """Numbers when every cell is one; else, where ``labels`` allows, the cells as text labels
    (under ``"auto"`` only a column without numbers: one that mixes them with other cells is an
    error naming those cells)."""
    try:
        return read(names)
    except TypeError:
        if labels not in ("auto", side, "both") or not hasattr(read, "text"):
            raise
        return read.text(names, side, labels == "auto")


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
    left = " left after z" if taken else ""
    columns = [c for c in columns if c not in set(taken)]
    if len(columns) < 2:
        shown = f" ({columns[0]})" if columns else ""
        raise ValueError(
            f"{file} has {len(columns)} column{'' if len(columns) == 1 else 's'}{left}{shown}, but x and y need "
            "a column each; pass a file with a column for each variable (MI is between two variables)"
        )
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
            raise unknown_column(token, columns, file)
    return list(dict.fromkeys(chosen))  # keep order, drop repeats
