r"""The Gaussian critics' fits: per-fold moments, and the rank of the cross-covariance they keep.

A Gaussian critic estimates the :math:`d_x d_y` cross-covariances of X and Y. With many columns
for the rows (a learned embedding of 500 columns, 8,000 rows a fold) most of what it fits is
noise: the canonical correlations of independent columns are about :math:`\sqrt{d / n}`, and on
rows it never saw such a critic scores far below the truth (-52 nats for a true 4 at d = 1,000,
n = 10,000). Where its first-order fitting penalty :math:`d_x d_y / (2 n)` exceeds
:data:`~mibounds.estimation.diagnostics.LARGE_FIT_PENALTY`, the critic keeps only the k largest
canonical correlations of each member's training folds,

.. math::
    \Sigma_{xy}^{(k)} = \Sigma_{xx}^{1/2} U_k \operatorname{diag}(\rho_1, \dots, \rho_k)
        V_k^T \Sigma_{yy}^{1/2}, \qquad \Sigma_{xx}^{-1/2} \Sigma_{xy} \Sigma_{yy}^{-1/2} = U
        \operatorname{diag}(\rho) V^T,

a Gaussian model of the k canonical pairs (the MI of Gaussians is
:math:`-\frac12 \sum_i \log(1 - \rho_i^2)`, so the dropped pairs add nothing), with k in 0, 1,
2, 4, ... up to full rank chosen by the mean held-out log ratio of the members on their
validation folds plus the fitting penalty :math:`k (d_x + d_y - k) / (2n)` of a rank-k
cross-covariance: a first-order unbiased estimate of the MI that the rank-k model captures (never
the largest in-sample estimate).

Example:
    >>> import numpy as np, torch
    >>> from mibounds.estimation.training import fold_plan
    >>> x = torch.randn(2000, 3, dtype=torch.float64)
    >>> y = torch.cat([x[:, :1] + 0.5 * torch.randn(2000, 1, dtype=torch.float64),
    ...                torch.randn(2000, 2, dtype=torch.float64)], 1)
    >>> plan = fold_plan(2000, 5, np.random.default_rng(0))
    >>> choose_rank(fold_moments(x, y, plan), x, y, plan)  # one canonical pair carries the MI
    1
"""

from __future__ import annotations

import torch
from torch import Tensor

from mibounds.critics import GaussianCritic
from mibounds.estimation.heldout import gaussian_fit_penalty
from mibounds.estimation.training import FoldPlan

__all__ = [
    "Moments",
    "candidate_ranks",
    "canonical_log_ratios",
    "choose_rank",
    "fold_moments",
    "member_fit",
    "pooled_moments",
    "reduced_rank",
]

#: Rows per chunk of the fold moments (float64 copies of at most this many rows at once).
_MOMENT_CHUNK = 1 << 16

Moments = tuple[int, Tensor, Tensor]


def fold_moments(x: Tensor, y: Tensor, plan: FoldPlan) -> list[Moments]:
    r"""Each fold's row count, mean ``[dx + dy]`` and scatter :math:`\sum_i (z_i - \bar z)(z_i - \bar z)^T`
    of the rows :math:`z_i = (x_i, y_i)`, in float64, over chunks of rows (no full-size copy).

    Every member's Gaussian critic is fitted on a union of folds (:func:`pooled_moments`), so the
    rows are read twice in all instead of twice per member.
    """
    moments = []
    for fold in plan.folds:
        parts = torch.split(torch.as_tensor(fold, device=x.device), _MOMENT_CHUNK)
        mean = torch.stack([torch.cat([x[rows], y[rows]], 1).double().sum(0) for rows in parts]).sum(0) / len(fold)
        scatter = torch.zeros(len(mean), len(mean), dtype=torch.float64, device=x.device)
        for rows in parts:
            centred = torch.cat([x[rows], y[rows]], 1).double() - mean
            scatter = scatter + centred.T @ centred
        moments.append((len(fold), mean, scatter))
    return moments


def pooled_moments(moments: list[Moments]) -> tuple[Tensor, Tensor]:
    r"""The mean and covariance (divided by the row count) of the union of folds with these moments.

    Scatters add once each is taken about the pooled mean: :math:`S = \sum_f S_f + n_f
    (\bar z_f - \bar z)(\bar z_f - \bar z)^T` (Chan, Golub and LeVeque 1979).

    Example:
        >>> z = torch.randn(10, 3, dtype=torch.float64)
        >>> parts = [(len(p), p.mean(0), (p - p.mean(0)).T @ (p - p.mean(0))) for p in (z[:4], z[4:])]
        >>> mean, cov = pooled_moments(parts)
        >>> bool(torch.allclose(cov, torch.cov(z.T, correction=0)))
        True
    """
    count = sum(n for n, _, _ in moments)
    mean = sum(n * fold_mean for n, fold_mean, _ in moments) / count
    scatter = sum(s + n * torch.outer(m - mean, m - mean) for n, m, s in moments)
    return mean, scatter / count  # type: ignore[return-value]


def reduced_rank(cov: Tensor, dim_x: int, ranks: list[int]) -> list[Tensor]:
    """The joint covariance with its cross-covariance cut to each of ``ranks`` canonical pairs.

    Args:
        cov: ``[dx + dy, dx + dy]`` joint covariance, x's columns first.
        dim_x: dx.
        ranks: Canonical pairs to keep (0 = independence; ``min(dx, dy)`` = ``cov`` itself).

    Returns:
        One ``[dx + dy, dx + dy]`` covariance per rank.

    Example:
        >>> cov = torch.tensor([[1.0, 0.0, 0.6, 0.0], [0.0, 1.0, 0.0, 0.3],
        ...                     [0.6, 0.0, 1.0, 0.0], [0.0, 0.3, 0.0, 1.0]], dtype=torch.float64)
        >>> [round(float(c[1, 3]), 3) for c in reduced_rank(cov, 2, [0, 1, 2])]  # the weaker pair goes first
        [0.0, 0.0, 0.3]
    """
    sxx, syy, sxy = cov[:dim_x, :dim_x], cov[dim_x:, dim_x:], cov[:dim_x, dim_x:]
    half_x, inverse_half_x = _square_roots(sxx)
    half_y, inverse_half_y = _square_roots(syy)
    u, rho, vh = torch.linalg.svd(inverse_half_x @ sxy @ inverse_half_y, full_matrices=False)
    out = []
    for rank in ranks:
        cut = half_x @ (u[:, :rank] * rho[:rank]) @ vh[:rank] @ half_y
        joint = cov.clone()
        joint[:dim_x, dim_x:], joint[dim_x:, :dim_x] = cut, cut.T
        out.append(joint)
    return out


def _square_roots(cov: Tensor) -> tuple[Tensor, Tensor]:
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(values.max() * 1e-12)
    return (vectors * values.sqrt()) @ vectors.T, (vectors * values.rsqrt()) @ vectors.T


def candidate_ranks(dim_x: int, dim_y: int) -> list[int]:
    """0, 1, 2, 4, ... below full rank, and full rank ``min(dx, dy)``."""
    full = min(dim_x, dim_y)
    ranks = [0]
    while max(1, ranks[-1] * 2) < full:
        ranks.append(max(1, ranks[-1] * 2))
    return ranks + [full]


def canonical_log_ratios(mean: Tensor, cov: Tensor, dim_x: int, x: Tensor, y: Tensor) -> Tensor:
    r"""Each canonical pair's term of the Gaussian log ratio of the rows, ``[rows, min(dx, dy)]``.

    With :math:`u_i, v_i` the canonical variates of a row (x and y whitened by ``cov``, rotated by
    the singular vectors of :math:`\Sigma_{xx}^{-1/2} \Sigma_{xy} \Sigma_{yy}^{-1/2}`) and
    :math:`\rho_i` its singular values, term i is :math:`-\frac12 \log(1 - \rho_i^2) -
    \frac{\rho_i^2 (u_i^2 + v_i^2) - 2 \rho_i u_i v_i}{2 (1 - \rho_i^2)}`; the first k terms sum
    to the log ratio of the critic of :func:`reduced_rank` at rank k (without ridge).
    """
    _, inverse_half_x = _square_roots(cov[:dim_x, :dim_x])
    _, inverse_half_y = _square_roots(cov[dim_x:, dim_x:])
    u, rho, vh = torch.linalg.svd(inverse_half_x @ cov[:dim_x, dim_x:] @ inverse_half_y, full_matrices=False)
    rho = rho.clamp_max(1 - 1e-9)
    a = (x - mean[:dim_x]) @ (inverse_half_x @ u)
    b = (y - mean[dim_x:]) @ (inverse_half_y @ vh.T)
    squared = rho**2
    return -0.5 * torch.log1p(-squared) - (squared * (a**2 + b**2) - 2 * rho * a * b) / (2 * (1 - squared))


def choose_rank(moments: list[Moments], x: Tensor, y: Tensor, plan: FoldPlan) -> int:
    r"""The canonical pairs the members' Gaussian critics keep: of :func:`candidate_ranks`, the k
    whose fits on each member's training folds score the highest mean log ratio on its validation
    fold, summed over members.

    The rank-k critic's log ratio is the sum of the first k :func:`canonical_log_ratios`, so every
    rank is scored from one projection of the validation rows.
    """
    dim_x = x.shape[1]
    ranks = candidate_ranks(dim_x, y.shape[1])
    scores = torch.zeros(len(ranks), dtype=torch.float64)
    for m in range(plan.num_folds):
        skip = {m, (m + 1) % plan.num_folds}  # the folds of plan.training(m)
        mean, cov = pooled_moments([part for f, part in enumerate(moments) if f not in skip])
        rows = torch.as_tensor(plan.validation(m), device=x.device)
        terms = canonical_log_ratios(mean, cov, dim_x, x[rows].double(), y[rows].double())
        cumulative = torch.cat([terms.new_zeros(1), terms.mean(0).cumsum(0)])  # [pairs + 1]: ranks 0, 1, ...
        fitted = sum(n for f, (n, _, _) in enumerate(moments) if f not in skip)
        penalties = torch.tensor([gaussian_fit_penalty(dim_x, y.shape[1], fitted, k) for k in ranks])
        scores += cumulative[ranks].cpu() + penalties
    return ranks[int(scores.argmax())]


def member_fit(moments: list[Moments], skip: set[int], dim_x: int, rank: int | None) -> GaussianCritic:
    """The Gaussian critic of every fold but ``skip``, its cross-covariance cut to ``rank`` canonical
    pairs (None: all)."""
    mean, cov = pooled_moments([part for f, part in enumerate(moments) if f not in skip])
    if rank is not None:
        (cov,) = reduced_rank(cov, dim_x, [rank])
    return GaussianCritic.from_moments(mean, cov, dim_x)
