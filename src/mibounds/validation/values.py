"""Input checks that need no torch: names, integers, scalars, sample arrays, the warning classes.

Every message names what is wrong, with the offending values, and how to fix it, e.g.
"x has 1000 rows but y has 999; pass arrays with one row per sample". User input is checked
with ``raise``, never ``assert``. This module imports nothing from the package and not torch, so
the command line and worker processes can use it cheaply.

Example:
    >>> import numpy as np
    >>> from mibounds.validation.values import check_int
    >>> check_int(np.int64(20), "steps", minimum=1)
    20
    >>> check_int(0, "steps", minimum=1)
    Traceback (most recent call last):
        ...
    ValueError: steps must be an integer >= 1, got 0
"""

from __future__ import annotations

import difflib
import itertools
import operator
import os
from collections.abc import Iterable

import numpy as np

__all__ = [
    "MAX_SEED",
    "MIBoundsWarning",
    "NonFiniteScoresWarning",
    "NotAnIntegerError",
    "check_allocation",
    "check_finite_rows",
    "check_int",
    "check_matrix",
    "check_positive",
    "check_probability",
    "check_same_rows",
    "constant_columns",
    "available_memory",
    "physical_memory",
    "unknown_name_error",
]


class MIBoundsWarning(UserWarning):
    """Base class of the warnings this package emits about untrustworthy estimates."""


class NonFiniteScoresWarning(MIBoundsWarning):
    """A bound was given NaN or infinite scores, so its value is NaN or infinite.

    A warning rather than an error: a training loop whose critic diverged gets the NaN back and
    can stop on it (as :func:`mibounds.estimate` does), but it is never silent.
    """


class NotAnIntegerError(TypeError, ValueError):
    """A value that should be an integer is not one (a float, a bool, a string...).

    Both a ``TypeError`` and a ``ValueError``, so that code catching either (as the command line
    and older callers do) catches it.
    """


#: The largest seed taken: torch seeds its generators with 64-bit integers, and derived seeds
#: (a seed plus an offset) must stay in range.
MAX_SEED = 2**63 - 1


def check_int(
    value: object,
    name: str,
    *,
    minimum: int,
    kind: str = "an integer",
    why: str = "",
    hint: str = "",
    maximum: int | None = None,
) -> int:
    """Check that ``value`` is an integer at least ``minimum`` and return it as an ``int``.

    Integers are what :func:`operator.index` accepts (``int``, ``np.int64``, a 0-d integer
    tensor...), except ``bool``.

    Args:
        value: The value to check.
        name: How to call it in the message.
        minimum: The smallest value allowed.
        kind: The noun of the message (e.g. ``"a whole number"``).
        why: Said in parentheses after the minimum (e.g. ``"the bounds need negatives"``).
        hint: Said after the value, e.g. how to fix it.
        maximum: The largest value allowed (None: no limit).

    Returns:
        ``value`` as an ``int``.

    Raises:
        NotAnIntegerError: If it is not an integer (a ``TypeError`` and a ``ValueError``).
        ValueError: If it is below ``minimum`` or above ``maximum``.
    """
    try:
        number = None if isinstance(value, bool) else operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = None
    if number is None or number < minimum:
        error = NotAnIntegerError if number is None else ValueError
        shown = repr(value) if number is None else str(number)
        raise error(
            f"{name} must be {kind} >= {minimum}"
            + (f" ({why})" if why else "")
            + f", got {shown}"
            + (f"; {hint}" if hint else "")
        )
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be {kind} from {minimum} to {maximum}, got {number}")
    return number


def unknown_name_error(kind: str, name: str, valid: Iterable[str]) -> ValueError:
    """A ``ValueError`` for an unknown registry name, listing the valid ones and the closest.

    Args:
        kind: What the name names, e.g. ``"bound"`` or ``"critic"``.
        name: The name that was asked for.
        valid: The names that exist.

    Returns:
        The error to raise.
    """
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid)}.")


def check_probability(value: float, name: str, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """Check that ``value`` lies in [0, 1] (endpoints as allowed) and return it as a float."""
    value = float(value)
    low_ok = value > 0 or (allow_zero and value == 0)
    high_ok = value < 1 or (allow_one and value == 1)
    if not (low_ok and high_ok):
        lo = "[" if allow_zero else "("
        hi = "]" if allow_one else ")"
        raise ValueError(f"{name} must lie in {lo}0, 1{hi}, got {value}")
    return value


def check_positive(value: float, name: str) -> float:
    """Check that ``value`` is a finite number > 0 and return it as a float."""
    value = float(value)
    if not (value > 0 and value != float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


# --- Array checks for data given to the estimators (numpy arrays, one row per sample). ---


def _row_list(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (", ..." if len(rows) > limit else "")


def check_matrix(values: np.ndarray, name: str) -> np.ndarray:
    """Check a numeric array of samples and return it as a 2-d ``[n, d]`` float array.

    A 1-d array is one feature (a column). Arrays with more than 2 dimensions, empty arrays and
    arrays of non-numbers are refused.

    Args:
        values: A numpy array, one row per sample.
        name: How to call it in the message (``"x"``, ``"y"``).

    Returns:
        ``values`` as ``float64`` with shape ``[n, d]`` (a view where possible).

    Raises:
        TypeError: If the values are None or not numbers.
        ValueError: If it is a ragged nested list, has more than 2 dimensions, or has no rows or
            no columns.
    """
    if values is None:
        raise TypeError(f"{name} is None; pass an array with one row per sample")
    try:
        values = np.asarray(values)
    except ValueError:  # numpy's words for a ragged list ("inhomogeneous shape") name no row
        problem = _ragged_rows(values)
        if problem is None:
            raise
        raise ValueError(f"{name} is a ragged nested list: {problem}") from None
    if values.dtype.kind not in "biuf":
        try:
            if values.dtype.kind == "c":
                raise TypeError("complex")
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} holds non-numeric values (dtype {values.dtype}); pass numbers "
                "(encode categories as numbers or drop those columns)"
            ) from None
    if values.ndim == 0:
        raise ValueError(f"{name} is a single number; pass an array with one row per sample")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim > 2:
        raise ValueError(
            f"{name} has {values.ndim} dimensions (shape {values.shape}); pass a 2-d array "
            f"[samples, features], e.g. {name}.reshape(len({name}), -1) to flatten each sample"
        )
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {values.shape}); pass at least one row and one column")
    return values.astype(np.float64, copy=False)


def _ragged_rows(values: object) -> str | None:
    """What makes a nested list ragged (the first offending row), or None if it is not one."""
    if not isinstance(values, (list, tuple)):
        return None
    lengths: list[tuple[int, int | None]] = []
    for i, row in enumerate(values):
        if isinstance(row, (list, tuple)):
            if any(isinstance(item, (list, tuple)) for item in row):
                return f"row {i} holds a list where numbers belong; give every row the same number of values"
            lengths.append((i, len(row)))
        else:
            lengths.append((i, None))
    for (i, length), (j, other) in itertools.pairwise(lengths):
        if length != other:
            return (
                f"row {i} has {_values(length)} but row {j} has {_values(other)}; give every row the same "
                "number of values"
            )
    return None


def _values(count: int | None) -> str:
    return "a single value" if count is None else f"{count} value{'' if count == 1 else 's'}"


def check_finite_rows(values: np.ndarray, name: str, inputs: str = "both x and y") -> np.ndarray:
    """Raise if a ``[n, d]`` array holds NaN or inf, naming the rows (0-based) that do.

    Args:
        values: The array.
        name: Its name in the message (``"x"``, ``"z"``).
        inputs: The inputs whose rows the fix drops together (``"x, y and z"``).

    Raises:
        ValueError: "x has NaN or inf in 2 rows (rows 3, 17); drop or impute those rows".
    """
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        plural = "row" if len(rows) == 1 else "rows"
        raise ValueError(
            f"{name} has NaN or inf values in {len(rows)} {plural} (0-based: {_row_list(rows)}); "
            f"drop or impute those rows in {inputs}"
        )
    return values


def check_same_rows(x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("x", "y")) -> int:
    """Raise unless ``x`` and ``y`` have the same number of rows; return that number."""
    if len(x) != len(y):
        raise ValueError(
            f"{names[0]} has {len(x)} rows but {names[1]} has {len(y)}; pass arrays with one row "
            f"per sample (row i of {names[0]} paired with row i of {names[1]})"
        )
    return len(x)


def physical_memory() -> int | None:
    """Bytes of memory of this machine, or None where the system does not say (then no check
    that needs it refuses anything)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def available_memory() -> int | None:
    """Bytes of memory this process can still take without swapping (Linux's ``MemAvailable``),
    else this machine's memory (:func:`physical_memory`), or None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return physical_memory()


def check_allocation(nbytes: float, what: str, fix: str) -> None:
    """Refuse, before allocating it, memory that this machine does not have.

    Args:
        nbytes: The bytes the allocation needs.
        what: What needs them, e.g. ``"sampling 10^9 pairs of 40 float64 values"``.
        fix: How to ask for less.

    Raises:
        ValueError: "sampling ... needs 298.0 GiB, more than this machine's 125.0 GiB of memory; ...".

    Example:
        >>> check_allocation(1024, "a small array", "ask for less")  # fits: nothing happens
    """
    memory = physical_memory()
    if memory is not None and nbytes > memory:
        raise ValueError(f"{what} needs {_gib(nbytes)}, more than this machine's {_gib(memory)} of memory; {fix}")


def _gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB"


def constant_columns(values: np.ndarray) -> list[int]:
    """Indices of the columns of a ``[n, d]`` array whose values are all equal."""
    return [int(j) for j in np.flatnonzero((values == values[:1]).all(axis=0))]
