"""The task interface: a joint distribution p(x, y) with known mutual information.

A task samples paired batches and, where the densities are known in closed form, evaluates the
optimal critic ``log p(x, y) / (p(x) p(y))`` on every pair of a batch. All quantities are in nats.
Sampling happens in float64 (on the CPU, or on the generator's device) and is cast afterwards,
so a seed gives the same numbers whatever ``dtype`` and ``device`` are asked for.

Example:
    >>> import torch
    >>> from mibounds import tasks
    >>> task = tasks.make("gaussian", dim=2, mi=1.0)
    >>> x, y = task.sample(4, seed=0)
    >>> round(task.mutual_information, 6), tuple(task.log_ratio(x, y).shape)
    (1.0, (4, 4))
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from mibounds.validation import MAX_SEED, check_allocation, check_int

__all__ = ["Task"]


class Task(ABC):
    """A ground-truth joint distribution p(x, y) with a closed-form mutual information.

    Subclasses set ``name``, ``dim_x``, ``dim_y``, implement :attr:`mutual_information` and
    ``_sample``, and override the private ``_log_*`` methods for the densities they know. The
    public methods check their inputs and call those.

    Attributes:
        name: An id that encodes the parameters, e.g. ``"gaussian-d20-mi2"``;
            ``tasks.make(name)`` rebuilds the task where the id is parseable.
        dim_x: Number of features of x.
        dim_y: Number of features of y.

    Reference:
        Czyz et al. 2023, Beyond Normal: On the Evaluation of Mutual Information Estimators
        (arXiv:2306.11078), for the idea of named, frozen samplers with known MI.
    """

    name: str
    dim_x: int
    dim_y: int

    @property
    @abstractmethod
    def mutual_information(self) -> float:
        """I(X; Y) in nats, in closed form."""

    @property
    def mutual_information_stderr(self) -> float:
        """Standard error of :attr:`mutual_information` in nats: 0 for a closed form, the
        Monte-Carlo standard error for tasks whose MI is a seeded Monte-Carlo mean."""
        return 0.0

    @property
    def entropy_x(self) -> float:
        """Differential entropy h(X) in nats (needed by the Barber-Agakov bound)."""
        raise NotImplementedError(f"the differential entropy h(X) of task {self.name!r} is not known in closed form")

    # -- sampling ---------------------------------------------------------------------------

    def sample(
        self,
        n: int,
        seed: int | None = None,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Draw ``n`` independent pairs from the joint p(x, y).

        Args:
            n: Number of pairs, at least 1.
            seed: Seed of a fresh generator: the same seed gives the same pairs, whatever
                ``dtype``/``device``. Leave both ``seed`` and ``generator`` out to use torch's
                global generator.
            generator: A generator to draw from instead (its state advances).
            dtype: Floating dtype of the result (sampling itself is float64).
            device: Device of the result; by default the generator's device (CPU without one).

        Returns:
            ``x [n, dim_x]`` and ``y [n, dim_y]``; row i of each is one sample of the joint.

        Raises:
            ValueError: For ``n < 1``, a non-floating dtype, or both a seed and a generator.
        """
        n = check_int(n, "n", minimum=1, hint="ask for at least one sample")
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype must be a floating torch.dtype such as torch.float32, got {dtype!r}")
        if seed is not None and generator is not None:
            raise ValueError("pass either seed or generator, not both (a seed makes a fresh generator)")
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED, hint="pass a non-negative integer seed")
            generator = torch.Generator().manual_seed(seed)
        check_allocation(
            2 * 8 * n * (self.dim_x + self.dim_y),
            f"sampling {n:,} pairs (x in R^{self.dim_x}, y in R^{self.dim_y}; float64, then {dtype})",
            "ask for fewer samples",
        )
        x, y = self._sample(n, generator)
        return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)

    @abstractmethod
    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``n`` float64 pairs on the generator's device (CPU without one)."""

    # -- densities --------------------------------------------------------------------------

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        """The optimal critic on every pair: ``[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j))`` (nats).

        The diagonal of ``log_ratio(x, y)`` for a joint batch averages to I(X; Y); the
        off-diagonal entries are the density ratio at product-of-marginals pairs. Computed in
        the dtype and on the device of the inputs (float64 in, float64-accurate out).

        Args:
            x: ``[Kx, dim_x]``.
            y: ``[Ky, dim_y]`` (``Ky = Kx = K`` for a batch of pairs).

        Returns:
            ``[Kx, Ky]``.
        """
        self._check_pair(x, y)
        return self._log_ratio(x, y)

    def log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        """The encoder's log-likelihood on every pair: ``[i, j] = log p(y_j | x_i)`` (nats).

        Args:
            x: ``[Kx, dim_x]``.
            y: ``[Ky, dim_y]``.

        Returns:
            ``[Kx, Ky]``; ``log_conditional(x, y) - log_marginal_y(y)[None, :] == log_ratio(x, y)``.
        """
        self._check_pair(x, y)
        return self._log_conditional(x, y)

    def log_marginal_y(self, y: Tensor) -> Tensor:
        """``log p(y_j)`` (nats) for each row of ``y [K, dim_y]``; returns ``[K]``."""
        check_batch(y, self.dim_y, "y")
        return self._log_marginal_y(y)

    def _log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError(f"task {self.name!r} has no closed-form density ratio log p(x, y)/(p(x)p(y))")

    def _log_conditional(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError(f"task {self.name!r} has no closed-form conditional density log p(y | x)")

    def _log_marginal_y(self, y: Tensor) -> Tensor:
        raise NotImplementedError(f"task {self.name!r} has no closed-form marginal density log p(y)")

    def _check_pair(self, x: Tensor, y: Tensor) -> None:
        check_batch(x, self.dim_x, "x")
        check_batch(y, self.dim_y, "y")
        if x.dtype != y.dtype or x.device != y.device:
            raise ValueError(
                f"x is {x.dtype} on {x.device} but y is {y.dtype} on {y.device}; "
                "pass both on the same device with the same dtype"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, mutual_information={self.mutual_information:.6g})"


# -- input checks in the package's message style (see mibounds.validation) ---------------------


def check_batch(t: Tensor, dim: int, name: str) -> None:
    """Check that ``t`` is a floating ``[K, dim]`` tensor with ``K >= 1``."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; wrap it with torch.as_tensor")
    if not torch.is_floating_point(t):
        raise TypeError(f"{name} must be floating point, got dtype {t.dtype}; call {name}.double() or .float()")
    if t.dim() != 2 or t.shape[1] != dim or t.shape[0] < 1:
        raise ValueError(
            f"{name} has shape {tuple(t.shape)} but this task takes {name} as [K, {dim}] "
            "(one row per sample, K >= 1); add a feature axis to 1-d data with .unsqueeze(-1)"
        )


def check_dimensions(*dims: int) -> None:
    """Refuse dimensions whose float64 covariance matrices and factors (about four matrices of
    the joint size, squared) this machine cannot hold, before any is allocated."""
    total = sum(dims)
    check_allocation(
        4 * 8 * total**2,
        f"a task of {' + '.join(map(str, dims))} = {total} dimensions (its {total} x {total} covariance and factors)",
        "pass smaller dimensions",
    )


def check_nonnegative(value: float, name: str) -> float:
    """Check that ``value`` is a finite number >= 0 and return it as a float."""
    value = float(value)
    if not (0 <= value < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_correlation(value: float, name: str = "correlation") -> float:
    """Check that a correlation lies in the open interval (-1, 1) and return it as a float."""
    value = float(value)
    if not -1 < value < 1:
        raise ValueError(f"{name} must lie in (-1, 1), got {value}; |correlation| = 1 makes the covariance singular")
    return value


def fmt(value: float) -> str:
    """Shortest exact text of a number for task ids: ``2.0 -> "2"``, ``0.5 -> "0.5"``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
