"""Jointly Gaussian tasks: the correlated Gaussian of Poole et al. 2019 and general multinormals."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibounds.tasks.base import Task, check_dimensions, check_int, check_nonnegative, fmt
from mibounds.tasks.scale import JointScale, dense_scale, sparse_scale

__all__ = ["Gaussian", "MultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


class _Normal(Task):
    """``(X, Y) ~ N(0, S)`` for a joint covariance ``S`` held by a :class:`JointScale`.

    Densities (nats), with the quadratic forms of :mod:`mibounds.tasks.scale`:

    - ``log p(y | x) = -q_c(x, y) / 2 - logdet(C) / 2 - (dy / 2) log 2 pi``,
    - ``log p(y) = -q_y(y) / 2 - logdet(S_yy) / 2 - (dy / 2) log 2 pi``,
    - ``log r(x, y) = (q_y(y) - q_c(x, y)) / 2 + I``, with ``I = (logdet S_yy - logdet C) / 2``.
    """

    def _setup(self, scale: JointScale, name: str) -> None:
        self.scale = scale
        self.dim_x, self.dim_y = scale.dim_x, scale.dim_y
        self.name = name

    @property
    def mutual_information(self) -> float:
        """``0.5 (logdet S_xx + logdet S_yy - logdet S)`` nats."""
        return self.scale.gaussian_mi

    @property
    def entropy_x(self) -> float:
        """``h(X) = 0.5 logdet(2 pi e S_xx)`` nats."""
        return 0.5 * (self.dim_x * (_LOG_2PI + 1.0) + self.scale.logdet_xx)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return self.scale.sample_normal(n, generator)

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        quad = self.scale.quad_cond(x, y) - self.scale.quad_y(y)[None, :]
        return -0.5 * quad + self.mutual_information

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        const = 0.5 * (self.scale.logdet_cond + self.dim_y * _LOG_2PI)
        return -0.5 * self.scale.quad_cond(x, y) - const

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        const = 0.5 * (self.scale.logdet_yy + self.dim_y * _LOG_2PI)
        return -0.5 * self.scale.quad_y(y) - const


class MultivariateNormal(_Normal):
    """A zero-mean joint Gaussian ``(X, Y) ~ N(0, S)`` with a given joint covariance.

    ``I(X; Y) = 0.5 (logdet S_xx + logdet S_yy - logdet S)`` nats. Use :meth:`dense` and
    :meth:`sparse` for the multinormal tasks of Czyz et al. 2023.

    Args:
        cov_xx: ``[dim_x, dim_x]`` covariance of X.
        cov_xy: ``[dim_x, dim_y]`` cross-covariance.
        cov_yy: ``[dim_y, dim_y]`` covariance of Y.

    Raises:
        ValueError: If the blocks have inconsistent shapes or the joint matrix is not symmetric
            positive definite.

    Reference:
        Czyz et al. 2023, Beyond Normal: On the Evaluation of Mutual Information Estimators
        (arXiv:2306.11078).

    Example:
        >>> task = MultivariateNormal.sparse(dim_x=3, dim_y=3, n_interacting=2, correlation=0.8)
        >>> task.name, round(task.mutual_information, 4)
        ('mvn-sparse-dx3-dy3-k2-c0.8', 1.0217)
    """

    def __init__(self, cov_xx: Tensor, cov_xy: Tensor, cov_yy: Tensor) -> None:
        scale = JointScale(cov_xx, cov_xy, cov_yy)
        self._setup(scale, f"mvn-dx{scale.dim_x}-dy{scale.dim_y}-cov{scale.fingerprint()}")

    @classmethod
    def _from_scale(cls, scale: JointScale, name: str) -> MultivariateNormal:
        task = cls.__new__(cls)
        task._setup(scale, name)
        return task

    @classmethod
    def from_joint(cls, covariance: Tensor, dim_x: int) -> MultivariateNormal:
        """Build from the full ``[dim_x + dim_y, dim_x + dim_y]`` joint covariance (x first)."""
        covariance = torch.as_tensor(covariance, dtype=torch.float64)
        if covariance.dim() != 2 or covariance.shape[0] != covariance.shape[1]:
            raise ValueError(f"covariance must be a square matrix, got shape {tuple(covariance.shape)}")
        dim_x = check_int(dim_x, "dim_x", minimum=1)
        if dim_x >= covariance.shape[0]:
            raise ValueError(
                f"dim_x = {dim_x} leaves no coordinates for Y in a {covariance.shape[0]}-d joint covariance; "
                "pass dim_x smaller than the matrix size"
            )
        if not torch.allclose(covariance, covariance.T, rtol=1e-12, atol=1e-12):
            raise ValueError("covariance is not symmetric; pass (M + M.T) / 2 or a symmetric matrix")
        return cls(covariance[:dim_x, :dim_x], covariance[:dim_x, dim_x:], covariance[dim_x:, dim_x:])

    @classmethod
    def dense(
        cls, dim_x: int = 3, dim_y: int = 3, correlation: float = 0.25, within_correlation: float = 0.0
    ) -> MultivariateNormal:
        """Unit variances, all x-y correlations ``correlation``, all within-X and within-Y ones
        ``within_correlation`` (Czyz et al.'s "dense" task sets both to 0.5).

        With ``within_correlation = 0`` the matrix is positive definite only for
        ``|correlation| < 1 / sqrt(dim_x dim_y)``. Id: ``"mvn-dense-dx3-dy3-c0.5"`` (plus
        ``"-w<within>"`` when it is not 0).
        """
        scale = dense_scale(dim_x, dim_y, correlation, within_correlation)
        name = f"mvn-dense-dx{dim_x}-dy{dim_y}-c{fmt(correlation)}"
        if within_correlation != 0:
            name += f"-w{fmt(within_correlation)}"
        return cls._from_scale(scale, name)

    @classmethod
    def sparse(
        cls, dim_x: int = 3, dim_y: int = 3, n_interacting: int = 2, correlation: float = 0.8
    ) -> MultivariateNormal:
        """Unit variances; only ``(x_i, y_i)`` for ``i < n_interacting`` correlated.

        ``I = -(n_interacting / 2) log(1 - correlation^2)`` nats. Id:
        ``"mvn-sparse-dx3-dy3-k2-c0.8"``.
        """
        scale = sparse_scale(dim_x, dim_y, n_interacting, correlation)
        return cls._from_scale(scale, f"mvn-sparse-dx{dim_x}-dy{dim_y}-k{n_interacting}-c{fmt(correlation)}")


def gaussian_correlation(dim: int, mi: float) -> tuple[float, float]:
    """``(rho, 1 - rho^2)`` of the correlated Gaussian with ``dim`` pairs and ``mi`` nats.

    ``1 - rho^2 = exp(-2 I / d)`` is computed directly (no cancellation at high MI).
    """
    cond_var = math.exp(-2.0 * mi / dim)
    if cond_var == 0.0:
        raise ValueError(
            f"mi = {mi} nats over dim = {dim} dimensions makes y a deterministic function of x in "
            "float64 (exp(-2 mi / dim) underflows); lower mi or raise dim"
        )
    return math.sqrt(-math.expm1(-2.0 * mi / dim)), cond_var


class Gaussian(_Normal):
    """The correlated Gaussian of Poole et al. 2019.

    ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps`` with ``eps ~ N(0, I_d)``, so each
    coordinate pair has correlation ``rho = sqrt(1 - exp(-2 I / d))`` and
    ``I(X; Y) = -(d / 2) log(1 - rho^2)`` nats.

    Args:
        dim: d, the dimension of x and of y.
        mi: The mutual information I in nats, >= 0.

    Reference:
        Poole et al. 2019, On Variational Bounds of Mutual Information (arXiv:1905.06922), sec. 4.

    Example:
        >>> task = Gaussian(dim=20, mi=2.0)
        >>> task.name, task.mutual_information
        ('gaussian-d20-mi2', 2.0)
        >>> x, y = task.sample(64, seed=0)
        >>> task.log_ratio(x, y).shape
        torch.Size([64, 64])
    """

    def __init__(self, dim: int = 20, mi: float = 2.0) -> None:
        self.dim = check_int(dim, "dim", minimum=1)
        check_dimensions(self.dim, self.dim)
        self.mi = check_nonnegative(mi, "mi")
        self.rho, cond_var = gaussian_correlation(self.dim, self.mi)
        eye = torch.eye(self.dim, dtype=torch.float64)
        scale = JointScale(eye, self.rho * eye, eye, cond_cov=cond_var * eye)
        self._setup(scale, f"gaussian-d{self.dim}-mi{fmt(self.mi)}")

    @property
    def mutual_information(self) -> float:
        """``mi`` exactly (``-(d/2) log(1 - rho^2)``)."""
        return self.mi

    def with_mi(self, mi: float) -> Gaussian:
        """The same task at another MI (a new task; this one is unchanged)."""
        return Gaussian(self.dim, mi)
