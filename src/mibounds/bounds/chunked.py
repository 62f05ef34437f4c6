r"""Bounds of separable and bilinear critics from the embeddings, at any K in O(K·d) memory.

A separable critic scores :math:`f(x_i, y_j) = g(x_i)^\top h(y_j) / \tau` (a bilinear one is the
same with :math:`g(x) = x^\top W`), so the ``[K, K]`` score matrix
:math:`S = g h^\top / \tau` is a product of two ``[K, d]`` embeddings. These functions take the
embeddings and compute the same bounds as :mod:`mibounds.bounds.lower` on ``S`` (same values,
same gradients, equal to float rounding) without ever holding ``S``: it is built one block of rows
at a time, reduced with streaming log-sum-exps, and the gradient is formed block by block in a
custom ``torch.autograd.Function``. Peak memory is O(K·d + block·K) instead of O(K²): K = 65,536
with d = 128 fits in well under 2 GiB.

Cost: one direction of InfoNCE, JS and SMILE take the three matmuls of the materialized path
(scores, and the two gradient products); symmetric InfoNCE, DV and NWJ take a fourth (a statistics
pass, because their gradient needs a statistic over every row first).

All values are in nats. ``g`` holds the x side (the side InfoNCE partitions over), ``h`` the y side.

Example:
    >>> import torch
    >>> from mibounds import bounds
    >>> g, h = torch.randn(256, 16), torch.randn(256, 16)
    >>> chunked = bounds.infonce_embeddings(g, h, temperature=0.5, block_size=64)
    >>> torch.allclose(chunked, bounds.infonce(g @ h.T / 0.5), atol=1e-5)
    True
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from mibounds.bounds._blocked import PartitionSpec, block_rows, partition_terms
from mibounds.bounds._reductions import exp_linearized, softplus
from mibounds.bounds.lower import value_with_gradient_of
from mibounds.validation import check_int, check_positive
from mibounds.validation.tensors import check_temperature

__all__ = [
    "AllPairs",
    "all_pairs_embeddings",
    "dv_embeddings",
    "infonce_embeddings",
    "infonce_partition",
    "js_embeddings",
    "nwj_embeddings",
    "smile_embeddings",
]


def _check(
    g: Tensor, h: Tensor, temperature: float | Tensor, block_size: int | None, min_rows: int = 1
) -> tuple[Tensor, Tensor]:
    """Validate; return ``a = g / tau`` (so ``S = a hᵀ``) and the positives ``S_jj`` ``[K]``."""
    for name, t in (("g", g), ("h", h)):
        if not isinstance(t, Tensor) or not torch.is_floating_point(t) or t.dim() != 2:
            raise ValueError(
                f"{name} must be a floating-point [K, d] tensor of embeddings, got "
                f"{type(t).__name__} {tuple(t.shape) if isinstance(t, Tensor) else ''}"
            )
    if g.shape != h.shape:
        raise ValueError(
            f"g has shape {tuple(g.shape)} but h has {tuple(h.shape)}; pass paired embeddings "
            "[K, d], row i of g paired with row i of h"
        )
    if g.shape[0] < min_rows:
        raise ValueError(f"this bound needs at least {min_rows} pairs, got {g.shape[0]}")
    if block_size is not None:
        check_int(block_size, "block_size", minimum=1, hint="or None for about a million entries per block")
    temperature = check_temperature(temperature)
    a = g / (temperature.to(g) if isinstance(temperature, Tensor) else temperature)
    return a, (a * h).sum(dim=1)


def infonce_embeddings(
    g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, symmetric: bool = False, block_size: int | None = None
) -> Tensor:
    r""":func:`~mibounds.bounds.infonce` on :math:`S = g h^\top/\tau`, computed in row blocks.

    .. math::
        I_\mathrm{NCE} = \log K + \frac1K\sum_j \left(S_{jj} - \log\sum_i e^{S_{ij}}\right) \le \log K

    (``symmetric=True`` averages it with the direction that classifies each x among the y).

    Args:
        g: ``[K, d]`` x embeddings.
        h: ``[K, d]`` y embeddings, row i paired with row i of ``g``.
        temperature: :math:`\tau > 0`, a float or a 0-d tensor (it then gets a gradient).
        symmetric: Average both classification directions.
        block_size: Rows of S per block (default: about a million entries per block).

    Returns:
        0-d tensor, the bound in nats (value and gradient as :func:`~mibounds.bounds.infonce`).

    Example:
        >>> import torch
        >>> abs(float(infonce_embeddings(torch.zeros(8, 3), torch.zeros(8, 3)))) < 1e-6
        True
    """
    a, positives = _check(g, h, temperature, block_size)
    return math.log(g.shape[0]) + positives.mean() - infonce_partition(a, h, symmetric=symmetric, block_size=block_size)


def infonce_partition(a: Tensor, h: Tensor, *, symmetric: bool = False, block_size: int | None = None) -> Tensor:
    r"""InfoNCE's partition term of :math:`S = a h^\top`, in row blocks, with its gradient.

    .. math::
        \frac1M\sum_{j=1}^{M} \log\sum_{i=1}^{N} e^{S_{ij}}

    That is, for each y (a row of ``h``), a log-sum-exp over the x candidates (the rows of ``a``):
    the partition over x per y. ``a`` may hold more rows than ``h``: extra negatives such as other
    processes' samples or a queue (:class:`mibounds.representation.InfoNCELoss` uses that). With
    ``symmetric=True`` (square ``S``) it is averaged with the other direction,
    :math:`\frac1N\sum_i \log\sum_j e^{S_{ij}}`, sharing the blocks. InfoNCE is then
    ``log N + mean_j S_jj`` minus this term.

    Args:
        a: ``[N, d]`` x embeddings, already divided by the temperature.
        h: ``[M, d]`` y embeddings.
        symmetric: Average both directions (needs ``N = M``).
        block_size: Rows of S per block (default: about a million entries per block).

    Returns:
        0-d tensor (nats); differentiable in ``a`` and ``h``.

    Example:
        >>> import torch
        >>> a, h = torch.randn(6, 3), torch.randn(4, 3)
        >>> torch.allclose(infonce_partition(a, h), torch.logsumexp(a @ h.T, dim=0).mean())
        True
    """
    for name, t in (("a", a), ("h", h)):
        if not isinstance(t, Tensor) or not torch.is_floating_point(t) or t.dim() != 2:
            raise ValueError(
                f"{name} must be a floating-point [rows, d] tensor of embeddings, got "
                f"{type(t).__name__} {tuple(t.shape) if isinstance(t, Tensor) else ''}"
            )
    if a.shape[1] != h.shape[1]:
        raise ValueError(f"a has {a.shape[1]} columns but h has {h.shape[1]}; pass embeddings of the same width")
    if symmetric and a.shape[0] != h.shape[0]:
        raise ValueError(
            f"symmetric=True needs as many rows in a as in h, got {a.shape[0]} and {h.shape[0]}; "
            "pass symmetric=False for extra negatives"
        )
    if block_size is not None:
        check_int(block_size, "block_size", minimum=1, hint="or None for about a million entries per block")
    m = h.shape[0]
    if symmetric:
        partition, _ = partition_terms(a, h, PartitionSpec(row_lse=0.5 / m, col_lse=0.5 / m), block_size)
    else:
        # Column log-sum-exps of S are the row ones of Sᵀ = h aᵀ: no statistics pass needed.
        partition, _ = partition_terms(h, a, PartitionSpec(row_lse=1.0 / m), block_size)
    return partition


def dv_embeddings(g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, block_size: int | None = None) -> Tensor:
    r""":func:`~mibounds.bounds.dv` on :math:`S = g h^\top/\tau`, computed in row blocks.

    .. math::
        I_\mathrm{DV} = \frac1K\sum_i S_{ii} - \log\frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij}}

    Args:
        g: ``[K, d]`` x embeddings, ``K >= 2``.
        h: ``[K, d]`` y embeddings.
        temperature: :math:`\tau > 0`.
        block_size: Rows of S per block.

    Returns:
        0-d tensor, the bound in nats.

    Example:
        >>> import torch
        >>> float(dv_embeddings(torch.ones(4, 2), torch.ones(4, 2)))
        0.0
    """
    a, positives = _check(g, h, temperature, block_size, min_rows=2)
    k = g.shape[0]
    log_sum, _ = partition_terms(a, h, PartitionSpec(off_lse=1.0), block_size)
    return positives.mean() - (log_sum - math.log(k * (k - 1)))


def nwj_embeddings(g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, block_size: int | None = None) -> Tensor:
    r""":func:`~mibounds.bounds.nwj` on :math:`S = g h^\top/\tau`, computed in row blocks.

    .. math::
        I_\mathrm{NWJ} = \frac1K\sum_i S_{ii} - \frac{1}{e\,K(K-1)}\sum_{i\ne j} e^{S_{ij}}

    Args:
        g: ``[K, d]`` x embeddings, ``K >= 2``.
        h: ``[K, d]`` y embeddings.
        temperature: :math:`\tau > 0`.
        block_size: Rows of S per block.

    Returns:
        0-d tensor, the bound in nats.

    Example:
        >>> import torch
        >>> round(float(nwj_embeddings(torch.zeros(4, 2), torch.zeros(4, 2))), 4)  # -1/e
        -0.3679
    """
    a, positives = _check(g, h, temperature, block_size, min_rows=2)
    k = g.shape[0]
    log_sum, _ = partition_terms(a, h, PartitionSpec(off_lse=1.0), block_size)
    # tuba with log a = 1, as bounds.nwj: 1 + mean(S_ii - 1) - exp(lme_off(S - 1)).
    return 1.0 + (positives - 1.0).mean() - exp_linearized(log_sum - math.log(k * (k - 1)) - 1.0)


def _js_objective(positives: Tensor, softplus_sum: Tensor, k: int) -> Tensor:
    """The f-GAN JS objective: ``mean(-softplus(-S_ii)) - mean_off softplus(S_ij)``."""
    return -softplus(-positives).mean() - softplus_sum / (k * (k - 1))


def js_embeddings(g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, block_size: int | None = None) -> Tensor:
    r""":func:`~mibounds.bounds.js` on :math:`S = g h^\top/\tau`: the JS gradient, the NWJ value on ``S + 1``.

    .. math::
        \mathrm{value} = 1 + \frac1K\sum_i S_{ii} - \frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij}},\qquad
        \mathrm{gradient\ of}\ -\frac1K\sum_i \mathrm{softplus}(-S_{ii})
            - \frac{1}{K(K-1)}\sum_{i\ne j}\mathrm{softplus}(S_{ij})

    Args:
        g: ``[K, d]`` x embeddings, ``K >= 2``.
        h: ``[K, d]`` y embeddings.
        temperature: :math:`\tau > 0`.
        block_size: Rows of S per block.

    Returns:
        0-d tensor: value in nats, gradient of the JS objective.

    Example:
        >>> import torch
        >>> float(js_embeddings(torch.zeros(4, 2), torch.zeros(4, 2)))
        0.0
    """
    a, positives = _check(g, h, temperature, block_size, min_rows=2)
    k = g.shape[0]
    softplus_sum, stats = partition_terms(a, h, PartitionSpec(off_softplus=1.0, want_off_lse=True), block_size)
    value = 1.0 + positives.detach().mean() - exp_linearized(stats["off_lse"] - math.log(k * (k - 1)))
    return value_with_gradient_of(value, _js_objective(positives, softplus_sum, k))


def smile_embeddings(
    g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, clip: float | None = 5.0, block_size: int | None = None
) -> Tensor:
    r""":func:`~mibounds.bounds.smile` on :math:`S = g h^\top/\tau`: clipped DV value, JS gradient.

    .. math::
        \mathrm{value} = \frac1K\sum_i S_{ii}
            - \log\frac{1}{K(K-1)}\sum_{i\ne j} e^{\mathrm{clip}(S_{ij}, -\tau_c, \tau_c)}

    Args:
        g: ``[K, d]`` x embeddings, ``K >= 2``.
        h: ``[K, d]`` y embeddings.
        temperature: :math:`\tau > 0`.
        clip: :math:`\tau_c > 0`, or None for no clipping (DV value).
        block_size: Rows of S per block.

    Returns:
        0-d tensor: value in nats, gradient of the JS objective.

    Example:
        >>> import torch
        >>> float(smile_embeddings(torch.ones(4, 2), torch.ones(4, 2), clip=1.0))
        1.0
    """
    a, positives = _check(g, h, temperature, block_size, min_rows=2)
    k = g.shape[0]
    if clip is not None:
        clip = check_positive(clip, "clip")
    spec = PartitionSpec(off_softplus=1.0, want_off_lse=clip is None, clip=clip)
    softplus_sum, stats = partition_terms(a, h, spec, block_size)
    log_sum = stats["off_lse"] if clip is None else stats["clipped_off_lse"]
    value = positives.detach().mean() - (log_sum - math.log(k * (k - 1)))
    return value_with_gradient_of(value, _js_objective(positives, softplus_sum, k))


class AllPairs(NamedTuple):
    r"""Statistics of a score matrix over all K(K-1) off-diagonal pairs (what the bounds reduce).

    Attributes:
        positives: ``[K]``, :math:`S_{jj}` (the joint samples).
        column_log_partition: ``[K]``, :math:`\log \frac{1}{K-1}\sum_{i\ne j} e^{S_{ij}}` per y_j.
        log_partition: 0-d, :math:`\log \frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij}}`.
    """

    positives: Tensor
    column_log_partition: Tensor
    log_partition: Tensor

    @property
    def dv(self) -> Tensor:
        """The Donsker–Varadhan value in nats (as :func:`~mibounds.bounds.dv`)."""
        return self.positives.mean() - self.log_partition

    @property
    def nwj(self) -> Tensor:
        """The NWJ value in nats (as :func:`~mibounds.bounds.nwj`)."""
        return self.positives.mean() - exp_linearized(self.log_partition - 1.0)

    @property
    def infonce(self) -> Tensor:
        """The InfoNCE value in nats with all K candidates (as :func:`~mibounds.bounds.infonce`)."""
        k = self.positives.shape[0]
        column_lse = torch.logaddexp(self.column_log_partition + math.log(k - 1), self.positives)
        return math.log(k) + (self.positives - column_lse).mean()


@torch.no_grad()
def all_pairs_embeddings(
    g: Tensor, h: Tensor, *, temperature: float | Tensor = 1.0, block_size: int | None = None
) -> AllPairs:
    r"""Evaluate a separable critic on all pairs of a (held-out) split, in O(K·d) memory, no gradient.

    For :math:`S = g h^\top/\tau`, the per-column off-diagonal log-mean-exps
    :math:`\log\frac{1}{K-1}\sum_{i\ne j}e^{S_{ij}}` and the global one over the K(K-1) pairs,
    streamed over blocks of rows. DV, NWJ and InfoNCE values follow (properties of the result).

    Args:
        g: ``[K, d]`` x embeddings, ``K >= 2``.
        h: ``[K, d]`` y embeddings.
        temperature: :math:`\tau > 0`.
        block_size: Rows of S per block.

    Returns:
        :class:`AllPairs` (detached tensors, nats).

    Example:
        >>> import torch
        >>> stats = all_pairs_embeddings(torch.ones(5, 2), torch.ones(5, 2))
        >>> float(stats.dv), float(stats.log_partition)
        (0.0, 2.0)
    """
    a, positives = _check(g, h, temperature, block_size, min_rows=2)
    k = g.shape[0]
    rows = block_rows(k, k, block_size)
    column = torch.full((k,), -math.inf, dtype=a.dtype, device=a.device)
    for start in range(0, k, rows):
        s = a[start : start + rows] @ h.T
        s.diagonal(start).fill_(-math.inf)
        column = torch.logaddexp(column, torch.logsumexp(s, dim=0))
    log_partition = torch.logsumexp(column, dim=0) - math.log(k * (k - 1))
    return AllPairs(positives, column - math.log(k - 1), log_partition)
