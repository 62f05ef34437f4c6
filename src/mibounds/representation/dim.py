r"""Deep InfoMax: MI between a global code and the encoder's feature map (global and local).

An image encoder produces a feature map ``M [B, C, H, W]`` and, from it, a global code
``y [B, D]``. Deep InfoMax maximizes

.. math::
    \alpha\, \hat I(M; y) + \frac{\beta}{HW}\sum_{l=1}^{HW} \hat I(M_l; y)
    - \gamma\, \hat D_\mathrm{JS}(\mathbb{Q}_y \,\|\, \mathbb{P}_\mathrm{prior}),

where the global term scores the whole feature map against the code, the local term scores each
location's feature vector ``M_l`` against the code (so the code must carry what is shared across
locations rather than what one patch alone holds), and the optional prior term makes the
distribution of codes match a prior adversarially. Each :math:`\hat I` is a bound of
:mod:`mibounds.bounds` on a score matrix; as everywhere, ``scores[i, j] = f(x_i, y_j)`` with x the
feature map (or a location's feature) and y the code, partition over x for each y.

Critics are separable: ``f(x, y) = a(x) . b(y)`` with a 1x1-convolution network for local
features, an MLP for the flattened map and MLPs for the code, so the K^2 scores cost K network
evaluations per location.

Reference:
    Hjelm, Fedorov, Lavoie-Marchildon, Grewal, Bachman, Trischler, Bengio (2019). Learning deep
    representations by mutual information estimation and maximization. ICLR. arXiv:1808.06670.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds.critics.mlp import mlp
from mibounds.representation.adversarial import reverse_gradient
from mibounds.representation.losses import _score_only_bound, mean_bound
from mibounds.validation import unknown_name_error

__all__ = ["ConvEncoder", "DeepInfoMax", "DeepInfoMaxResult", "PriorMatching"]

PRIORS: tuple[str, ...] = ("uniform", "gaussian")


class ConvEncoder(nn.Module):
    """A small convolutional encoder returning a local feature map and a global code.

    ``image [B, C, S, S] -> feature_map [B, F, S/2^n, S/2^n]`` through ``n = len(channels)``
    stride-2 4x4 convolutions with ReLU, then ``-> code [B, code_dim]`` through one more stride-2
    convolution and a linear layer. The feature map is what Deep InfoMax's local term uses.

    Args:
        in_channels: Image channels.
        image_size: Side S of the square input (divisible by ``2^(len(channels) + 1)``).
        code_dim: Size of the global code.
        channels: Output channels of the feature-map convolutions.

    Example:
        >>> import torch
        >>> encoder = ConvEncoder(1, 32, code_dim=8, channels=(16, 32))
        >>> feature_map, code = encoder(torch.zeros(5, 1, 32, 32))
        >>> tuple(feature_map.shape), tuple(code.shape)
        ((5, 32, 8, 8), (5, 8))
    """

    def __init__(
        self, in_channels: int = 1, image_size: int = 64, code_dim: int = 64, channels: Sequence[int] = (32, 32, 64)
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels:
            raise ValueError("channels must name at least one convolution layer, e.g. (32, 64)")
        steps = len(channels) + 1
        if image_size % (2**steps) != 0:
            raise ValueError(
                f"image_size {image_size} must be divisible by 2^{steps} = {2**steps} "
                f"({len(channels)} feature convolutions and one for the code halve it each)"
            )
        layers: list[nn.Module] = []
        width = in_channels
        for c in channels:
            layers += [nn.Conv2d(width, c, kernel_size=4, stride=2, padding=1), nn.ReLU()]
            width = c
        self.features = nn.Sequential(*layers)
        side = image_size // 2**steps
        self.head = nn.Sequential(
            nn.Conv2d(width, width, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(width * side * side, code_dim),
        )
        self.feature_channels = width
        self.feature_size = image_size // 2 ** len(channels)
        self.code_dim = code_dim

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``images [B, C, S, S]`` to ``(feature_map [B, F, s, s], code [B, code_dim])``."""
        feature_map = self.features(images)
        return feature_map, self.head(feature_map)


class PriorMatching(nn.Module):
    r"""Adversarial prior matching of codes (Deep InfoMax's third term), with gradient reversal.

    A discriminator ``D`` tells prior samples from codes; its logistic loss

    .. math::
        \mathcal{L}_D = \mathbb{E}_{p}[\mathrm{softplus}(-D(p))] + \mathbb{E}_{y}[\mathrm{softplus}(D(y))]

    is returned with the codes passed through :func:`reverse_gradient`: minimizing it trains ``D``
    to discriminate and the encoder to fool it (i.e. to bring the codes' distribution to the
    prior; at the optimum the JS divergence vanishes). For the ``"uniform"`` prior on
    :math:`[0, 1]^D` the discriminator sees ``sigmoid(code)``, as in Deep InfoMax.

    Args:
        code_dim: Size of the code.
        prior: ``"uniform"`` (on [0, 1]^D, after a sigmoid) or ``"gaussian"`` (N(0, I)).
        hidden_dim: Units of the discriminator's 2 hidden layers.
    """

    def __init__(self, code_dim: int, prior: str = "uniform", hidden_dim: int = 256) -> None:
        super().__init__()
        if prior not in PRIORS:
            raise unknown_name_error("prior", prior, PRIORS)
        self.prior = prior
        self.discriminator = mlp(code_dim, hidden_dim, 1, num_layers=2)

    def sample_prior(self, like: Tensor) -> Tensor:
        """Prior samples with the shape, dtype and device of ``like``."""
        return torch.rand_like(like) if self.prior == "uniform" else torch.randn_like(like)

    def forward(self, code: Tensor) -> Tensor:
        """The discriminator's loss (0-d) on ``code [B, D]`` and as many prior samples."""
        code = torch.sigmoid(code) if self.prior == "uniform" else code
        fake = self.discriminator(reverse_gradient(code)).squeeze(-1)
        real = self.discriminator(self.sample_prior(code)).squeeze(-1)
        return F.softplus(-real).mean() + F.softplus(fake).mean()


@dataclass(frozen=True)
class DeepInfoMaxResult:
    """What :class:`DeepInfoMax` returns.

    Attributes:
        loss: 0-d tensor to minimize.
        global_mi: Detached readout of the global bound (nats), or None if its weight is 0.
        local_mi: Detached readout of the local bound averaged over locations, or None.
        prior_loss: Detached discriminator loss of the prior term, or None.
    """

    loss: Tensor
    global_mi: Tensor | None
    local_mi: Tensor | None
    prior_loss: Tensor | None


class DeepInfoMax(nn.Module):
    r"""The Deep InfoMax objective on a feature map and a global code.

    ``forward(feature_map [B, C, H, W], code [B, D])`` returns :class:`DeepInfoMaxResult` with
    ``loss = -(global_weight * I_global + local_weight * I_local) + prior_weight * L_prior``.
    The encoder is yours (e.g. :class:`ConvEncoder`); train it and this module with one optimizer.

    Args:
        feature_channels: C.
        feature_size: ``(H, W)`` (or one int for a square map), needed by the global critic.
        code_dim: D.
        bound: ``"js"`` (Deep InfoMax's choice), ``"infonce"``, ``"dv"``, ``"nwj"`` or ``"smile"``.
        global_weight: :math:`\alpha` (0 switches the global term off).
        local_weight: :math:`\beta` (0 switches the local term off).
        prior_weight: :math:`\gamma` (0: no prior matching).
        prior: ``"uniform"`` or ``"gaussian"`` (see :class:`PriorMatching`).
        embed_dim: Size of the critics' embeddings.
        hidden_dim: Units of the critics' hidden layers.
        **bound_params: The bound's hyper-parameters.

    Example:
        >>> import torch
        >>> encoder = ConvEncoder(1, 32, code_dim=16, channels=(8, 16))
        >>> dim = DeepInfoMax(encoder.feature_channels, encoder.feature_size, 16, embed_dim=8,
        ...                   hidden_dim=32)
        >>> result = dim(*encoder(torch.rand(6, 1, 32, 32)))
        >>> result.loss.shape
        torch.Size([])
    """

    def __init__(
        self,
        feature_channels: int,
        feature_size: int | tuple[int, int],
        code_dim: int,
        bound: str = "js",
        global_weight: float = 0.5,
        local_weight: float = 1.0,
        prior_weight: float = 0.0,
        prior: str = "uniform",
        embed_dim: int = 64,
        hidden_dim: int = 256,
        **bound_params: Any,
    ) -> None:
        super().__init__()
        info, bound_params = _score_only_bound(bound, bound_params)
        if "state" in info.needs:
            raise ValueError(f"bound {info.name!r} keeps state across batches; Deep InfoMax needs a stateless bound")
        for name, weight in (
            ("global_weight", global_weight),
            ("local_weight", local_weight),
            ("prior_weight", prior_weight),
        ):
            if weight < 0:
                raise ValueError(f"{name} must be >= 0, got {weight}")
        if global_weight == 0 and local_weight == 0:
            raise ValueError("global_weight and local_weight are both 0: there is no MI term to maximize")
        height, width = (feature_size, feature_size) if isinstance(feature_size, int) else feature_size
        self.bound, self.bound_params = info.name, dict(bound_params)
        self.global_weight, self.local_weight, self.prior_weight = global_weight, local_weight, prior_weight
        # Global critic: flattened feature map and code, each embedded by an MLP.
        self.global_features = mlp(feature_channels * height * width, hidden_dim, embed_dim, num_layers=1)
        self.global_code = mlp(code_dim, hidden_dim, embed_dim, num_layers=1)
        # Local critic: every location's feature vector (1x1 convolutions) against the code.
        self.local_features = nn.Sequential(
            nn.Conv2d(feature_channels, hidden_dim, 1), nn.ReLU(), nn.Conv2d(hidden_dim, embed_dim, 1)
        )
        self.local_code = mlp(code_dim, hidden_dim, embed_dim, num_layers=1)
        self.prior_matching = PriorMatching(code_dim, prior, hidden_dim) if prior_weight > 0 else None

    def global_scores(self, feature_map: Tensor, code: Tensor) -> Tensor:
        """``[B, B]``: ``[i, j]`` scores the feature map of image i against the code of image j."""
        return self.global_features(feature_map.flatten(1)) @ self.global_code(code).T

    def local_scores(self, feature_map: Tensor, code: Tensor) -> Tensor:
        """``[H*W, B, B]``: per location l, ``[l, i, j]`` scores ``M_l`` of image i against code j."""
        local = self.local_features(feature_map).flatten(2)  # [B, E, L]
        return torch.einsum("iel,je->lij", local, self.local_code(code))

    def forward(self, feature_map: Tensor, code: Tensor) -> DeepInfoMaxResult:
        """The objective for a batch; see the class docstring."""
        if feature_map.dim() != 4 or code.dim() != 2 or feature_map.shape[0] != code.shape[0]:
            raise ValueError(
                f"expected feature_map [B, C, H, W] and code [B, D] with the same B, got "
                f"{tuple(feature_map.shape)} and {tuple(code.shape)}"
            )
        objective = code.new_zeros(())
        global_mi = local_mi = prior_loss = None
        if self.global_weight > 0:
            value = mean_bound(self.global_scores(feature_map, code), self.bound, **self.bound_params)
            objective = objective + self.global_weight * value
            global_mi = value.detach()
        if self.local_weight > 0:
            value = mean_bound(self.local_scores(feature_map, code), self.bound, **self.bound_params)
            objective = objective + self.local_weight * value
            local_mi = value.detach()
        loss = -objective
        if self.prior_matching is not None:
            prior_term = self.prior_matching(code)
            loss = loss + self.prior_weight * prior_term
            prior_loss = prior_term.detach()
        return DeepInfoMaxResult(loss=loss, global_mi=global_mi, local_mi=local_mi, prior_loss=prior_loss)
