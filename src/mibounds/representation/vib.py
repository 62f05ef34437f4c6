r"""Both sides of I(X; Z) for a stochastic Gaussian encoder: the rate (upper) and BA (lower) bounds.

A stochastic encoder :math:`p(z|x) = \mathcal{N}(\mu(x), \mathrm{diag}\,\sigma(x)^2)` has a
tractable conditional, which gives an upper bound for any marginal :math:`q(z)`,

.. math::
    I(X; Z) \le R = \mathbb{E}_{p(x)}\mathrm{KL}(p(z|x) \,\|\, q(z)),
    \qquad R - I = \mathrm{KL}(p(z) \,\|\, q(z)),

the *rate* of the Variational Information Bottleneck (a fixed N(0, I) marginal, or a learned
one that tightens it). A decoder :math:`q(x|z)` gives the Barber–Agakov lower bound

.. math::
    I(X; Z) \ge h(X) + \mathbb{E}_{p(x, z)}\log q(x|z),
    \qquad I - I_\mathrm{BA} = \mathbb{E}_{p(z)}\mathrm{KL}(p(x|z) \,\|\, q(x|z)),

which needs the entropy h(X) of the data (known for synthetic data; ``log N`` for a uniform
choice among N discrete items with a categorical decoder). InfoGAN's MI term is the same bound
with the roles swapped: the code c is "X" (its entropy is known since c is sampled from a chosen
prior) and the generated image is "Z". Together they bracket one representation's MI:
:func:`mi_bracket`. Both estimates are Monte-Carlo averages over the batch; :class:`MIBracket`
carries their standard errors.

References:
    Alemi, Fischer, Dillon, Murphy (2017). Deep Variational Information Bottleneck. ICLR.
    arXiv:1612.00410. Barber, Agakov (2003). The IM algorithm. NIPS. Chen et al. (2016). InfoGAN.
    NIPS. arXiv:1606.03657. Poole et al. (2019), §2.1 and eq. 1–2. arXiv:1905.06922.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mibounds import bounds
from mibounds.critics.mlp import mlp

__all__ = [
    "ConditionalGaussian",
    "DiagonalGaussian",
    "GaussianMarginal",
    "MIBracket",
    "ba_lower_bound",
    "mi_bracket",
    "rate_upper_bound",
]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class DiagonalGaussian:
    """A batch of diagonal Gaussians ``N(mean_i, diag exp(log_std_i)^2)``.

    Attributes:
        mean: ``[B, d]``.
        log_std: ``[B, d]`` (or broadcastable to it).
    """

    mean: Tensor
    log_std: Tensor

    def rsample(self, generator: torch.Generator | None = None) -> Tensor:
        """A reparameterized sample ``[B, d]`` (differentiable in mean and log_std)."""
        noise = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + self.log_std.exp() * noise

    def log_prob(self, value: Tensor) -> Tensor:
        """``[B]``: the log-density of ``value[i]`` under Gaussian i (nats)."""
        z = (value - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * _LOG_2PI).sum(-1)

    def log_prob_matrix(self, value: Tensor) -> Tensor:
        """``[B, M]``: ``[i, j]`` = log-density of ``value[j]`` under Gaussian i (the score convention)."""
        z = (value[None, :, :] - self.mean[:, None, :]) * torch.exp(-self.log_std)[:, None, :]
        return (-0.5 * z.pow(2) - self.log_std[:, None, :] - 0.5 * _LOG_2PI).sum(-1)

    def kl_to(self, other: DiagonalGaussian) -> Tensor:
        """``[B]``: KL(self_i || other_i) in closed form (nats)."""
        ratio = torch.exp(2 * (self.log_std - other.log_std))
        delta = (self.mean - other.mean) * torch.exp(-other.log_std)
        return 0.5 * (ratio + delta.pow(2) - 1 - torch.log(ratio)).sum(-1)


class ConditionalGaussian(nn.Module):
    r"""An MLP mapping a condition to a diagonal Gaussian: a stochastic encoder p(z|x) or a decoder q(x|z).

    ``forward(condition [B, dim_in]) -> DiagonalGaussian`` over ``[B, dim_out]``; the last layer
    outputs the mean and the log standard deviation. ``num_layers = 0`` is a linear-Gaussian map.

    Args:
        dim_in: Size of the condition.
        dim_out: Size of the variable.
        hidden_dim: Units per hidden layer.
        num_layers: Hidden layers.
        activation: Hidden activation name.

    Example:
        >>> import torch
        >>> encoder = ConditionalGaussian(10, 2, num_layers=0)
        >>> encoder(torch.randn(5, 10)).rsample().shape
        torch.Size([5, 2])
    """

    def __init__(
        self, dim_in: int, dim_out: int, hidden_dim: int = 256, num_layers: int = 2, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.dim_in, self.dim_out = dim_in, dim_out
        self.net = mlp(dim_in, hidden_dim, 2 * dim_out, num_layers, activation)

    def forward(self, condition: Tensor) -> DiagonalGaussian:
        """The Gaussian over the variable given ``condition [B, dim_in]``."""
        mean, log_std = self.net(condition).chunk(2, dim=-1)
        return DiagonalGaussian(mean, log_std)

    def log_prob(self, value: Tensor, condition: Tensor) -> Tensor:
        """``[B]``: log-density of ``value[i]`` given ``condition[i]``."""
        return self(condition).log_prob(value)


class GaussianMarginal(nn.Module):
    r"""A diagonal Gaussian marginal :math:`q(z)`, fixed (VIB's N(0, I)) or learned.

    Args:
        dim: Size of z.
        learnable: Learn the mean and log standard deviation (they start at 0 and 0).
    """

    mean: Tensor
    log_std: Tensor

    def __init__(self, dim: int, learnable: bool = True) -> None:
        super().__init__()
        if learnable:
            self.mean = nn.Parameter(torch.zeros(dim))
            self.log_std = nn.Parameter(torch.zeros(dim))
        else:
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("log_std", torch.zeros(dim))

    def forward(self) -> DiagonalGaussian:
        """The marginal as a (broadcastable) :class:`DiagonalGaussian` of shape ``[1, dim]``."""
        return DiagonalGaussian(self.mean[None, :], self.log_std[None, :])

    def log_prob(self, z: Tensor) -> Tensor:
        """``[B]``: :math:`\\log q(z_i)`."""
        return self().log_prob(z)


def rate_upper_bound(
    posterior: DiagonalGaussian, marginal: GaussianMarginal, z: Tensor | None = None, *, analytic: bool = False
) -> Tensor:
    r"""The rate :math:`R = \mathbb{E}_x \mathrm{KL}(p(z|x) \| q(z)) \ge I(X; Z)`.

    Monte-Carlo (default): :func:`mibounds.bounds.rate` on one sample per x,
    :math:`\frac1B\sum_i \log p(z_i|x_i) - \log q(z_i)`. ``analytic=True``: the closed-form
    Gaussian KL averaged over x (lower variance, same expectation).

    Args:
        posterior: The encoder's output for a batch x, ``[B, d]``.
        marginal: :math:`q(z)`.
        z: ``[B, d]`` samples of the posterior (drawn if None); ignored when analytic.
        analytic: Use the closed-form KL.

    Returns:
        0-d tensor, nats (differentiable: use ``beta * rate`` as VIB's penalty).
    """
    if analytic:
        q = marginal()
        return posterior.kl_to(
            DiagonalGaussian(q.mean.expand_as(posterior.mean), q.log_std.expand_as(posterior.mean))
        ).mean()
    z = posterior.rsample() if z is None else z
    return bounds.rate(posterior.log_prob(z), marginal.log_prob(z))


def ba_lower_bound(decoder: ConditionalGaussian, x: Tensor, z: Tensor, entropy_x: float | Tensor) -> Tensor:
    r"""Barber–Agakov bound :math:`h(X) + \mathbb{E}\log q(x|z) \le I(X; Z)` with a Gaussian decoder.

    Args:
        decoder: :math:`q(x|z)`.
        x: ``[B, dim_x]`` data.
        z: ``[B, dim_z]`` codes, ``z[i] ~ p(z | x[i])``.
        entropy_x: h(X) in nats.

    Returns:
        0-d tensor, nats (:func:`mibounds.bounds.ba`; maximize it to train the decoder).
    """
    return bounds.ba(decoder.log_prob(x, z), entropy_x)


@dataclass(frozen=True)
class MIBracket:
    """A lower and an upper bound on I(X; Z) from one batch, with Monte-Carlo standard errors.

    Attributes:
        lower: BA estimate (nats).
        upper: Rate estimate (nats).
        lower_se: Standard error of ``lower`` (sample std of the per-pair terms / sqrt(B)).
        upper_se: Standard error of ``upper``.
    """

    lower: float
    upper: float
    lower_se: float
    upper_se: float


@torch.no_grad()
def mi_bracket(
    x: Tensor,
    encoder: ConditionalGaussian,
    decoder: ConditionalGaussian,
    marginal: GaussianMarginal,
    entropy_x: float,
    generator: torch.Generator | None = None,
) -> MIBracket:
    """Bracket I(X; Z) of the encoder's representation: BA below, rate above.

    Both use the same sample ``z_i ~ p(z|x_i)`` for each row of ``x``. In expectation
    ``lower <= I(X; Z) <= upper``; the gaps are the decoder's and the marginal's mismatch.

    Args:
        x: ``[B, dim_x]`` samples of the data.
        encoder: :math:`p(z|x)`.
        decoder: :math:`q(x|z)`.
        marginal: :math:`q(z)`.
        entropy_x: h(X) in nats.
        generator: For the encoder's noise.

    Returns:
        :class:`MIBracket`.
    """
    posterior = encoder(x)
    z = posterior.rsample(generator)
    log_conditional, log_marginal = posterior.log_prob(z), marginal.log_prob(z)
    log_decoder = decoder.log_prob(x, z)
    root_b = math.sqrt(x.shape[0])
    return MIBracket(
        lower=float(bounds.ba(log_decoder, entropy_x)),
        upper=float(bounds.rate(log_conditional, log_marginal)),
        lower_se=float(log_decoder.std() / root_b),
        upper_se=float((log_conditional - log_marginal).std() / root_b),
    )
