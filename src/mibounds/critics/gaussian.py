r"""The Gaussian critic: the log density ratio of the Gaussian that matches the data's covariance.

Fit the joint covariance :math:`\Sigma` of ``(x, y)`` (centred, ``[dx + dy, dx + dy]``) and score
every pair with the log density ratio of :math:`g = \mathcal N(0, \Sigma)`:

.. math::
    f(x, y) = \log \frac{g(x, y)}{g(x)\, g(y)}
        = c - x^\top P_{xy}\, y - \tfrac12 x^\top Q_x x - \tfrac12 y^\top Q_y y,

with :math:`P = \Sigma^{-1}`, :math:`Q_x = P_{xx} - \Sigma_{xx}^{-1}` and
:math:`Q_y = P_{yy} - \Sigma_{yy}^{-1}` (both positive semi-definite) and
:math:`c = \tfrac12(\log|\Sigma_{xx}| + \log|\Sigma_{yy}| - \log|\Sigma|)`, the MI of g.
Its mean over pairs of the joint is g's MI whatever the data's distribution, because it is a
quadratic form whose expectation only depends on the covariance.

It is the exact optimal critic when ``(x, y)`` is jointly Gaussian (after the estimator's
per-column normal scores: when the dependence is a Gaussian copula), in closed form, at any MI:
a learned critic would have to find it by gradient steps whose signal fades like
:math:`e^{-I}`. The estimator uses it as the start that a learned residual critic improves on.

Reference:
    The linear-Gaussian (canonical correlation) MI, e.g. Kraskov et al. (2004) and Czyż et al.
    (2023), "Beyond Normal", where it is the CCA baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mibounds.critics._checks import check_pair

__all__ = ["GaussianCritic"]


class GaussianCritic(nn.Module):
    """Scores of the Gaussian fitted to ``(x, y)``: ``[K, K]`` log density ratios in nats.

    Build it with :meth:`fit`, or stack M fitted critics into one with :meth:`stack` (buffers with
    a leading member axis; ``x [M, K, dx]`` then gives ``[M, K, K]``). The parameters are buffers
    (nothing is trained); they follow ``.to(device, dtype)``. ``embed_x`` / ``embed_y`` write the scores as an inner product
    ``embed_x(x) @ embed_y(y).T`` (a separable critic with ``dy + 2`` channels), which lets
    a training loop add them to another critic's scores with one batched matmul.

    Attributes:
        mutual_information: The MI of the fitted Gaussian, ``c`` above (nats); a list for a stack.

    Example:
        >>> import torch
        >>> from mibounds import tasks
        >>> task = tasks.Gaussian(dim=3, mi=1.0)
        >>> x, y = task.sample(20_000, seed=0, dtype=torch.float64)
        >>> critic = GaussianCritic.fit(x, y)
        >>> round(critic.mutual_information, 2)  # the true MI is 1 nat
        1.0
        >>> critic(x[:4], y[:4]).shape
        torch.Size([4, 4])
    """

    mean_x: Tensor
    mean_y: Tensor
    p_xy: Tensor
    q_x: Tensor
    q_y: Tensor
    mi: Tensor

    def __init__(self, mean_x: Tensor, mean_y: Tensor, p_xy: Tensor, q_x: Tensor, q_y: Tensor, mi: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean_x", mean_x)
        self.register_buffer("mean_y", mean_y)
        self.register_buffer("p_xy", p_xy)
        self.register_buffer("q_x", q_x)
        self.register_buffer("q_y", q_y)
        self.register_buffer("mi", mi)

    @property
    def mutual_information(self) -> float | list[float]:
        """The MI of the fitted Gaussian in nats (one per member for a stack)."""
        return self.mi.tolist()

    @classmethod
    def stack(cls, critics: list[GaussianCritic]) -> GaussianCritic:
        """M fitted critics of one shape as one module with a leading member axis."""
        if not critics:
            raise ValueError("stack needs at least one fitted GaussianCritic")
        names = ("mean_x", "mean_y", "p_xy", "q_x", "q_y", "mi")
        return cls(*(torch.stack([getattr(c, name) for c in critics]) for name in names))

    @classmethod
    def fit(cls, x: Tensor, y: Tensor, ridge: float = 1e-6) -> GaussianCritic:
        """The Gaussian critic of the samples ``x [n, dx]``, ``y [n, dy]`` (float64 arithmetic).

        Args:
            x: Samples of X, one row per pair.
            y: Samples of Y, row i paired with row i of x.
            ridge: Added to the diagonal of the covariance, relative to its mean variance, so
                that a singular covariance (duplicated or constant columns) still inverts. The
                fitted MI is then at most about ``(dx + dy) / 2 * log(1 / ridge)`` nats.

        Returns:
            The critic, in float64 on the device of ``x``.
        """
        check_pair(x, y, None, None)
        if len(x) < 2:
            raise ValueError(f"fitting a covariance needs at least 2 rows, got {len(x)}")
        z = torch.cat([x, y], dim=1).double()
        mean = z.mean(0)
        z = z - mean
        return cls.from_moments(mean, z.T @ z / len(z), x.shape[1], ridge)

    @classmethod
    def from_moments(cls, mean: Tensor, cov: Tensor, dim_x: int, ridge: float = 1e-6) -> GaussianCritic:
        """The Gaussian critic of a joint mean ``[dx + dy]`` and covariance ``[dx + dy, dx + dy]``
        (x's columns first), as :meth:`fit` computes them from samples (``ridge`` as there).

        Example:
            >>> x = torch.randn(500, 2, dtype=torch.float64)
            >>> y = x + torch.randn(500, 2, dtype=torch.float64)
            >>> z = torch.cat([x, y], 1)
            >>> critic = GaussianCritic.from_moments(z.mean(0), torch.cov(z.T, correction=0), 2)
            >>> bool(torch.allclose(critic(x[:4], y[:4]), GaussianCritic.fit(x, y)(x[:4], y[:4])))
            True
        """
        dx = dim_x
        cov = cov + ridge * cov.diagonal().mean().clamp_min(1e-300) * torch.eye(
            len(cov), dtype=cov.dtype, device=cov.device
        )
        precision = torch.linalg.inv(cov)
        cov_xx, cov_yy = cov[:dx, :dx], cov[dx:, dx:]
        q_x = precision[:dx, :dx] - torch.linalg.inv(cov_xx)
        q_y = precision[dx:, dx:] - torch.linalg.inv(cov_yy)
        mi = 0.5 * (torch.logdet(cov_xx) + torch.logdet(cov_yy) - torch.logdet(cov))
        return cls(mean[:dx], mean[dx:], precision[:dx, dx:], q_x, q_y, mi)

    def member(self, m: int) -> GaussianCritic:
        """Member m of a stack, as an unstacked critic (its buffers are views, not copies)."""
        if self.mi.dim() == 0:
            raise ValueError("member() takes a member of a stack; this GaussianCritic is a single critic")
        names = ("mean_x", "mean_y", "p_xy", "q_x", "q_y", "mi")
        return GaussianCritic(*(getattr(self, name)[m] for name in names))

    def embed_x(self, x: Tensor) -> Tensor:
        """``[(M,) K, dx] -> [(M,) K, dy + 2]``: ``[-(x - m) P_xy, -(x - m)^T Q_x (x - m) / 2, 1]``."""
        xc = x - self.mean_x.to(x.dtype).unsqueeze(-2)
        quadratic = -0.5 * ((xc @ self.q_x.to(x.dtype)) * xc).sum(-1, keepdim=True)
        return torch.cat([-(xc @ self.p_xy.to(x.dtype)), quadratic, torch.ones_like(quadratic)], dim=-1)

    def embed_y(self, y: Tensor) -> Tensor:
        """``[(M,) K, dy] -> [(M,) K, dy + 2]``: ``[y - m, 1, c - (y - m)^T Q_y (y - m) / 2]``."""
        yc = y - self.mean_y.to(y.dtype).unsqueeze(-2)
        quadratic = -0.5 * ((yc @ self.q_y.to(y.dtype)) * yc).sum(-1, keepdim=True)
        constant = self.mi.to(y.dtype).reshape(*self.mi.shape, 1, 1)
        return torch.cat([yc, torch.ones_like(quadratic), quadratic + constant], dim=-1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``x [K, dx]``, ``y [K, dy]`` -> ``scores [K, K]``, ``scores[i, j] = f(x_i, y_j)``
        (``[M, K, K]`` for a stack, with ``x [M, K, dx]`` or a shared ``[K, dx]``)."""
        return self.embed_x(x) @ self.embed_y(y).transpose(-1, -2)

    def paired(self, x: Tensor, y: Tensor) -> Tensor:
        """The positive pairs' scores alone, ``[(M,) K]``: the diagonal of :meth:`forward` at O(K).

        Example:
            >>> import torch
            >>> x = torch.randn(200, 2, dtype=torch.float64)
            >>> y = x + torch.randn(200, 2, dtype=torch.float64)
            >>> critic = GaussianCritic.fit(x, y)
            >>> bool(torch.allclose(critic.paired(x[:5], y[:5]), critic(x[:5], y[:5]).diagonal()))
            True
        """
        return (self.embed_x(x) * self.embed_y(y)).sum(-1)

    def extra_repr(self) -> str:
        return f"dim_x={self.p_xy.shape[-2]}, dim_y={self.p_xy.shape[-1]}, mutual_information={self.mutual_information}"
