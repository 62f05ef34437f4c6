"""MI-preserving invertible maps and the tasks they make from a base task.

I(f(X); g(Y)) = I(X; Y) for invertible f and g, so a transformed task keeps its base's MI while
its densities change shape (bounded support, heavy tails, a spiral). Its optimal critic is the
base's at the mapped-back points, since the Jacobians of f and g cancel in the ratio:
``log r'(f(x), g(y)) = log r(x, y)``. Its conditional is
``log p'(g(y) | f(x)) = log p(y | x) - log|det J_g(y)|``.

Reference:
    Czyz et al. 2023, Beyond Normal: On the Evaluation of Mutual Information Estimators
    (arXiv:2306.11078), sec. 4 (normal CDF, half-cube, asinh, spiral).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from mibounds.tasks.base import Task, fmt
from mibounds.tasks.gaussian import Gaussian
from mibounds.validation import unknown_name_error

__all__ = [
    "Asinh",
    "Composed",
    "Cube",
    "Cubic",
    "ElementwiseMap",
    "HalfCube",
    "Linear",
    "Map",
    "NormalCDF",
    "Rotation",
    "Spiral",
    "Transformed",
    "make_map",
    "map_names",
    "mixing_matrix",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Map(ABC):
    """An invertible, differentiable map of ``R^d`` (rows of a ``[K, d]`` batch).

    Attributes:
        name: Label used in task ids, e.g. ``"asinh"`` or ``"spiral-v0.5"``.
        volume_preserving: True when ``log|det J| = 0`` everywhere (then h(X) is unchanged).
        min_dim: Smallest d the map is defined for.
    """

    name: str
    volume_preserving: bool = False
    min_dim: int = 1

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """``f(x)`` for ``x [K, d]``; returns ``[K, d]``."""

    @abstractmethod
    def inverse(self, y: Tensor) -> Tensor:
        """``f^{-1}(y)`` for ``y [K, d]`` in the image of f; returns ``[K, d]``."""

    @abstractmethod
    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``log|det df/dx|`` at each row of ``x [K, d]`` (a point of the domain); returns ``[K]``."""

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ElementwiseMap(Map):
    """A map applying one increasing scalar function to every coordinate.

    ``log|det J| = sum_k log|f'(x_k)|``.
    """

    @abstractmethod
    def log_abs_derivative(self, x: Tensor) -> Tensor:
        """``log|f'(x)|`` elementwise; returns the shape of ``x``."""

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        return self.log_abs_derivative(x).sum(-1)


class NormalCDF(ElementwiseMap):
    """``Phi(x)``, the standard normal CDF: ``R -> (0, 1)``; inverse ``Phi^{-1}`` (``ndtri``, the
    erfinv-based quantile accurate in both tails); ``log Phi'(x) = -x^2/2 - log(2 pi)/2``.

    Phi rounds to 1 for x above about 8.3 in float64 (5.4 in float32), where it stops being
    invertible; keep it for light-tailed bases (Gaussians), not heavy-tailed Student-t ones.
    """

    name = "normal-cdf"

    def forward(self, x: Tensor) -> Tensor:
        return torch.special.ndtr(x)

    def inverse(self, y: Tensor) -> Tensor:
        return torch.special.ndtri(y)

    def log_abs_derivative(self, x: Tensor) -> Tensor:
        return -0.5 * x.square() - _HALF_LOG_2PI


class HalfCube(ElementwiseMap):
    """``x sqrt|x|`` (``sign(x) |x|^{3/2}``); inverse ``sign(y) |y|^{2/3}``; ``log f' = log 1.5 + log|x| / 2``."""

    name = "half-cube"

    def forward(self, x: Tensor) -> Tensor:
        return x * x.abs().sqrt()

    def inverse(self, y: Tensor) -> Tensor:
        return y.sign() * y.abs().pow(2.0 / 3.0)

    def log_abs_derivative(self, x: Tensor) -> Tensor:
        return math.log(1.5) + 0.5 * x.abs().log()


class Asinh(ElementwiseMap):
    """``asinh(x)`` (compresses the tails); inverse ``sinh``; ``log f' = -log(1 + x^2) / 2``."""

    name = "asinh"

    def forward(self, x: Tensor) -> Tensor:
        return torch.asinh(x)

    def inverse(self, y: Tensor) -> Tensor:
        return torch.sinh(y)

    def log_abs_derivative(self, x: Tensor) -> Tensor:
        return -0.5 * torch.log1p(x.square())


class Cube(ElementwiseMap):
    """``x^3`` (the cubic task of Poole et al. 2019); inverse ``sign(y) |y|^{1/3}``; ``log f' = log 3 + 2 log|x|``."""

    name = "cube"

    def forward(self, x: Tensor) -> Tensor:
        return x.pow(3)

    def inverse(self, y: Tensor) -> Tensor:
        return y.sign() * y.abs().pow(1.0 / 3.0)

    def log_abs_derivative(self, x: Tensor) -> Tensor:
        return math.log(3.0) + 2.0 * x.abs().log()


class Spiral(Map):
    """``x -> R(speed |x|^2) x``: rotate the plane of the first two coordinates by an angle that
    grows with the squared norm of the whole vector.

    The rotation keeps ``|x|``, so the inverse rotates back by the same angle computed from
    ``|y|``. Volume preserving: ``J = R (I + 2 speed G x x^T)`` with G the skew generator of the
    rotation, and ``det(I + 2 speed G x x^T) = 1 + 2 speed x^T G x = 1``.

    Args:
        speed: Radians per unit of ``|x|^2`` (any finite number; 0 is the identity).
    """

    volume_preserving = True
    min_dim = 2

    def __init__(self, speed: float = 1.0) -> None:
        speed = float(speed)
        if not math.isfinite(speed):
            raise ValueError(f"speed must be a finite number of radians per unit of |x|^2, got {speed}")
        self.speed = speed
        self.name = f"spiral-v{fmt(speed)}"

    def _rotate(self, x: Tensor, angle: Tensor) -> Tensor:
        cos, sin = angle.cos(), angle.sin()
        first, second = x[:, 0], x[:, 1]
        rotated = torch.stack([cos * first - sin * second, sin * first + cos * second], dim=1)
        return torch.cat([rotated, x[:, 2:]], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self._rotate(x, self.speed * x.square().sum(-1))

    def inverse(self, y: Tensor) -> Tensor:
        return self._rotate(y, -self.speed * y.square().sum(-1))

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0])


class Rotation(Map):
    r"""``x -> C x`` with ``C`` the orthonormal DCT-II matrix: every output coordinate mixes every input.

    :math:`C_{kj} = s_k \cos(\pi (j + 1/2) k / d)` with :math:`s_0 = \sqrt{1/d}`,
    :math:`s_k = \sqrt{2/d}`; ``C`` is orthogonal, so the map is volume preserving and its inverse is
    ``C^T``. Fixed (no parameters, no randomness), so a task id names one map.

    Why it exists: per-column increasing maps (the estimator's normal scores) undo any elementwise
    transform exactly, so ``half-cube(gaussian...)`` tests nothing about a critic. Mixing the
    coordinates *after* an elementwise map (``rotate(half-cube(...))``) keeps the MI and the shape
    change while no per-column map can undo it.
    """

    name = "rotate"
    volume_preserving = True
    min_dim = 2

    @staticmethod
    def matrix(dim: int, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
        """The ``[dim, dim]`` orthonormal DCT-II matrix ``C``."""
        k = torch.arange(dim, dtype=torch.float64)[:, None]
        j = torch.arange(dim, dtype=torch.float64)[None, :]
        c = torch.cos(math.pi * (j + 0.5) * k / dim) * math.sqrt(2.0 / dim)
        c[0] = math.sqrt(1.0 / dim)
        return c.to(dtype=dtype, device=device)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.matrix(x.shape[-1], x.dtype, x.device).T

    def inverse(self, y: Tensor) -> Tensor:
        return y @ self.matrix(y.shape[-1], y.dtype, y.device)

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0])


class Linear(Map):
    r"""``x -> W x`` for a fixed invertible ``[d, d]`` matrix ``W``.

    ``log|det J| = log|det W|`` everywhere; the inverse applies :math:`W^{-1}`, computed once in
    float64. Not in the by-name registry of maps: a matrix is no label (:class:`Cubic` names its
    seeded ``W`` in its own id).

    Args:
        matrix: ``W``, square and invertible.
        name: Label of the map (shown in ``repr``).

    Raises:
        ValueError: If ``matrix`` is not square or is numerically singular (condition number above 1e8).
    """

    def __init__(self, matrix: Tensor, name: str = "linear") -> None:
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
            raise ValueError(f"matrix must be a non-empty square matrix, got shape {tuple(matrix.shape)}")
        singular_values = torch.linalg.svdvals(matrix)
        if not bool(singular_values[-1] * 1e8 > singular_values[0]):
            raise ValueError(
                f"matrix is singular or nearly so (condition number {float(singular_values[0] / singular_values[-1]):.3g}); "
                "pass a full-rank matrix"
            )
        self.matrix, self.inverse_matrix = matrix, torch.linalg.inv(matrix)
        self.log_abs_det = float(torch.linalg.slogdet(matrix)[1])
        self.min_dim = matrix.shape[0]
        self.name = name

    def _check(self, x: Tensor) -> None:
        if x.shape[-1] != self.matrix.shape[0]:
            raise ValueError(f"the {self.name} map acts on {self.matrix.shape[0]} coordinates, got {x.shape[-1]}")

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return x @ self.matrix.to(dtype=x.dtype, device=x.device).T

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y)
        return y @ self.inverse_matrix.to(dtype=y.dtype, device=y.device).T

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        return x.new_full((x.shape[0],), self.log_abs_det)


class Composed(Map):
    """``x -> second(first(x))``; ``log|det J| = log|det J_first(x)| + log|det J_second(first(x))|``.

    Args:
        first: The map applied first.
        second: The map applied to its output.
        name: Label (default ``"<second>-of-<first>"``).
    """

    def __init__(self, first: Map, second: Map, name: str | None = None) -> None:
        self.first, self.second = first, second
        self.volume_preserving = first.volume_preserving and second.volume_preserving
        self.min_dim = max(first.min_dim, second.min_dim)
        self.name = name or f"{second.name}-of-{first.name}"

    def forward(self, x: Tensor) -> Tensor:
        return self.second.forward(self.first.forward(x))

    def inverse(self, y: Tensor) -> Tensor:
        return self.first.inverse(self.second.inverse(y))

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        inner = self.first.forward(x)
        return self.first.log_abs_det_jacobian(x) + self.second.log_abs_det_jacobian(inner)


_MAPS: dict[str, type[Map]] = {m.name: m for m in (NormalCDF, HalfCube, Asinh, Cube, Rotation)}
_MAP_SUMMARIES = {
    "normal-cdf": "standard normal CDF elementwise (support (0, 1))",
    "half-cube": "x sqrt|x| elementwise (heavier tails)",
    "asinh": "asinh elementwise (lighter tails)",
    "cube": "x^3 elementwise",
    "spiral": "rotation of the first coordinate plane by speed * |x|^2 (volume preserving)",
    "rotate": "fixed orthonormal (DCT-II) mixing of all coordinates (volume preserving)",
}
_NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# Regex alternation of every map label (spiral with its speed).
_MAP_LABEL = r"(?:normal-cdf|half-cube|asinh|cube|rotate|spiral-v" + _NUMBER + ")"


def map_names() -> list[str]:
    """Names of the maps :func:`make_map` builds."""
    return list(_MAP_SUMMARIES)


def make_map(name: str, **params: float) -> Map:
    """Build a map by name (``"asinh"``, ``"spiral"``, ...) or by label (``"spiral-v0.5"``).

    Raises:
        ValueError: For an unknown name, listing the valid ones.
    """
    name = str(name).strip().lower()
    if name in _MAPS:
        if params:
            raise ValueError(f"map {name!r} takes no parameters, got {sorted(params)}")
        return _MAPS[name]()
    if name == "spiral":
        return Spiral(**params)
    match = re.fullmatch(r"spiral-v(" + _NUMBER + ")", name)
    if match and not params:
        return Spiral(float(match.group(1)))
    raise unknown_name_error("map", name, map_names())


def _as_map(value: Map | str | None, side: str) -> Map | None:
    if value is None or isinstance(value, Map):
        return value
    if isinstance(value, str):
        return make_map(value)
    raise TypeError(f"{side}_map must be a Map, a map name or None, got {type(value).__name__}")


def _transformed_name(base: str, x_map: Map | None, y_map: Map | None) -> str:
    """``"asinh(base)"`` when both sides share a map, else ``"asinh-x(base)"``,
    ``"cube-y(base)"`` or ``"half-cube-x-asinh-y(base)"``."""
    labels = {"x": None if x_map is None else x_map.name, "y": None if y_map is None else y_map.name}
    if labels["x"] is not None and labels["x"] == labels["y"]:
        prefix = labels["x"]
    else:
        prefix = "-".join(f"{label}-{side}" for side, label in labels.items() if label is not None)
    return f"{prefix}({base})"


class Transformed(Task):
    """A base task seen through invertible maps: ``(f(X), g(Y))`` with ``(X, Y) ~ base``.

    Same MI as the base. ``log_ratio(x', y') = base.log_ratio(f^{-1}(x'), g^{-1}(y'))``;
    ``log_conditional`` and ``log_marginal_y`` subtract ``log|det J_g|`` at ``g^{-1}(y')``.
    ``entropy_x`` is the base's when f is absent or volume preserving, unknown otherwise.

    Args:
        base: The task to transform.
        x_map: Map applied to x (a :class:`Map`, a map name such as ``"asinh"``, or None).
        y_map: Map applied to y (likewise).

    Raises:
        ValueError: If both maps are None, or a map needs more dimensions than its side has.

    Example:
        >>> task = Transformed(Gaussian(dim=5, mi=1.0), "asinh", "asinh")
        >>> task.name, task.mutual_information
        ('asinh(gaussian-d5-mi1)', 1.0)
    """

    def __init__(self, base: Task, x_map: Map | str | None = None, y_map: Map | str | None = None) -> None:
        if not isinstance(base, Task):
            raise TypeError(f"base must be a mibounds.tasks.Task, got {type(base).__name__}")
        self.base = base
        self.x_map = _as_map(x_map, "x")
        self.y_map = _as_map(y_map, "y")
        if self.x_map is None and self.y_map is None:
            raise ValueError("pass an x_map, a y_map or both; without a map the task is the base itself")
        for side, m, dim in (("x", self.x_map, base.dim_x), ("y", self.y_map, base.dim_y)):
            if m is not None and dim < m.min_dim:
                raise ValueError(
                    f"the {m.name} map needs at least {m.min_dim} dimensions but dim_{side} = {dim}; "
                    f"use a base task with dim_{side} >= {m.min_dim}"
                )
        self.dim_x, self.dim_y = base.dim_x, base.dim_y
        self.name = _transformed_name(base.name, self.x_map, self.y_map)

    @property
    def mutual_information(self) -> float:
        """The base's MI (invertible maps of x and of y preserve it), in nats."""
        return self.base.mutual_information

    @property
    def mutual_information_stderr(self) -> float:
        """The base's standard error of its MI (0 for a closed form), in nats."""
        return self.base.mutual_information_stderr

    @property
    def entropy_x(self) -> float:
        """The base's h(X) when the x map is absent or volume preserving."""
        if self.x_map is None or self.x_map.volume_preserving:
            return self.base.entropy_x
        raise NotImplementedError(
            f"h(X) of task {self.name!r} is not known in closed form: the {self.x_map.name} map changes volume"
        )

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self.base._sample(n, generator)
        return self._forward(x, y)

    def _forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Map base points to this task's points."""
        return (
            x if self.x_map is None else self.x_map.forward(x),
            y if self.y_map is None else self.y_map.forward(y),
        )

    def _inverse_x(self, x: Tensor) -> Tensor:
        return x if self.x_map is None else self.x_map.inverse(x)

    def _inverse_y(self, y: Tensor) -> Tensor:
        return y if self.y_map is None else self.y_map.inverse(y)

    def _log_det_y(self, base_y: Tensor) -> Tensor | float:
        return 0.0 if self.y_map is None else self.y_map.log_abs_det_jacobian(base_y)

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        return self.base.log_ratio(self._inverse_x(x), self._inverse_y(y))

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        base_y = self._inverse_y(y)
        log_det = self._log_det_y(base_y)
        log_det = log_det[None, :] if isinstance(log_det, Tensor) else log_det
        return self.base.log_conditional(self._inverse_x(x), base_y) - log_det

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        base_y = self._inverse_y(y)
        return self.base.log_marginal_y(base_y) - self._log_det_y(base_y)


def mixing_matrix(dim: int, seed: int) -> Tensor:
    """The seeded mixing matrix of :class:`Cubic`: ``G / sqrt(dim)``, G of i.i.d. N(0, 1) entries.

    Drawn in float64 by a CPU ``torch.Generator`` seeded with ``seed``, so a seed names one matrix on
    every machine. Each row has squared norm about 1, so ``W y`` keeps unit-ish coordinates; such a
    matrix is full rank with probability 1 (at d = 20, seed 0: condition number 68,
    ``log|det W|`` = -11.1).
    """
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(dim, dim, generator=generator, dtype=torch.float64) / math.sqrt(dim)


class Cubic(Transformed):
    r"""The cubic task of Poole et al. 2019: the correlated Gaussian seen as :math:`(x, (W y)^3)`.

    ``y -> (W y)^3`` (the cube elementwise after a full-rank linear mixing ``W``) is invertible, so
    the MI is the Gaussian's. ``W`` is :func:`mixing_matrix` ``(dim, mixing_seed)``, fixed by the
    seed; ``mixing_seed=None`` leaves it out (``y -> y^3``, the task this package called ``cubic``
    before ``W`` was added). The exact log ratio is the Gaussian's at
    :math:`y = W^{-1} \mathrm{cbrt}(y')` (the Jacobians cancel); the conditional subtracts
    :math:`\log|\det W| + \sum_k \log(3 (W y)_k^2)`.

    A per-column increasing map (the estimator's normal scores) undoes the cube but not ``W``:
    what it leaves, ``(x, W y)``, is jointly Gaussian, so the task still tests little beyond the
    Gaussian copula (docs/design.md §5).

    Ids: ``"cubic-d20-mi2-w0"`` (``W`` from seed 0, the default), ``"cubic-d20-mi2"`` (no ``W``).

    Args:
        dim: d, the dimension of x and of y.
        mi: The mutual information in nats, >= 0.
        mixing_seed: Seed of ``W`` (an int >= 0), or None for no mixing.

    Reference:
        Poole et al. 2019, On Variational Bounds of Mutual Information (arXiv:1905.06922), sec. 4.

    Example:
        >>> task = Cubic(dim=3, mi=1.0)
        >>> task.name, task.mutual_information, tuple(task.mixing.shape)
        ('cubic-d3-mi1-w0', 1.0, (3, 3))
        >>> Cubic(dim=3, mi=1.0, mixing_seed=None).name
        'cubic-d3-mi1'
    """

    def __init__(self, dim: int = 20, mi: float = 2.0, mixing_seed: int | None = 0) -> None:
        gaussian = Gaussian(dim, mi)
        if mixing_seed is None:
            y_map: Map = Cube()
            self.mixing: Tensor | None = None
        else:
            if isinstance(mixing_seed, bool) or not isinstance(mixing_seed, int) or mixing_seed < 0:
                raise ValueError(f"mixing_seed must be an int >= 0 (the seed of W) or None (no W), got {mixing_seed!r}")
            self.mixing = mixing_matrix(gaussian.dim, mixing_seed)
            y_map = Composed(Linear(self.mixing, f"w{mixing_seed}"), Cube())
        super().__init__(gaussian, None, y_map)
        self.dim, self.mi, self.rho, self.mixing_seed = gaussian.dim, gaussian.mi, gaussian.rho, mixing_seed
        self.name = f"cubic-d{self.dim}-mi{fmt(self.mi)}" + ("" if mixing_seed is None else f"-w{mixing_seed}")

    def with_mi(self, mi: float) -> Cubic:
        """The same task (same ``W``) at another MI (a new task; this one is unchanged)."""
        return Cubic(self.dim, mi, self.mixing_seed)
