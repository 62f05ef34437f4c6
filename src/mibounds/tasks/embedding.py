r"""Low-dimensional tasks embedded injectively into a wide space, as learned embeddings are.

Representations of real data are wide vectors (hundreds to thousands of coordinates) that lie on
a low-dimensional manifold: the sample covariance is near-singular and most coordinates are
smooth non-linear functions of a few latent ones. :class:`Embedding` is such a map
:math:`e: \mathbb R^k \to \mathbb R^D`, fixed and seeded,

.. math::
    e(u) = Q \begin{pmatrix} u \\ \tanh(A u + a) \\ \sin(B u + b) \end{pmatrix},

with :math:`Q` a random orthogonal :math:`D \times D` matrix (Haar, from a QR factorization),
:math:`A, B` random projections with :math:`N(0, 1/k)` entries onto :math:`\lceil (D - k)/2
\rceil` and :math:`\lfloor (D - k)/2 \rfloor` features, :math:`a \sim U(-1, 1)`,
:math:`b \sim U(0, 2\pi)`. The input itself is among the stacked coordinates, so e is injective,
with the left inverse :math:`e^{-1}(z) = (Q^\top z)_{1:k}`; :math:`Q` then spreads the input and
its features over all D coordinates, so no coordinate is the input.

:class:`Embedded` maps x by :math:`e_x` and y by :math:`e_y` (seeds 0 and 1: two different
maps), each side on its own, so :math:`I(e_x(X); e_y(Y)) = I(X; Y)` and the optimal critic is the
base's at the pre-images: :math:`\log r'(e_x(x), e_y(y)) = \log r(x, y)`. The embedded law has no
density in :math:`\mathbb R^D`; :meth:`Embedded.log_conditional` and ``log_marginal_y`` are
densities with respect to the k-dimensional surface measure on the image, the base's divided by
the area factor :math:`\sqrt{\det J^\top J}` with
:math:`J^\top J = I + A^\top \operatorname{diag}(\tanh'^2) A + B^\top \operatorname{diag}(\cos^2) B`
(:meth:`Embedding.log_abs_det_jacobian` returns its log).

Example:
    >>> from mibounds import tasks
    >>> task = tasks.make("embed-d100(gaussian-d5-mi4)")
    >>> x, y = task.sample(3, seed=0)
    >>> x.shape, y.shape, task.mutual_information
    (torch.Size([3, 100]), torch.Size([3, 100]), 4.0)
    >>> base_x, base_y = task.base.sample(3, seed=0)
    >>> bool(torch.allclose(task.x_map.inverse(x), base_x, atol=1e-5))
    True
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch
from torch import Tensor

from mibounds.tasks.base import Task, check_int
from mibounds.tasks.transforms import Map, Transformed

__all__ = ["Embedded", "Embedding"]


@functools.lru_cache(maxsize=16)
def _parameters(dim_in: int, dim_out: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(A, a, B, b, Q)`` in float64 on the CPU, drawn in that order from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    features = dim_out - dim_in
    n_tanh = (features + 1) // 2
    n_sin = features - n_tanh
    scale = 1.0 / math.sqrt(dim_in)
    a_proj = scale * torch.randn(n_tanh, dim_in, generator=g, dtype=torch.float64)
    a_shift = 2.0 * torch.rand(n_tanh, generator=g, dtype=torch.float64) - 1.0
    b_proj = scale * torch.randn(n_sin, dim_in, generator=g, dtype=torch.float64)
    b_shift = 2.0 * math.pi * torch.rand(n_sin, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(torch.randn(dim_out, dim_out, generator=g, dtype=torch.float64))
    q = q * torch.sign(r.diagonal())[None, :]  # the sign fix that makes Q Haar-distributed
    return a_proj, a_shift, b_proj, b_shift, q


class Embedding(Map):
    """A fixed, seeded, injective smooth map ``R^k -> R^D`` (``D > k``); see the module docstring.

    Not a map of ``R^k`` onto itself like the other :class:`~mibounds.tasks.Map` s: ``forward``
    takes ``[K, k]`` to ``[K, D]``, ``inverse`` is the left inverse ``(Q^T z)[:k]`` (exact on the
    image; the least-squares pre-image of the stacked coordinates elsewhere), and
    ``log_abs_det_jacobian`` is the log area factor ``0.5 logdet(J^T J)``.

    Args:
        dim_in: k, the dimension of the input.
        dim_out: D > k, the dimension of the output.
        seed: Seed of the projections, shifts and rotation (one seed, one map).

    Raises:
        ValueError: For ``dim_out <= dim_in`` or a negative seed.
    """

    volume_preserving = False

    def __init__(self, dim_in: int, dim_out: int, seed: int = 0) -> None:
        self.dim_in = check_int(dim_in, "dim_in", minimum=1)
        self.dim_out = check_int(
            dim_out, "dim_out", minimum=self.dim_in + 1, hint="embed into more dimensions than the input has"
        )
        self.seed = check_int(seed, "seed", minimum=0)
        self.min_dim = self.dim_in
        self.name = f"embed-d{self.dim_out}"
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, ...]] = {}

    def _cast(self, like: Tensor) -> tuple[Tensor, ...]:
        key = (like.dtype, like.device)
        if key not in self._cache:
            params = _parameters(self.dim_in, self.dim_out, self.seed)
            self._cache[key] = tuple(p.to(dtype=like.dtype, device=like.device) for p in params)
        return self._cache[key]

    def _check(self, t: Tensor, dim: int, what: str) -> None:
        if t.dim() != 2 or t.shape[1] != dim:
            raise ValueError(f"{self.name} {what} rows of {dim} coordinates ([K, {dim}]), got shape {tuple(t.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check(x, self.dim_in, "maps")
        a_proj, a_shift, b_proj, b_shift, q = self._cast(x)
        stacked = torch.cat([x, torch.tanh(x @ a_proj.T + a_shift), torch.sin(x @ b_proj.T + b_shift)], dim=1)
        return stacked @ q.T

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, self.dim_out, "inverts")
        q = self._cast(y)[-1]
        return y @ q[:, : self.dim_in]

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``0.5 logdet(J^T J)`` at each row of ``x [K, k]``: the log area factor of the image."""
        self._check(x, self.dim_in, "maps")
        a_proj, a_shift, b_proj, b_shift, _ = self._cast(x)
        k = self.dim_in
        tanh_slope = 1.0 - torch.tanh(x @ a_proj.T + a_shift).square()  # tanh' = 1 - tanh^2
        cos = torch.cos(x @ b_proj.T + b_shift)
        # sum_f w_f P_f P_f^T as [K, F] @ [F, k*k]: no [K, F, k] intermediate.
        outer_a = (a_proj[:, :, None] * a_proj[:, None, :]).reshape(-1, k * k)
        outer_b = (b_proj[:, :, None] * b_proj[:, None, :]).reshape(-1, k * k)
        gram = (tanh_slope.square() @ outer_a + cos.square() @ outer_b).reshape(-1, k, k)
        gram = gram + torch.eye(k, dtype=x.dtype, device=x.device)
        return torch.linalg.cholesky(gram).diagonal(dim1=-2, dim2=-1).log().sum(-1)


class Embedded(Transformed):
    """A base task with x and y each embedded injectively into ``R^dim`` (see the module docstring).

    Same MI as the base; ``log_ratio`` is the base's at the pre-images. Id:
    ``embed-d100(gaussian-d5-mi4)`` (both sides), ``embed-d100-x(...)`` or ``embed-d100-y(...)``.

    Args:
        base: The task to embed.
        dim: D, the dimension of each embedded side (larger than the side's own).
        on: ``"both"``, ``"x"`` or ``"y"``: the side(s) to embed.

    Raises:
        ValueError: For an ``on`` other than those, or a D not above a side's dimension.

    Example:
        >>> from mibounds.tasks import Gaussian
        >>> task = Embedded(Gaussian(dim=5, mi=4.0), dim=1000)
        >>> task.name, task.dim_x, task.dim_y, task.mutual_information
        ('embed-d1000(gaussian-d5-mi4)', 1000, 1000, 4.0)
    """

    def __init__(self, base: Task, dim: int = 100, on: Literal["x", "y", "both"] = "both") -> None:
        if not isinstance(base, Task):
            raise TypeError(f"base must be a mibounds.tasks.Task, got {type(base).__name__}")
        if on not in ("x", "y", "both"):
            raise ValueError(f"on must be 'x', 'y' or 'both' (the side(s) to embed), got {on!r}")
        x_map = Embedding(base.dim_x, dim, seed=0) if on != "y" else None
        y_map = Embedding(base.dim_y, dim, seed=1) if on != "x" else None
        super().__init__(base, x_map, y_map)
        self.dim_x = base.dim_x if x_map is None else x_map.dim_out
        self.dim_y = base.dim_y if y_map is None else y_map.dim_out
