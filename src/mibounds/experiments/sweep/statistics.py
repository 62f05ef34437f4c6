"""How far repeated estimates are from the truth: one summary for every experiment.

The staircase (per stage), the bias–variance sweeps (per point), the sweep report (per setting)
and the accuracy suite (per task) all describe a set of estimates of a known MI the same way, with
:func:`summarize_errors`:

- ``count``: finite estimates (non-finite ones are left out of every moment and counted apart);
- ``mean``: their mean; ``truth``: the mean true MI; ``bias`` = mean - truth;
- ``variance``: sample variance (ddof = 1); ``std``: its square root; ``stderr``: the standard
  error of the mean, ``sqrt(variance / count)``;
- ``mse``: mean of (estimate - truth)², which is bias² + variance·(count - 1)/count;
  ``rmse``: its square root; ``mae``: mean |estimate - truth|.

Undefined values (no finite estimate, one estimate for a variance, no truth) are NaN.

Example:
    >>> from mibounds.experiments.sweep.statistics import summarize_errors
    >>> summary = summarize_errors([1.0, 2.0, 3.0, float("inf")], truth=2.0)
    >>> summary.count, summary.nonfinite, summary.bias, summary.variance
    (3, 1, 0.0, 1.0)
    >>> round(summary.mse, 4), round(summary.stderr, 4)
    (0.6667, 0.5774)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["ErrorSummary", "summarize_errors"]

_NAN = float("nan")


@dataclass(frozen=True)
class ErrorSummary:
    """Bias, spread and error of a set of estimates (see the module docstring for each field)."""

    count: int
    nonfinite: int
    mean: float
    truth: float
    bias: float
    variance: float
    std: float
    stderr: float
    mse: float
    rmse: float
    mae: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return asdict(self)


def summarize_errors(
    estimates: Sequence[float] | np.ndarray, truth: float | Sequence[float] | np.ndarray | None = None
) -> ErrorSummary:
    """Summarize estimates of a true MI (nats): mean, bias, variance, standard error, MSE.

    Args:
        estimates: The estimates ``[n]``; NaN and inf are counted in ``nonfinite`` and left out.
        truth: The true MI: one number, one per estimate (paired, e.g. a sweep's cells), or None
            (unknown: bias and errors are NaN).

    Returns:
        An :class:`ErrorSummary`, computed in float64.
    """
    values = np.asarray(estimates, dtype=np.float64).reshape(-1)
    finite = np.isfinite(values)
    x = values[finite]
    n = int(x.size)
    mean = float(x.mean()) if n else _NAN
    variance = float(x.var(ddof=1)) if n > 1 else _NAN
    if truth is None:
        target = np.full(n, _NAN)
    else:
        target = np.broadcast_to(np.asarray(truth, dtype=np.float64), values.shape)[finite]
    errors = x - target
    if truth is None:
        truth_mean = _NAN
    elif np.ndim(truth) == 0:
        truth_mean = float(np.asarray(truth))  # exactly the number given
    else:
        truth_mean = float(target.mean()) if n else _NAN
    mse = float(np.mean(errors**2)) if n else _NAN
    return ErrorSummary(
        count=n,
        nonfinite=int(values.size - n),
        mean=mean,
        truth=truth_mean,
        bias=mean - truth_mean,
        variance=variance,
        std=math.sqrt(variance) if n > 1 else _NAN,
        stderr=math.sqrt(variance / n) if n > 1 else _NAN,
        mse=mse,
        rmse=math.sqrt(mse) if n else _NAN,
        mae=float(np.mean(np.abs(errors))) if n else _NAN,
    )
