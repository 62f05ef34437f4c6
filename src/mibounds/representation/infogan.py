r"""InfoGAN: a GAN whose generator must keep its codes readable, through the Barber–Agakov bound.

The generator maps noise z and a structured code c to an image, :math:`x = G(z, c)`; the
discriminator D tells real images from generated ones; a Q-network sharing D's body reads the
code back, :math:`q(c \mid x)`. InfoGAN adds to the GAN game the Barber–Agakov lower bound on
the code's MI with the image,

.. math::
    I(c; G(z, c)) \;\ge\; I_\mathrm{BA} = H(c) + \mathbb{E}_{c \sim p(c),\, z}\,\log q(c \mid G(z, c)),

which both G and Q maximize (:func:`mibounds.bounds.ba`, with the code in the role of X: its
entropy is known because the code is drawn from a chosen prior). Two kinds of code:

- categorical, uniform over K values: :math:`H = \log K`, q a softmax over K;
- continuous, uniform on :math:`[-1, 1]^m`: :math:`h = m \log 2` (differential entropy), q a
  factorized Gaussian with a learned mean and log standard deviation per code.

The categorical bound is at most :math:`\log K` (cross-entropy is non-negative); the continuous
one has no ceiling (a sharp q makes :math:`\log q` large) but stays below I in expectation.

Reference:
    Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel (2016). InfoGAN: Interpretable
    Representation Learning by Information Maximizing Generative Adversarial Nets. NIPS.
    arXiv:1606.03657. Barber, Agakov (2003). The IM algorithm. NIPS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds import bounds
from mibounds.representation.vib import DiagonalGaussian
from mibounds.validation import check_int

__all__ = ["InfoGAN", "InfoGANCodes", "InfoGANMI", "InfoGANSample", "QOutput"]


@dataclass(frozen=True)
class InfoGANSample:
    """One draw of the generator's inputs.

    Attributes:
        noise: ``[B, noise_dim]``, standard normal.
        categorical: ``[B]`` long, uniform over the K categories.
        continuous: ``[B, m]``, uniform on [-1, 1].
    """

    noise: Tensor
    categorical: Tensor
    continuous: Tensor

    def generator_input(self, num_categories: int) -> Tensor:
        """``[B, noise_dim + K + m]``: the noise, the one-hot category and the continuous codes."""
        one_hot = F.one_hot(self.categorical, num_categories).to(self.noise.dtype)
        return torch.cat([self.noise, one_hot, self.continuous], dim=1)


class InfoGANCodes:
    r"""The prior over the generator's inputs: noise, one categorical code, m continuous codes.

    Args:
        noise_dim: Size of the incompressible noise z (standard normal).
        num_categories: K of the categorical code (uniform); its entropy is :math:`\log K`.
        num_continuous: m continuous codes, uniform on [-1, 1]; their entropy is :math:`m \log 2`.

    Example:
        >>> codes = InfoGANCodes(noise_dim=8, num_categories=3, num_continuous=2)
        >>> sample = codes.sample(5, torch.Generator().manual_seed(0))
        >>> tuple(sample.generator_input(3).shape), round(codes.entropy_categorical, 4)
        ((5, 13), 1.0986)
    """

    def __init__(self, noise_dim: int = 32, num_categories: int = 3, num_continuous: int = 2) -> None:
        self.noise_dim = check_int(noise_dim, "noise_dim", minimum=1)
        self.num_categories = check_int(num_categories, "num_categories", minimum=2, why="a code has several values")
        self.num_continuous = check_int(num_continuous, "num_continuous", minimum=0)

    @property
    def input_dim(self) -> int:
        """Size of the generator's input."""
        return self.noise_dim + self.num_categories + self.num_continuous

    @property
    def entropy_categorical(self) -> float:
        """:math:`H(c_\\mathrm{cat}) = \\log K` nats: the ceiling of the categorical bound."""
        return math.log(self.num_categories)

    @property
    def entropy_continuous(self) -> float:
        """:math:`h(c_\\mathrm{cont}) = m \\log 2` nats (uniform on [-1, 1]^m)."""
        return self.num_continuous * math.log(2.0)

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> InfoGANSample:
        """``n`` independent draws of (noise, categorical code, continuous codes)."""
        noise = torch.randn(n, self.noise_dim, generator=generator)
        categorical = torch.randint(self.num_categories, (n,), generator=generator)
        continuous = 2 * torch.rand(n, self.num_continuous, generator=generator) - 1
        return InfoGANSample(noise.to(device), categorical.to(device), continuous.to(device))

    def __repr__(self) -> str:
        return (
            f"InfoGANCodes(noise_dim={self.noise_dim}, num_categories={self.num_categories}, "
            f"num_continuous={self.num_continuous})"
        )


@dataclass(frozen=True)
class QOutput:
    """The Q-network's reading of a batch of images.

    Attributes:
        logits: ``[B, K]``, unnormalized :math:`\\log q(c_\\mathrm{cat} \\mid x)`.
        continuous: :math:`q(c_\\mathrm{cont} \\mid x)`, a :class:`DiagonalGaussian` over ``[B, m]``.
    """

    logits: Tensor
    continuous: DiagonalGaussian


@dataclass(frozen=True)
class InfoGANMI:
    """Barber–Agakov bounds on the codes' MI with the images, from one batch (nats).

    Attributes:
        categorical: :math:`\\log K + \\mathbb{E} \\log q(c_\\mathrm{cat} | x)`, at most log K.
        continuous: :math:`m \\log 2 + \\mathbb{E} \\log q(c_\\mathrm{cont} | x)` (0 when m = 0).
        categorical_ceiling: :math:`H(c_\\mathrm{cat}) = \\log K`.
        continuous_entropy: :math:`h(c_\\mathrm{cont}) = m \\log 2`.
    """

    categorical: Tensor
    continuous: Tensor
    categorical_ceiling: float
    continuous_entropy: float


def _conv_side(image_size: int, num_layers: int) -> int:
    if image_size % 2**num_layers:
        raise ValueError(
            f"image_size {image_size} must be divisible by 2^{num_layers} = {2**num_layers} "
            f"(one stride-2 layer per entry of channels); pick e.g. {2**num_layers * 4}"
        )
    return image_size // 2**num_layers


class InfoGAN(nn.Module):
    r"""Generator G(z, c), discriminator D(x) and Q-network q(c | x) with D's body, for 1-channel images.

    - ``generator``: a linear layer to ``[channels[0], s, s]`` (``s = image_size / 2^n``), then
      ``n = len(channels)`` stride-2 transposed convolutions (batch norm, ReLU) and a sigmoid:
      images in [0, 1].
    - ``body``: ``n`` stride-2 convolutions (LeakyReLU 0.2, channels reversed) and a hidden layer;
      ``discriminator_head`` gives the real/fake logit, ``q_head`` the K categorical logits and
      the mean and log standard deviation of each continuous code.

    :meth:`mutual_information` evaluates both bounds; the training losses of the two players are
    :meth:`discriminator_loss` (D's logistic loss and Q's bound on detached images) and
    :meth:`generator_loss` (the non-saturating GAN loss minus the bound, through G).

    Args:
        codes: The input prior (:class:`InfoGANCodes`).
        image_size: Side of the square images.
        channels: Channels of the generator's layers, widest first (the body uses them reversed).
        hidden_dim: Units of the body's hidden layer.
        continuous_weight: :math:`\lambda` of the continuous bound in the loss (InfoGAN uses
            a smaller weight for continuous codes, whose bound is unbounded above).
        min_log_std: Floor of q's log standard deviation for continuous codes (keeps the
            Gaussian density finite early in training).

    Example:
        >>> torch.manual_seed(0) is not None
        True
        >>> model = InfoGAN(InfoGANCodes(8, 3, 2), image_size=16, channels=(16, 8), hidden_dim=32)
        >>> sample = model.codes.sample(6)
        >>> images = model.generate(sample)
        >>> tuple(images.shape)
        (6, 1, 16, 16)
        >>> mi = model.mutual_information(images, sample)
        >>> bool(mi.categorical <= mi.categorical_ceiling)
        True
    """

    def __init__(
        self,
        codes: InfoGANCodes,
        image_size: int = 32,
        channels: Sequence[int] = (64, 32),
        hidden_dim: int = 128,
        continuous_weight: float = 0.5,
        min_log_std: float = -3.0,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels:
            raise ValueError("channels must name at least one layer, e.g. (64, 32)")
        if continuous_weight < 0:
            raise ValueError(f"continuous_weight must be >= 0, got {continuous_weight}")
        side = _conv_side(image_size, len(channels))
        self.codes, self.image_size = codes, image_size
        self.continuous_weight, self.min_log_std = float(continuous_weight), float(min_log_std)
        widths = [*channels, 1]
        layers: list[nn.Module] = [
            nn.Linear(codes.input_dim, channels[0] * side * side),
            nn.Unflatten(1, (channels[0], side, side)),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        ]
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(channels) - 1:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        self.generator = nn.Sequential(*layers, nn.Sigmoid())
        body: list[nn.Module] = []
        for c_in, c_out in zip(widths[::-1][:-1], widths[::-1][1:], strict=True):
            body += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        body += [nn.Flatten(), nn.Linear(channels[0] * side * side, hidden_dim), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*body)
        self.discriminator_head = nn.Linear(hidden_dim, 1)
        self.q_head = nn.Linear(hidden_dim, codes.num_categories + 2 * codes.num_continuous)

    def generate(self, sample: InfoGANSample) -> Tensor:
        """``[B, 1, S, S]`` images in [0, 1] from a draw of the inputs."""
        return self.generator(sample.generator_input(self.codes.num_categories))

    def discriminate(self, images: Tensor) -> tuple[Tensor, QOutput]:
        """``(real/fake logits [B], q(c | x))`` for ``images [B, 1, S, S]``."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, self.image_size, self.image_size):
            raise ValueError(f"images must be [B, 1, {self.image_size}, {self.image_size}], got {tuple(images.shape)}")
        hidden = self.body(images)
        k, m = self.codes.num_categories, self.codes.num_continuous
        q = self.q_head(hidden)
        mean, log_std = q[:, k : k + m], q[:, k + m :].clamp(min=self.min_log_std)
        return self.discriminator_head(hidden).squeeze(-1), QOutput(q[:, :k], DiagonalGaussian(mean, log_std))

    def code_bounds(self, q: QOutput, sample: InfoGANSample) -> InfoGANMI:
        """Both Barber–Agakov bounds from Q's reading ``q`` of the images generated from ``sample``."""
        log_q_cat = -F.cross_entropy(q.logits, sample.categorical, reduction="none")
        categorical = bounds.ba(log_q_cat, self.codes.entropy_categorical)
        if self.codes.num_continuous:
            continuous = bounds.ba(q.continuous.log_prob(sample.continuous), self.codes.entropy_continuous)
        else:
            continuous = categorical.new_zeros(())
        return InfoGANMI(categorical, continuous, self.codes.entropy_categorical, self.codes.entropy_continuous)

    def mutual_information(self, images: Tensor, sample: InfoGANSample) -> InfoGANMI:
        """Both Barber–Agakov bounds for images generated from ``sample`` (differentiable)."""
        return self.code_bounds(self.discriminate(images)[1], sample)

    def discriminator_loss(self, real: Tensor, sample: InfoGANSample) -> tuple[Tensor, InfoGANMI]:
        """D's logistic loss on real and (detached) generated images minus Q's bound on the latter.

        Minimizing it trains D, the shared body and the Q head; G receives no gradient.
        Returns the 0-d loss and the bounds (detached) on this batch.
        """
        fake = self.generate(sample).detach()
        real_logits, _ = self.discriminate(real)
        fake_logits, q = self.discriminate(fake)
        mi = self.code_bounds(q, sample)
        gan = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        loss = gan - mi.categorical - self.continuous_weight * mi.continuous
        return loss, _detached(mi)

    def generator_loss(self, sample: InfoGANSample) -> tuple[Tensor, InfoGANMI]:
        """G's non-saturating loss :math:`\\mathrm{softplus}(-D(G(z, c)))` minus the bound.

        Step only the generator's parameters with it (the gradient also reaches D and Q, whose
        own step uses :meth:`discriminator_loss`). Returns the 0-d loss and the bounds (detached).
        """
        logits, q = self.discriminate(self.generate(sample))
        mi = self.code_bounds(q, sample)
        loss = F.softplus(-logits).mean() - mi.categorical - self.continuous_weight * mi.continuous
        return loss, _detached(mi)

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """The parameters of D and Q (the body and both heads)."""
        return [*self.body.parameters(), *self.discriminator_head.parameters(), *self.q_head.parameters()]


def _detached(mi: InfoGANMI) -> InfoGANMI:
    return InfoGANMI(mi.categorical.detach(), mi.continuous.detach(), mi.categorical_ceiling, mi.continuous_entropy)
