"""The multivariate Student-t task: heavy tails, and dependence even with an identity scale."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibounds.tasks import _random
from mibounds.tasks.base import Task, check_int, fmt
from mibounds.tasks.scale import JointScale, dense_scale, sparse_scale
from mibounds.validation import check_positive

__all__ = ["StudentT", "student_t_mi_correction"]


def _digamma(a: float) -> float:
    return float(torch.special.digamma(torch.tensor(a, dtype=torch.float64)))


def _lgamma_minus_a_digamma(a: float) -> float:
    return math.lgamma(a) - a * _digamma(a)


def student_t_mi_correction(dof: float, dim_x: int, dim_y: int) -> float:
    """The non-Gaussian part of the MI of a multivariate Student-t, in nats.

    With ``F(a) = lgamma(a) - a digamma(a)`` and nu = ``dof``:
    ``c = F(nu/2) + F((nu + dx + dy)/2) - F((nu + dx)/2) - F((nu + dy)/2)``.

    Derivation: the marginals of ``t_nu(0, S)`` are ``t_nu(0, S_xx)`` and ``t_nu(0, S_yy)``,
    and a d-dimensional ``t_nu(0, S)`` has entropy
    ``0.5 logdet S + (d/2) log(nu pi) + lgamma(nu/2) - lgamma((nu+d)/2)
    + ((nu+d)/2) (digamma((nu+d)/2) - digamma(nu/2))``. In ``h(X) + h(Y) - h(X, Y)`` the
    ``log(nu pi)`` terms cancel, the log-determinants give the Gaussian MI of S, and the rest
    regroups into c. It is > 0 and tends to 0 as nu -> infinity.

    Reference:
        Arellano-Valle, Contreras-Reyes, Genton 2013, Shannon entropy and mutual information for
        multivariate skew-elliptical distributions (Scand. J. Stat. 40(1)); Czyz et al. 2023.
    """
    half = dof / 2.0
    return (
        _lgamma_minus_a_digamma(half)
        + _lgamma_minus_a_digamma(half + (dim_x + dim_y) / 2.0)
        - _lgamma_minus_a_digamma(half + dim_x / 2.0)
        - _lgamma_minus_a_digamma(half + dim_y / 2.0)
    )


class StudentT(Task):
    """``(X, Y) ~ t_nu(0, S)``: a joint multivariate Student-t with nu degrees of freedom.

    Sampled as ``z / sqrt(w / nu)`` with ``z ~ N(0, S)`` and ``w ~ chi^2_nu``. The scale matrix
    S has unit diagonal and correlation ``correlation`` between ``x_i`` and ``y_i`` for the first
    ``n_interacting`` coordinates (all of ``min(dim_x, dim_y)`` by default); ``correlation = 0``
    is the identity scale, where X and Y are uncorrelated yet dependent through the shared w.

    ``I(X; Y) = 0.5 (logdet S_xx + logdet S_yy - logdet S) + c(nu, dim_x, dim_y)`` nats, with
    ``c`` from :func:`student_t_mi_correction`. Density of a d-dimensional ``t_nu(0, S)`` at z:
    ``lgamma((nu+d)/2) - lgamma(nu/2) - (d/2) log(nu pi) - logdet(S)/2
    - ((nu+d)/2) log(1 + z^T S^{-1} z / nu)``.

    Args:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        dof: Degrees of freedom nu > 0 (any real; small nu = heavy tails).
        correlation: x-y correlation of the scale matrix on the interacting pairs, in (-1, 1).
        n_interacting: How many leading coordinate pairs interact (default ``min(dim_x, dim_y)``).

    Reference:
        Czyz et al. 2023, Beyond Normal: On the Evaluation of Mutual Information Estimators
        (arXiv:2306.11078).

    Example:
        >>> task = StudentT(dim_x=2, dim_y=2, dof=3)
        >>> task.name, round(task.mutual_information, 4)
        ('student-t-dx2-dy2-dof3-c0', 0.1108)
    """

    def __init__(
        self,
        dim_x: int = 2,
        dim_y: int = 2,
        dof: float = 3.0,
        correlation: float = 0.0,
        n_interacting: int | None = None,
    ) -> None:
        dim_x = check_int(dim_x, "dim_x", minimum=1)
        dim_y = check_int(dim_y, "dim_y", minimum=1)
        k = min(dim_x, dim_y) if n_interacting is None else n_interacting
        scale = sparse_scale(dim_x, dim_y, k, correlation)
        name = f"student-t-dx{dim_x}-dy{dim_y}-dof{fmt(dof)}-c{fmt(correlation)}"
        if k != min(dim_x, dim_y):
            name += f"-k{k}"
        self._setup(scale, dof, name)

    @classmethod
    def _from_scale(cls, scale: JointScale, dof: float, name: str) -> StudentT:
        task = cls.__new__(cls)
        task._setup(scale, dof, name)
        return task

    @classmethod
    def dense(
        cls,
        dim_x: int = 3,
        dim_y: int = 3,
        dof: float = 3.0,
        correlation: float = 0.25,
        within_correlation: float = 0.0,
    ) -> StudentT:
        """Scale matrix with unit diagonal, all x-y entries ``correlation`` and all within-X and
        within-Y entries ``within_correlation`` (see :meth:`MultivariateNormal.dense`)."""
        scale = dense_scale(dim_x, dim_y, correlation, within_correlation)
        name = f"student-t-dense-dx{dim_x}-dy{dim_y}-dof{fmt(dof)}-c{fmt(correlation)}"
        if within_correlation != 0:
            name += f"-w{fmt(within_correlation)}"
        return cls._from_scale(scale, dof, name)

    @classmethod
    def from_scale(cls, scale_xx: Tensor, scale_xy: Tensor, scale_yy: Tensor, dof: float) -> StudentT:
        """Any symmetric positive-definite joint scale matrix, given by its blocks."""
        scale = JointScale(scale_xx, scale_xy, scale_yy)
        name = f"student-t-dx{scale.dim_x}-dy{scale.dim_y}-dof{fmt(dof)}-scale{scale.fingerprint()}"
        return cls._from_scale(scale, dof, name)

    def _setup(self, scale: JointScale, dof: float, name: str) -> None:
        self.dof = check_positive(dof, "dof")
        self.scale = scale
        self.dim_x, self.dim_y = scale.dim_x, scale.dim_y
        self.name = name

    @property
    def mutual_information(self) -> float:
        """Gaussian MI of the scale matrix plus :func:`student_t_mi_correction`, in nats."""
        return self.scale.gaussian_mi + student_t_mi_correction(self.dof, self.dim_x, self.dim_y)

    @property
    def entropy_x(self) -> float:
        """h(X) of the marginal ``t_nu(0, S_xx)`` in nats (formula in :func:`student_t_mi_correction`)."""
        nu, d = self.dof, self.dim_x
        return (
            0.5 * self.scale.logdet_xx
            + 0.5 * d * math.log(nu * math.pi)
            + math.lgamma(nu / 2)
            - math.lgamma((nu + d) / 2)
            + 0.5 * (nu + d) * (_digamma((nu + d) / 2) - _digamma(nu / 2))
        )

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self.scale.sample_normal(n, generator)
        chi2 = 2.0 * _random.standard_gamma(self.dof / 2.0, n, generator)
        stretch = (self.dof / chi2).sqrt()[:, None]
        return x * stretch, y * stretch

    def _log_norm(self, d: int) -> float:
        """``lgamma((nu+d)/2) - lgamma(nu/2) - (d/2) log(nu pi)``: the log-normalizer without S."""
        nu = self.dof
        return math.lgamma((nu + d) / 2) - math.lgamma(nu / 2) - 0.5 * d * math.log(nu * math.pi)

    def _log_kernel(self, quad: Tensor, d: int) -> Tensor:
        return -0.5 * (self.dof + d) * torch.log1p(quad / self.dof)

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        dx, dy, nu = self.dim_x, self.dim_y, self.dof
        quad_x = self.scale.quad_x(x)[:, None]
        joint = self._log_kernel(quad_x + self.scale.quad_cond(x, y), dx + dy)
        marginals = self._log_kernel(quad_x, dx) + self._log_kernel(self.scale.quad_y(y)[None, :], dy)
        # The log(nu pi) terms cancel; the determinants give the Gaussian MI of S.
        const = (
            math.lgamma((nu + dx + dy) / 2)
            + math.lgamma(nu / 2)
            - math.lgamma((nu + dx) / 2)
            - math.lgamma((nu + dy) / 2)
            + self.scale.gaussian_mi
        )
        return joint - marginals + const

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        dx, dy = self.dim_x, self.dim_y
        quad_x = self.scale.quad_x(x)[:, None]
        joint = self._log_kernel(quad_x + self.scale.quad_cond(x, y), dx + dy)
        const = self._log_norm(dx + dy) - self._log_norm(dx) - 0.5 * self.scale.logdet_cond
        return joint - self._log_kernel(quad_x, dx) + const

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        const = self._log_norm(self.dim_y) - 0.5 * self.scale.logdet_yy
        return self._log_kernel(self.scale.quad_y(y), self.dim_y) + const
