"""Input checks shared by every layer, with one message style.

Every message names what is wrong, with the offending values, and how to fix it, e.g.
"x has 1000 rows but y has 999; pass arrays with one row per sample". User input is checked
with ``raise``, never ``assert``. This module imports nothing else from the package.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import torch
from torch import Tensor


class MIBoundsWarning(UserWarning):
    """Base class of the warnings this package emits about untrustworthy estimates."""


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
        return log_baseline
    if tuple(log_baseline.shape) in {(k, 1), (1, k)}:
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
