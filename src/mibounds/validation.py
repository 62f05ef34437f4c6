"""Input checks shared by every layer, with one message style.

Every message names what is wrong, with the offending values, and how to fix it, e.g.
"x has 1000 rows but y has 999; pass arrays with one row per sample". User input is checked
with ``raise``, never ``assert``. This module imports nothing else from the package.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable

import torch
from torch import Tensor


class MIBoundsWarning(UserWarning):
    """Base class of the warnings this package emits about untrustworthy estimates."""


class NonFiniteScoresWarning(MIBoundsWarning):
    """A bound was given NaN or infinite scores, so its value is NaN or infinite.

    A warning rather than an error: a training loop whose critic diverged gets the NaN back and
    can stop on it (as :func:`mibounds.estimate` does), but it is never silent.
    """


def warn_if_not_finite(values: Tensor, name: str) -> None:
    """Warn (:class:`NonFiniteScoresWarning`) if ``values`` hold NaN or ±inf, counting them.

    One reduction, read on the host: on a GPU this waits for the values to be computed. Under
    ``torch.vmap`` the values cannot be read on the host, and are not checked.
    """
    try:
        bad = int((~torch.isfinite(values.detach())).sum())
    except RuntimeError:  # a batched tensor of torch.vmap (e.g. the bias-variance experiment)
        return
    if bad:
        warnings.warn(
            f"{name} hold {bad} NaN or infinite entries (of {values.numel()}), so the bound is NaN or infinite: "
            "check the critic's inputs for NaN/inf, and lower the learning rate if training diverged",
            NonFiniteScoresWarning,
            stacklevel=3,
        )


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


def check_scores(scores: Tensor, name: str = "scores") -> Tensor:
    """Check that ``scores`` is a square floating-point ``[K, K]`` matrix with ``K >= 2``.

    NaN or infinite entries give a :class:`NonFiniteScoresWarning` (see :func:`warn_if_not_finite`).

    Args:
        scores: The matrix to check, ``scores[i, j] = f(x_i, y_j)``.
        name: How to call it in the message.

    Returns:
        ``scores`` unchanged.

    Raises:
        TypeError: If it is not a floating-point tensor.
        ValueError: If it is not square ``[K, K]`` with ``K >= 2``.
    """
    if not isinstance(scores, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(scores).__name__}")
    if not torch.is_floating_point(scores):
        raise TypeError(f"{name} must be floating point, got dtype {scores.dtype}; call .float()")
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(
            f"{name} must be a square [K, K] matrix with scores[i, j] = f(x_i, y_j), "
            f"got shape {tuple(scores.shape)}"
        )
    if scores.shape[0] < 2:
        raise ValueError(
            f"{name} is {tuple(scores.shape)}: a bound needs a batch of at least K = 2 pairs "
            "(the off-diagonal entries are the negative samples)"
        )
    warn_if_not_finite(scores, name)
    return scores


def check_log_baseline(log_baseline: Tensor | float, k: int, name: str = "log_baseline") -> Tensor:
    """Check a baseline ``log a(y)``: a scalar or a vector ``[K]`` indexed by the column j.

    Args:
        log_baseline: Scalar or ``[K]`` tensor (or a Python float).
        k: The batch size K.
        name: How to call it in the message.

    Returns:
        The baseline as a tensor of shape ``[]`` or ``[K]``.

    Raises:
        ValueError: If its shape is neither ``[]`` nor ``[K]``.
    """
    if not isinstance(log_baseline, Tensor):
        log_baseline = torch.as_tensor(float(log_baseline))
    if log_baseline.dim() == 0 or tuple(log_baseline.shape) == (k,):
        warn_if_not_finite(log_baseline, name)
        return log_baseline
    if tuple(log_baseline.shape) in {(k, 1), (1, k)}:
        warn_if_not_finite(log_baseline, name)
        return log_baseline.reshape(k)
    raise ValueError(
        f"{name} must be a scalar or a vector [K] = [{k}] indexed by the column (the y sample), "
        f"got shape {tuple(log_baseline.shape)}"
    )


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

import numpy as np  # noqa: E402  (numpy is a core dependency; these helpers came later)


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
        raise ValueError(
            f"{name} is empty (shape {values.shape}); pass at least one row and one column"
        )
    return values.astype(np.float64, copy=False)


def _ragged_rows(values: object) -> str | None:
    """What makes a nested list ragged (the first offending row), or None if it is not one."""
    if not isinstance(values, (list, tuple)):
        return None
    lengths = []
    for i, row in enumerate(values):
        if isinstance(row, (list, tuple)):
            if any(isinstance(item, (list, tuple)) for item in row):
                return f"row {i} holds a list where numbers belong; give every row the same number of values"
            lengths.append((i, len(row)))
        else:
            lengths.append((i, None))
    for (i, length), (j, other) in zip(lengths, lengths[1:]):
        if length != other:
            return (f"row {i} has {_values(length)} but row {j} has {_values(other)}; give every row the same "
                    "number of values")
    return None


def _values(count: int | None) -> str:
    return "a single value" if count is None else f"{count} value{'' if count == 1 else 's'}"


def check_finite_rows(values: np.ndarray, name: str) -> np.ndarray:
    """Raise if a ``[n, d]`` array holds NaN or inf, naming the rows (0-based) that do.

    Raises:
        ValueError: "x has NaN or inf in 2 rows (rows 3, 17); drop or impute those rows".
    """
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        plural = "row" if len(rows) == 1 else "rows"
        raise ValueError(
            f"{name} has NaN or inf values in {len(rows)} {plural} (0-based: {_row_list(rows)}); "
            "drop or impute those rows in both x and y"
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


def constant_columns(values: np.ndarray) -> list[int]:
    """Indices of the columns of a ``[n, d]`` array whose values are all equal."""
    return [int(j) for j in np.flatnonzero((values == values[:1]).all(axis=0))]
