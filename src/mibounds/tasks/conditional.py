"""Gaussian triples (x, y, z) with known conditional mutual information I(X; Y | Z) (nats).

For a jointly Gaussian ``(X, Y, Z)`` with covariance Σ every information quantity is a sum of
log-determinants of blocks of Σ:

.. math::
    I(X; Y \\mid Z) = \\tfrac12 \\log \\frac{|\\Sigma_{XZ}|\\, |\\Sigma_{YZ}|}{|\\Sigma_{Z}|\\, |\\Sigma_{XYZ}|},
    \\qquad
    I(X; Y) = \\tfrac12 \\log \\frac{|\\Sigma_{X}|\\, |\\Sigma_{Y}|}{|\\Sigma_{XY}|}.

:class:`ConditionalGaussian` holds Σ and computes both. Two constructions:

- :meth:`ConditionalGaussian.confounded`: ``X = U + b Z``, ``Y = V + b Z`` with ``(U, V)`` the
  correlated Gaussian of :class:`~mibounds.tasks.Gaussian` at ``cmi`` nats, independent of
  ``Z ~ N(0, I)``. Given Z, X and Y carry exactly the dependence of U and V, so
  ``I(X; Y | Z) = cmi``, while Z adds dependence of its own: ``I(X; Y) > cmi`` for ``b != 0``.
  At ``cmi = 0`` it is a common cause: ``I(X; Y) > 0 = I(X; Y | Z)``.
- :meth:`ConditionalGaussian.collider`: X and Y independent standard normal, ``Z = X + Y +
  noise · E``: ``I(X; Y) = 0 < I(X; Y | Z)`` (conditioning on a common effect creates dependence).

Example:
    >>> from mibounds.tasks import ConditionalGaussian
    >>> task = ConditionalGaussian.confounded(dim=5, cmi=1.0)
    >>> round(task.conditional_mutual_information, 6), task.mutual_information > 1.0
    (1.0, True)
    >>> x, y, z = task.sample(100, seed=0)
    >>> x.shape, y.shape, z.shape
    (torch.Size([100, 5]), torch.Size([100, 5]), torch.Size([100, 5]))
    >>> ConditionalGaussian.collider(dim=2).mutual_information
    0.0
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibounds.tasks.base import check_dimensions, check_int, check_nonnegative, fmt
from mibounds.tasks.gaussian import gaussian_correlation

__all__ = ["ConditionalGaussian"]


class ConditionalGaussian:
    """A zero-mean Gaussian ``(X, Y, Z)`` given by its covariance, with I(X; Y | Z) in closed form.

    Args:
        covariance: ``[dx + dy + dz, dx + dy + dz]`` symmetric positive definite (float64).
        dim_x, dim_y, dim_z: Block sizes, in the order x, y, z.
        name: Label of the task.
    """

    def __init__(
        self,
        covariance: Tensor,
        dim_x: int,
        dim_y: int,
        dim_z: int,
        name: str = "conditional-gaussian",
    ) -> None:
        self.dim_x = check_int(dim_x, "dim_x", minimum=1)
        self.dim_y = check_int(dim_y, "dim_y", minimum=1)
        self.dim_z = check_int(dim_z, "dim_z", minimum=1)
        covariance = torch.as_tensor(covariance, dtype=torch.float64)
        size = self.dim_x + self.dim_y + self.dim_z
        if covariance.shape != (size, size) or not torch.allclose(covariance, covariance.T):
            raise ValueError(
                f"covariance must be a symmetric [{size}, {size}] matrix, got shape {tuple(covariance.shape)}"
            )
        self.covariance = covariance
        self._cholesky = torch.linalg.cholesky(covariance)  # raises unless positive definite
        self.name = name

    @classmethod
    def confounded(cls, dim: int = 5, cmi: float = 1.0, strength: float = 1.0) -> ConditionalGaussian:
        """``X = U + b Z``, ``Y = V + b Z``: I(X; Y | Z) = ``cmi`` exactly (see the module docstring).

        Args:
            dim: Dimension of each of x, y and z.
            cmi: I(X; Y | Z) in nats (0: Z is a pure common cause).
            strength: b, how strongly Z drives both.
        """
        dim = check_int(dim, "dim", minimum=1)
        check_dimensions(dim, dim, dim)
        cmi = check_nonnegative(cmi, "cmi")
        rho, _ = gaussian_correlation(dim, cmi)
        eye = torch.eye(dim, dtype=torch.float64)
        b = _check_finite(float(strength), "strength")
        # Blocks of Cov(X, Y, Z) for X = U + bZ, Y = V + bZ, Cov(U, V) = rho I, Z independent.
        covariance = torch.cat(
            [
                torch.cat([(1 + b * b) * eye, (rho + b * b) * eye, b * eye], dim=1),
                torch.cat([(rho + b * b) * eye, (1 + b * b) * eye, b * eye], dim=1),
                torch.cat([b * eye, b * eye, eye], dim=1),
            ]
        )
        return cls(covariance, dim, dim, dim, f"confounded-d{dim}-cmi{fmt(cmi)}-b{fmt(b)}")

    @classmethod
    def collider(cls, dim: int = 5, noise: float = 1.0) -> ConditionalGaussian:
        """X, Y independent ``N(0, I)`` and ``Z = X + Y + noise · E``: I(X; Y) = 0 < I(X; Y | Z)."""
        dim = check_int(dim, "dim", minimum=1)
        check_dimensions(dim, dim, dim)
        noise = check_nonnegative(noise, "noise")
        if noise == 0:
            raise ValueError("noise must be > 0: with Z = X + Y exactly, I(X; Y | Z) is infinite")
        eye = torch.eye(dim, dtype=torch.float64)
        zero = torch.zeros(dim, dim, dtype=torch.float64)
        covariance = torch.cat(
            [
                torch.cat([eye, zero, eye], dim=1),
                torch.cat([zero, eye, eye], dim=1),
                torch.cat([eye, eye, (2 + noise * noise) * eye], dim=1),
            ]
        )
        return cls(covariance, dim, dim, dim, f"collider-d{dim}-noise{fmt(noise)}")

    def _logdet(self, *blocks: str) -> float:
        offsets = {"x": 0, "y": self.dim_x, "z": self.dim_x + self.dim_y}
        sizes = {"x": self.dim_x, "y": self.dim_y, "z": self.dim_z}
        index = torch.cat([torch.arange(offsets[b], offsets[b] + sizes[b]) for b in blocks])
        return float(torch.logdet(self.covariance[index][:, index]))

    @property
    def conditional_mutual_information(self) -> float:
        """I(X; Y | Z) in nats, from log-determinants of Σ's blocks."""
        value = 0.5 * (
            self._logdet("x", "z") + self._logdet("y", "z") - self._logdet("z") - self._logdet("x", "y", "z")
        )
        return max(value, 0.0)

    @property
    def mutual_information(self) -> float:
        """I(X; Y) in nats (Z left out)."""
        return max(0.5 * (self._logdet("x") + self._logdet("y") - self._logdet("x", "y")), 0.0)

    def sample(
        self, n: int, seed: int | None = None, *, dtype: torch.dtype = torch.float32
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Draw ``n`` independent triples: ``x [n, dx]``, ``y [n, dy]``, ``z [n, dz]``.

        Args:
            n: Number of triples, at least 1.
            seed: Seed of a fresh generator (None: torch's global generator).
            dtype: Floating dtype of the result (sampling itself is float64).
        """
        n = check_int(n, "n", minimum=1)
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        noise = torch.randn(n, len(self.covariance), generator=generator, dtype=torch.float64)
        joint = (noise @ self._cholesky.T).to(dtype)
        return joint.split([self.dim_x, self.dim_y, self.dim_z], dim=1)

    def __repr__(self) -> str:
        return (
            f"ConditionalGaussian({self.name!r}, I(X;Y|Z)={self.conditional_mutual_information:.4g}, "
            f"I(X;Y)={self.mutual_information:.4g})"
        )


def _check_finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value
