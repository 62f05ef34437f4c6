"""Joint covariance (or scale) matrices of (X, Y) and the quadratic forms of elliptical tasks.

A joint matrix ``S = [[S_xx, S_xy], [S_yx, S_yy]]`` is kept through its blocks: the regression
of y on x, ``A = S_yx S_xx^{-1}``, and the Schur complement ``C = S_yy - A S_xy`` (the
conditional covariance of y given x for a Gaussian). With ``L_xx``, ``L_yy``, ``L_C`` the
Cholesky factors, the squared Mahalanobis norms are

- ``q_x(x) = |L_xx^{-1} x|^2``, ``q_y(y) = |L_yy^{-1} y|^2``,
- ``q_c(x, y) = |L_C^{-1} (y - A x)|^2``, and ``z^T S^{-1} z = q_x(x) + q_c(x, y)`` for ``z = (x, y)``.

``q_c`` is evaluated on all K x K pairs with a difference-based distance (no ``|a|^2 + |b|^2 -
2 a.b`` expansion), so it stays accurate in float32 when the conditional covariance is small.

Example:
    >>> from mibounds.tasks.scale import dense_scale
    >>> scale = dense_scale(1, 1, correlation=0.5)
    >>> round(scale.gaussian_mi, 4)  # -0.5 log(1 - 0.5^2)
    0.1438
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import torch
from torch import Tensor

from mibounds.tasks import _random
from mibounds.tasks.base import check_correlation, check_dimensions, check_int

__all__ = ["JointScale", "dense_scale", "sparse_scale"]


class _Whiteners(NamedTuple):
    whiten_x: Tensor  # L_xx^{-1}, [dx, dx]
    whiten_y: Tensor  # L_yy^{-1}, [dy, dy]
    whiten_cond: Tensor  # L_C^{-1}, [dy, dy]
    project: Tensor  # L_C^{-1} A, [dy, dx]


def _cholesky(matrix: Tensor, what: str, joint: Tensor) -> Tensor:
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) != 0:
        smallest = float(torch.linalg.eigvalsh(joint).min())
        raise ValueError(
            f"the joint {what} matrix of (X, Y) is not positive definite (smallest eigenvalue "
            f"{smallest:.3g}); lower the correlations, or pass a symmetric positive-definite matrix"
        )
    return factor


def _as_matrix(value: Tensor, name: str, shape: tuple[int, int]) -> Tensor:
    matrix = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    if tuple(matrix.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(matrix.shape)} but must be {list(shape)}")
    if not torch.isfinite(matrix).all():
        raise ValueError(f"{name} has non-finite entries; pass a finite matrix")
    return matrix


class JointScale:
    """A symmetric positive-definite joint matrix of (X, Y), in float64, with its factorizations.

    Args:
        cov_xx: ``[dx, dx]`` block.
        cov_xy: ``[dx, dy]`` block (cross-covariance or cross-scale).
        cov_yy: ``[dy, dy]`` block.
        cond_cov: The Schur complement ``S_yy - S_yx S_xx^{-1} S_xy`` when it is known in closed
            form: more accurate than the subtraction when it is nearly singular (high MI).

    Raises:
        ValueError: If a block has the wrong shape, the blocks are not symmetric, or the joint
            matrix is not positive definite.
    """

    def __init__(self, cov_xx: Tensor, cov_xy: Tensor, cov_yy: Tensor, *, cond_cov: Tensor | None = None) -> None:
        cov_xx = torch.as_tensor(cov_xx, dtype=torch.float64)
        cov_yy = torch.as_tensor(cov_yy, dtype=torch.float64)
        if cov_xx.dim() != 2 or cov_yy.dim() != 2:
            raise ValueError(
                f"cov_xx and cov_yy must be square matrices, got shapes {tuple(cov_xx.shape)} and {tuple(cov_yy.shape)}"
            )
        dx, dy = cov_xx.shape[0], cov_yy.shape[0]
        if dx < 1 or dy < 1:
            raise ValueError(f"X and Y need at least one dimension each, got dim_x = {dx} and dim_y = {dy}")
        self.cov_xx = _as_matrix(cov_xx, "cov_xx", (dx, dx))
        self.cov_xy = _as_matrix(cov_xy, "cov_xy", (dx, dy))
        self.cov_yy = _as_matrix(cov_yy, "cov_yy", (dy, dy))
        for name, block in (("cov_xx", self.cov_xx), ("cov_yy", self.cov_yy)):
            if not torch.allclose(block, block.T, rtol=1e-12, atol=1e-12):
                raise ValueError(f"{name} is not symmetric; pass (M + M.T) / 2 or a symmetric matrix")
        self.dim_x, self.dim_y = dx, dy
        self.joint = torch.cat(
            [torch.cat([self.cov_xx, self.cov_xy], 1), torch.cat([self.cov_xy.T, self.cov_yy], 1)], 0
        )
        chol_xx = _cholesky(self.cov_xx, "covariance", self.joint)
        chol_yy = _cholesky(self.cov_yy, "covariance", self.joint)
        regression = torch.cholesky_solve(self.cov_xy, chol_xx).T  # A = S_yx S_xx^{-1}, [dy, dx]
        if cond_cov is None:
            cond_cov = self.cov_yy - regression @ self.cov_xy
            cond_cov = 0.5 * (cond_cov + cond_cov.T)
        cond_cov = _as_matrix(cond_cov, "cond_cov", (dy, dy))
        chol_cond = _cholesky(cond_cov, "covariance", self.joint)
        self.regression = regression
        # Block Cholesky factor of the joint: z = L eps gives x = L_xx e1, y = A x + L_C e2.
        self.chol = torch.zeros(dx + dy, dx + dy, dtype=torch.float64)
        self.chol[:dx, :dx] = chol_xx
        self.chol[dx:, :dx] = regression @ chol_xx
        self.chol[dx:, dx:] = chol_cond
        self.logdet_xx = float(2 * chol_xx.diagonal().log().sum())
        self.logdet_yy = float(2 * chol_yy.diagonal().log().sum())
        self.logdet_cond = float(2 * chol_cond.diagonal().log().sum())
        self.logdet_joint = self.logdet_xx + self.logdet_cond
        eye_x = torch.eye(dx, dtype=torch.float64)
        eye_y = torch.eye(dy, dtype=torch.float64)
        whiten_cond = torch.linalg.solve_triangular(chol_cond, eye_y, upper=False)
        self._whiteners = _Whiteners(
            whiten_x=torch.linalg.solve_triangular(chol_xx, eye_x, upper=False),
            whiten_y=torch.linalg.solve_triangular(chol_yy, eye_y, upper=False),
            whiten_cond=whiten_cond,
            project=whiten_cond @ regression,
        )
        self._cache: dict[tuple[torch.dtype, torch.device], _Whiteners] = {}

    @property
    def gaussian_mi(self) -> float:
        """MI in nats of a Gaussian with this covariance: ``0.5 (logdet S_xx + logdet S_yy - logdet S)``."""
        return 0.5 * (self.logdet_yy - self.logdet_cond)

    def fingerprint(self) -> str:
        """Eight hex digits identifying the joint matrix (for task ids of general matrices)."""
        return hashlib.sha1(self.joint.numpy().tobytes()).hexdigest()[:8]

    def _cast(self, like: Tensor) -> _Whiteners:
        key = (like.dtype, like.device)
        if key not in self._cache:
            self._cache[key] = _Whiteners(*(m.to(dtype=like.dtype, device=like.device) for m in self._whiteners))
        return self._cache[key]

    def quad_x(self, x: Tensor) -> Tensor:
        """``q_x(x_i) = x_i^T S_xx^{-1} x_i`` for ``x [K, dx]``; returns ``[K]``."""
        return (x @ self._cast(x).whiten_x.T).square().sum(-1)

    def quad_y(self, y: Tensor) -> Tensor:
        """``q_y(y_j) = y_j^T S_yy^{-1} y_j`` for ``y [K, dy]``; returns ``[K]``."""
        return (y @ self._cast(y).whiten_y.T).square().sum(-1)

    def quad_cond(self, x: Tensor, y: Tensor) -> Tensor:
        """``q_c[i, j] = (y_j - A x_i)^T C^{-1} (y_j - A x_i)`` for all pairs; returns ``[Kx, Ky]``."""
        mats = self._cast(x)
        mean = x @ mats.project.T  # L_C^{-1} A x_i
        target = y @ mats.whiten_cond.T  # L_C^{-1} y_j
        return torch.cdist(mean, target, compute_mode="donot_use_mm_for_euclid_dist").square()

    def sample_normal(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``n`` float64 draws of ``(x, y) ~ N(0, S)``."""
        eps = _random.standard_normal((n, self.dim_x + self.dim_y), generator)
        z = eps @ self.chol.to(eps.device).T
        return z[:, : self.dim_x], z[:, self.dim_x :]


def dense_scale(dim_x: int, dim_y: int, correlation: float, within_correlation: float = 0.0) -> JointScale:
    """Unit variances, every x-y pair correlated with ``correlation``, and every pair inside X
    (and inside Y) with ``within_correlation``.

    Czyz et al. 2023's "dense" multinormal sets both to 0.5. With ``within_correlation = 0`` the
    matrix is positive definite only for ``|correlation| < 1 / sqrt(dim_x dim_y)``.
    """
    dim_x = check_int(dim_x, "dim_x", minimum=1)
    dim_y = check_int(dim_y, "dim_y", minimum=1)
    check_dimensions(dim_x, dim_y)
    correlation = check_correlation(correlation)
    within_correlation = check_correlation(within_correlation, "within_correlation")

    def block(d: int) -> Tensor:
        eye = torch.eye(d, dtype=torch.float64)
        return eye + within_correlation * (torch.ones(d, d, dtype=torch.float64) - eye)

    cross = torch.full((dim_x, dim_y), correlation, dtype=torch.float64)
    return JointScale(block(dim_x), cross, block(dim_y))


def sparse_scale(dim_x: int, dim_y: int, n_interacting: int, correlation: float) -> JointScale:
    """Unit variances; only the pairs (x_i, y_i), i < n_interacting, correlated with ``correlation``.

    The Gaussian MI of this matrix is ``-(n_interacting / 2) log(1 - correlation^2)``.
    """
    dim_x = check_int(dim_x, "dim_x", minimum=1)
    dim_y = check_int(dim_y, "dim_y", minimum=1)
    check_dimensions(dim_x, dim_y)
    n_interacting = check_int(
        n_interacting, "n_interacting", minimum=0, hint="pass how many of the first coordinate pairs interact"
    )
    if n_interacting > min(dim_x, dim_y):
        raise ValueError(
            f"n_interacting = {n_interacting} exceeds min(dim_x, dim_y) = {min(dim_x, dim_y)}; "
            "at most that many coordinate pairs (x_i, y_i) can interact"
        )
    correlation = check_correlation(correlation)
    cross = torch.zeros(dim_x, dim_y, dtype=torch.float64)
    cross[range(n_interacting), range(n_interacting)] = correlation
    cond = torch.ones(dim_y, dtype=torch.float64)
    cond[:n_interacting] = 1.0 - correlation**2
    return JointScale(
        torch.eye(dim_x, dtype=torch.float64), cross, torch.eye(dim_y, dtype=torch.float64), cond_cov=torch.diag(cond)
    )
