"""Log-space reductions over a score matrix, shared by the bounds.

Every partition-function term of a bound is a log-mean-exp over some entries of the score matrix
``scores[i, j] = f(x_i, y_j)``; these helpers compute them stably and without Python loops.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

# Above this exponent, exp(t) is replaced by its tangent e^c (1 + t - c): the bound is then below
# -e^c and meaningless, but outputs and gradients stay finite instead of overflowing to -inf / NaN.
# exp is convex, so the tangent lies below it: the replaced value is *larger* than the exact one,
# but only in a regime where both are hugely negative. c is at most 50 (about -5e21), and at most
# half of log(largest number) of the dtype: e^c then leaves room for a slope (1 + t - c) of the
# same size, so the result stays finite for t up to about e^c (float16: c = 5.5, t up to ~250;
# float32: c = 44.4; float64: c = 50).
EXP_LINEARIZATION_THRESHOLD = 50.0


def exp_linearization_threshold(dtype: torch.dtype) -> float:
    """The exponent above which :func:`exp_linearized` follows the tangent, for ``dtype``."""
    return min(EXP_LINEARIZATION_THRESHOLD, 0.5 * math.log(torch.finfo(dtype).max))


@lru_cache(maxsize=64)
def _eye(k: int, device: torch.device) -> Tensor:
    return torch.eye(k, dtype=torch.bool, device=device)


def diagonal_mask(k: int, device: torch.device | str = "cpu") -> Tensor:
    """Boolean ``[K, K]`` mask, True on the diagonal (cached per size and device; do not modify)."""
    return _eye(k, torch.device(device))


def softplus(t: Tensor) -> Tensor:
    """``log(1 + e^t)``, exact to the dtype's precision.

    torch's ``softplus`` returns ``t`` itself above ``threshold=20``, which drops ``e^-t`` (2e-9 at
    20): below float32's resolution but not float64's, where the value and the gradient
    (``sigmoid(t)``, taken as exactly 1) are then off by up to 2e-9. The threshold here is where
    ``e^-t`` falls below the dtype's epsilon (37 for float64, 20 for float32 and below).
    """
    threshold = max(20.0, math.ceil(-math.log(torch.finfo(t.dtype).eps)) + 1.0) if t.is_floating_point() else 20.0
    return torch.nn.functional.softplus(t, threshold=threshold)


def exp_linearized(t: Tensor, threshold: float | None = None) -> Tensor:
    """``exp(t)`` below ``threshold``, continued by its tangent line above it (C^1, finite).

    ``threshold`` defaults to :func:`exp_linearization_threshold` of ``t``'s dtype.
    """
    if threshold is None:
        threshold = exp_linearization_threshold(t.dtype)
    capped = t.clamp(max=threshold)
    return torch.exp(capped) * (1.0 + (t - capped))


def logmeanexp_offdiagonal(scores: Tensor) -> Tensor:
    """``log mean_{i != j} exp(scores[i, j])``: the log partition term over the K(K-1) negatives.

    Args:
        scores: ``[K, K]``.

    Returns:
        0-d tensor.
    """
    k = scores.shape[0]
    masked = scores.masked_fill(diagonal_mask(k, scores.device), -math.inf)
    return torch.logsumexp(masked.reshape(-1), dim=0) - math.log(k * (k - 1))


def mean_offdiagonal(values: Tensor) -> Tensor:
    """Mean of the K(K-1) off-diagonal entries of a ``[K, K]`` matrix (of each of a ``[..., K, K]`` stack)."""
    k = values.shape[-1]
    masked = values.masked_fill(diagonal_mask(k, values.device), 0.0)
    return (masked.sum() if values.dim() == 2 else masked.sum((-2, -1))) / (k * (k - 1))


def logmeanexp_columns_offdiagonal(scores: Tensor) -> Tensor:
    """Per column j, ``log mean_{i != j} exp(scores[i, j])``, shape ``[K]``."""
    k = scores.shape[0]
    masked = scores.masked_fill(diagonal_mask(k, scores.device), -math.inf)
    return torch.logsumexp(masked, dim=0) - math.log(k - 1)


def leave_one_out_logmeanexp(scores: Tensor) -> Tensor:
    """Leave-one-out log-mean-exp down each column.

    ``out[k, j] = log( 1/(K-1) * sum_{i != k} exp(scores[i, j]) )``: for the sample y_j, the
    log of the batch mixture m(y_j; x_{-k}) of the critic over every x but x_k.

    Removing a term from a log-sum-exp, ``log(e^L - e^s) = L + log1p(-e^(s-L))``, is
    well conditioned unless ``s`` is the column's largest entry (then ``e^(s-L)`` can be ~1 and
    the difference cancels). So that one entry per column is recomputed directly with the max
    masked out; every other removed entry has ``e^(s-L) <= 1/2``.

    Args:
        scores: ``[K, K]`` with ``K >= 2``.

    Returns:
        ``[K, K]`` tensor.
    """
    k = scores.shape[0]
    total = torch.logsumexp(scores, dim=0, keepdim=True)  # [1, K]
    is_max = torch.zeros_like(scores, dtype=torch.bool)
    is_max.scatter_(0, scores.argmax(dim=0, keepdim=True), True)
    # Zero the column maxima before log1p so the unused branch of `where` has no -inf/NaN gradient.
    share = torch.exp(scores - total).masked_fill(is_max, 0.0)
    removed_small = total + torch.log1p(-share)
    removed_max = torch.logsumexp(scores.masked_fill(is_max, -math.inf), dim=0, keepdim=True)
    return torch.where(is_max, removed_max, removed_small) - math.log(k - 1)
