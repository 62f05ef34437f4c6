"""Input checks of tensors: score matrices, baselines, temperatures, and the non-finite warning.

Example:
    >>> import torch
    >>> from mibounds.validation.tensors import check_scores
    >>> check_scores(torch.zeros(3, 3)).shape
    torch.Size([3, 3])
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor

from mibounds.validation.values import NonFiniteScoresWarning, check_positive

__all__ = ["check_log_baseline", "check_scores", "check_temperature", "finite_scan_skipped", "warn_if_not_finite"]


_SKIP_FINITE_SCAN: contextvars.ContextVar[bool] = contextvars.ContextVar("skip_finite_scan", default=False)


@contextlib.contextmanager
def finite_scan_skipped() -> Iterator[None]:
    """Within the block, :func:`warn_if_not_finite` does nothing.

    For training loops that watch the finiteness of their values themselves (every few steps):
    the scan reads one number on the host per bound call, which on a GPU stalls every step.

    Example:
        >>> import torch
        >>> with finite_scan_skipped():
        ...     warn_if_not_finite(torch.tensor([float("nan")]), "scores")  # no warning
    """
    token = _SKIP_FINITE_SCAN.set(True)
    try:
        yield
    finally:
        _SKIP_FINITE_SCAN.reset(token)


def warn_if_not_finite(values: Tensor, name: str) -> None:
    """Warn (:class:`NonFiniteScoresWarning`) if ``values`` hold NaN or ±inf, counting them.

    One reduction, read on the host: on a GPU this waits for the values to be computed. Under
    ``torch.vmap`` the values cannot be read on the host, and are not checked; nor are they inside
    :func:`finite_scan_skipped`.
    """
    if _SKIP_FINITE_SCAN.get():
        return
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


def check_scores(scores: Tensor, name: str = "scores", stacked: bool = False) -> Tensor:
    """Check that ``scores`` is a square floating-point ``[K, K]`` matrix with ``K >= 2``
    (with ``stacked``, a stack ``[..., K, K]`` of such matrices).

    NaN or infinite entries give a :class:`NonFiniteScoresWarning` (see :func:`warn_if_not_finite`).

    Args:
        scores: The matrix to check, ``scores[i, j] = f(x_i, y_j)``.
        name: How to call it in the message.
        stacked: Accept leading dimensions (independent score matrices).

    Returns:
        ``scores`` unchanged.

    Raises:
        TypeError: If it is not a floating-point tensor.
        ValueError: If it is not square ``[K, K]`` (``[..., K, K]``) with ``K >= 2``.
    """
    if not isinstance(scores, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(scores).__name__}")
    if not torch.is_floating_point(scores):
        raise TypeError(f"{name} must be floating point, got dtype {scores.dtype}; call .float()")
    if not (scores.dim() == 2 or (stacked and scores.dim() > 2)) or scores.shape[-2] != scores.shape[-1]:
        shape = "[..., K, K] stack of matrices" if stacked else "[K, K] matrix"
        raise ValueError(
            f"{name} must be a square {shape} with scores[i, j] = f(x_i, y_j), got shape {tuple(scores.shape)}"
        )
    if scores.shape[-1] < 2:
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


def check_temperature(temperature: float | Tensor) -> float | Tensor:
    """Check a critic temperature: a positive number, or a positive one-element tensor (learnable).

    Args:
        temperature: The temperature.

    Returns:
        The number as a ``float``, or the tensor reshaped to 0-d (gradients still flow to it).

    Raises:
        ValueError: If it is not positive, or a tensor with more than one element.
    """
    if isinstance(temperature, Tensor):
        if temperature.numel() != 1 or not bool((temperature.detach() > 0).all()):
            raise ValueError(f"temperature must be a positive scalar, got {temperature}")
        return temperature.reshape(())
    return check_positive(temperature, "temperature")
