r"""The Gaussian critics' fits: per-fold moments, and the rank of the cross-covariance they keep.

A Gaussian critic estimates the :math:`d_x d_y` cross-covariances of X and Y. With many columns
for the rows (a learned embedding of 500 columns, 8,000 rows a fold) most of what it fits is
noise: the canonical correlations of independent columns are about :math:`\sqrt{d / n}`, and on
rows it never saw such a critic scores far below the truth (-52 nats for a true 4 at d = 1,000,
n = 10,000). Where its first-order fitting penalty :math:`d_x d_y / (2 n)` exceeds
:data:`~mibounds.estimation.diagnostics.LARGE_FIT_PENALTY`, the critic keeps only the k largest
canonical correlations of each member's training folds,

.. math::
    \Sigma_{xy}^{(k)} = L_x U_k \operatorname{diag}(\rho_1, \dots, \rho_k) V_k^T L_y^T, \qquad
        L_x^{-1} \Sigma_{xy} L_y^{-T} = U \operatorname{diag}(\rho) V^T

(:math:`L` the Cholesky factors of each side's covariance; :class:`Canonical`),

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
    >>> choose_rank(fold_moments(x, y, plan), x, y, plan)[0]  # one canonical pair carries the MI
    1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mibounds.critics import GaussianCritic
from mibounds.estimation.heldout import gaussian_fit_penalty
from mibounds.estimation.training import FoldPlan

__all__ = [
    "Moments",
    "Canonical",
    "candidate_ranks",
    "choose_rank",
    "fold_moments",
    "member_fit",
    "pooled_moments",
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


@dataclass(frozen=True)
class Canonical:
    r"""The canonical correlation analysis of a joint covariance.

    With :math:`\Sigma_{xx} = L_x L_x^T`, :math:`\Sigma_{yy} = L_y L_y^T` and
    :math:`L_x^{-1} \Sigma_{xy} L_y^{-T} = U \operatorname{diag}(\rho) V^T`, the canonical variates of
    a row are :math:`u = A^T (x - \mu_x)`, :math:`v = B^T (y - \mu_y)` with :math:`A = L_x^{-T} U`,
    :math:`B = L_y^{-T} V`: unit variance, uncorrelated within a side, and correlated
    :math:`\rho_i` pair by pair.

    Attributes:
        mean: ``[dx + dy]``.
        a: ``[dx, r]``, r = min(dx, dy).
        b: ``[dy, r]``.
        rho: ``[r]`` canonical correlations, decreasing, below 1.
        lower_x: ``[dx, dx]`` :math:`L_x`.
        lower_y: ``[dy, dy]`` :math:`L_y`.
        u: ``[dx, r]`` and ``vh``: ``[r, dy]`` the singular vectors.
    """

    mean: Tensor
    a: Tensor
    b: Tensor
    rho: Tensor
    lower_x: Tensor
    lower_y: Tensor
    u: Tensor
    vh: Tensor

    @classmethod
    def of(cls, mean: Tensor, cov: Tensor, dim_x: int) -> Canonical:
        """The analysis of ``cov`` ``[dx + dy, dx + dy]`` (x's columns first)."""
        lower_x, lower_y = _cholesky(cov[:dim_x, :dim_x]), _cholesky(cov[dim_x:, dim_x:])
        whitened = torch.linalg.solve_triangular(lower_x, cov[:dim_x, dim_x:], upper=False)
        whitened = torch.linalg.solve_triangular(lower_y, whitened.T, upper=False).T
        u, rho, vh = torch.linalg.svd(whitened, full_matrices=False)
        a = torch.linalg.solve_triangular(lower_x.T, u, upper=True)
        b = torch.linalg.solve_triangular(lower_y.T, vh.T, upper=True)
        return cls(mean, a, b, rho.clamp_max(1 - 1e-9), lower_x, lower_y, u, vh)

    def log_ratios(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Each pair's term of the Gaussian log ratio of the rows, ``[rows, r]``: term i is
        :math:`-\frac12 \log(1 - \rho_i^2) - \frac{\rho_i^2 (u_i^2 + v_i^2) - 2 \rho_i u_i v_i}{2 (1 -
        \rho_i^2)}`, and the first k terms sum to the log ratio of :meth:`critic` at rank k."""
        dim_x = self.a.shape[0]
        u, v, rho = (x - self.mean[:dim_x]) @ self.a, (y - self.mean[dim_x:]) @ self.b, self.rho
        squared = rho**2
        return -0.5 * torch.log1p(-squared) - (squared * (u**2 + v**2) - 2 * rho * u * v) / (2 * (1 - squared))

    def critic(self, rank: int) -> GaussianCritic:
        r"""The Gaussian critic of the first ``rank`` canonical pairs: :math:`Q_x = A_k \operatorname{diag}
        (\rho^2 / (1 - \rho^2)) A_k^T`, the same for y, :math:`P_{xy} = -A_k \operatorname{diag}
        (\rho / (1 - \rho^2)) B_k^T` and MI :math:`-\frac12 \sum_{i \le k} \log(1 - \rho_i^2)`."""
        dim_x = self.a.shape[0]
        a, b, rho = self.a[:, :rank], self.b[:, :rank], self.rho[:rank]
        squared = rho**2
        scale = squared / (1 - squared)
        return GaussianCritic(
            self.mean[:dim_x],
            self.mean[dim_x:],
            -(a * (rho / (1 - squared))) @ b.T,
            (a * scale) @ a.T,
            (b * scale) @ b.T,
            -0.5 * torch.log1p(-squared).sum(),
        )

    def covariance(self, cov: Tensor, rank: int) -> Tensor:
        r"""``cov`` with its cross-covariance cut to the first ``rank`` pairs:
        :math:`L_x U_k \operatorname{diag}(\rho_k) V_k^T L_y^T`."""
        dim_x = self.a.shape[0]
        cut = self.lower_x @ (self.u[:, :rank] * self.rho[:rank]) @ self.vh[:rank] @ self.lower_y.T
        joint = cov.clone()
        joint[:dim_x, dim_x:], joint[dim_x:, :dim_x] = cut, cut.T
        return joint


def _cholesky(cov: Tensor) -> Tensor:
    """The lower Cholesky factor, with a ridge of 1e-10 of the mean variance where it is singular."""
    factor, info = torch.linalg.cholesky_ex(cov)
    if int(info) == 0:
        return factor
    ridge = 1e-10 * cov.diagonal().mean().clamp_min(1e-300)
    return torch.linalg.cholesky(cov + ridge * torch.eye(len(cov), dtype=cov.dtype, device=cov.device))


def candidate_ranks(dim_x: int, dim_y: int) -> list[int]:
    """0, 1, 2, 4, ... below full rank, and full rank ``min(dx, dy)``."""
    full = min(dim_x, dim_y)
    ranks = [0]
    while max(1, ranks[-1] * 2) < full:
        ranks.append(max(1, ranks[-1] * 2))
    return ranks + [full]


def choose_rank(moments: list[Moments], x: Tensor, y: Tensor, plan: FoldPlan) -> tuple[int, list[Canonical]]:
    r"""The canonical pairs the members' Gaussian critics keep: of :func:`candidate_ranks`, the k
    whose fits on each member's training folds score the highest mean log ratio on its validation
    fold plus their fitting penalty, summed over members: the k whose model captures the most MI by
    an estimate unbiased to first order (the estimate itself adds the same penalty back).

    The rank-k critic's log ratio is the sum of the first k :meth:`Canonical.log_ratios`, so every
    rank is scored from one projection of the validation rows.

    Returns:
        The rank, and each member's :class:`Canonical` analysis of its training folds.
    """
    dim_x = x.shape[1]
    ranks = candidate_ranks(dim_x, y.shape[1])
    scores, analyses = torch.zeros(len(ranks), dtype=torch.float64), []
    for m in range(plan.num_folds):
        skip = {m, (m + 1) % plan.num_folds}  # the folds of plan.training(m)
        mean, cov = pooled_moments([part for f, part in enumerate(moments) if f not in skip])
        rows = torch.as_tensor(plan.validation(m), device=x.device)
        analyses.append(Canonical.of(mean, cov, dim_x))
        terms = analyses[-1].log_ratios(x[rows].double(), y[rows].double())
        cumulative = torch.cat([terms.new_zeros(1), terms.mean(0).cumsum(0)])  # [pairs + 1]: ranks 0, 1, ...
        fitted = sum(n for f, (n, _, _) in enumerate(moments) if f not in skip)
        penalties = torch.tensor([gaussian_fit_penalty(dim_x, y.shape[1], fitted, k) for k in ranks])
        scores += cumulative[ranks].cpu() + penalties
    return ranks[int(scores.argmax())], analyses


def member_fit(moments: list[Moments], skip: set[int], dim_x: int, rank: int | None) -> GaussianCritic:
    """The Gaussian critic of every fold but ``skip``, its cross-covariance cut to ``rank`` canonical
    pairs (None: all)."""
    mean, cov = pooled_moments([part for f, part in enumerate(moments) if f not in skip])
    if rank is None:
        return GaussianCritic.from_moments(mean, cov, dim_x)
    return Canonical.of(mean, cov, dim_x).critic(rank)
