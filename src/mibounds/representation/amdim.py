r"""Augmented Multiscale Deep InfoMax (AMDIM): InfoNCE across two views, from global to local scales.

Two augmented views :math:`x^a, x^b` of the same image go through one encoder that returns a
fine feature map ``F [B, C_f, H_f, W_f]``, a coarse feature map ``C [B, C_c, H_c, W_c]`` and a
global vector ``g [B, D]`` (:class:`MultiscaleEncoder`). AMDIM maximizes, in both directions
(a predicts b, and b predicts a), three InfoNCE bounds between one view's features and the other
view's features at another place or scale:

.. math::
    \text{global–fine: } f\big(F_l(x^b), g(x^a)\big), \qquad
    \text{global–coarse: } f\big(C_l(x^b), g(x^a)\big), \qquad
    \text{coarse–coarse: } f\big(C_l(x^b), C_m(x^a)\big),

for every location l of the predicted map (and every location m of the predicting one), with
the critic a dot product of embeddings, :math:`f(u, v) = \phi(u)^\top \psi(v) / \sqrt{E}`, each
feature kind embedded by its own network with one hidden layer (1x1 convolutions on the maps, an
MLP on the global vector). These
are the paper's "1→7, 1→5, 5→5" predictions with the two scales of a small image. As in the
paper the raw scores are soft-clipped, :math:`s \mapsto c \tanh(s / c)`, and their mean square is
penalized (weight ``score_penalty``) to keep the critic from growing without bound.

Score layout follows the package's convention, ``scores[..., i, j] = f(x_i, y_j)``: the x (the
candidates the partition runs over) are the *predicted* view's features at location l of the B
images, the y the *predicting* view's feature of image j: each view-a feature must pick out the
view-b feature of its own image among the other images'. Each term is
:func:`mibounds.representation.mean_bound` with ``"infonce"``, averaged over locations and the two
directions: a lower bound in nats on the MI between one view's feature and the other's, at most
:math:`\log B`. The loss is minus their sum plus the score penalty.

Reference:
    Bachman, Hjelm, Buchwalter (2019). Learning Representations by Maximizing Mutual Information
    Across Views. NeurIPS. arXiv:1906.00910.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mibounds.representation.losses import mean_bound

__all__ = ["AMDIM", "AMDIMResult", "MultiscaleEncoder", "MultiscaleFeatures"]


@dataclass(frozen=True)
class MultiscaleFeatures:
    """What :class:`MultiscaleEncoder` returns for a batch of B images.

    Attributes:
        fine: ``[B, C_f, S/2, S/2]``, the finer local feature map.
        coarse: ``[B, C_c, S/4, S/4]``, the coarser local feature map.
        global_: ``[B, D]``, the global vector (what a downstream probe reads).
    """

    fine: Tensor
    coarse: Tensor
    global_: Tensor


class MultiscaleEncoder(nn.Module):
    """A convolutional encoder with feature maps at two scales and a global vector.

    ``image [B, C, S, S]`` -> 3x3 convolution (stride 1) -> 4x4 stride-2 convolution: ``fine``
    ``[B, channels[1], S/2, S/2]`` -> 4x4 stride-2 convolution: ``coarse`` ``[B, channels[2],
    S/4, S/4]`` -> a linear layer on the flattened coarse map: ``global_`` ``[B, global_dim]``;
    ReLU after every convolution.

    Args:
        in_channels: Image channels.
        image_size: Side S of the square input (divisible by 4).
        global_dim: Size of the global vector.
        channels: Output channels of the three convolutions.

    Example:
        >>> import torch
        >>> encoder = MultiscaleEncoder(1, 8, global_dim=16, channels=(8, 16, 32))
        >>> out = encoder(torch.zeros(5, 1, 8, 8))
        >>> tuple(out.fine.shape), tuple(out.coarse.shape), tuple(out.global_.shape)
        ((5, 16, 4, 4), (5, 32, 2, 2), (5, 16))
    """

    def __init__(
        self, in_channels: int = 1, image_size: int = 8, global_dim: int = 64, channels: Sequence[int] = (32, 64, 64)
    ) -> None:
        super().__init__()
        widths = tuple(int(c) for c in channels)
        if len(widths) != 3:
            raise ValueError(f"channels must name the 3 convolutions' widths, e.g. (32, 64, 64), got {channels}")
        if image_size % 4 != 0:
            raise ValueError(f"image_size {image_size} must be divisible by 4 (two stride-2 convolutions)")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.ReLU())
        self.to_fine = nn.Sequential(nn.Conv2d(widths[0], widths[1], 4, stride=2, padding=1), nn.ReLU())
        self.to_coarse = nn.Sequential(nn.Conv2d(widths[1], widths[2], 4, stride=2, padding=1), nn.ReLU())
        side = image_size // 4
        self.to_global = nn.Linear(widths[2] * side * side, global_dim)
        self.fine_channels, self.coarse_channels, self.global_dim = widths[1], widths[2], global_dim

    def forward(self, images: Tensor) -> MultiscaleFeatures:
        """``images [B, C, S, S]`` to :class:`MultiscaleFeatures`."""
        fine = self.to_fine(self.stem(images))
        coarse = self.to_coarse(fine)
        return MultiscaleFeatures(fine=fine, coarse=coarse, global_=self.to_global(coarse.flatten(1)))


def _embedding(in_dim: int, hidden_dim: int, out_dim: int, spatial: bool = True) -> nn.Sequential:
    """A one-hidden-layer embedding network: 1x1 convolutions on a map, or linear layers on a vector."""
    if spatial:
        return nn.Sequential(nn.Conv2d(in_dim, hidden_dim, 1), nn.ReLU(), nn.Conv2d(hidden_dim, out_dim, 1))
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


@dataclass(frozen=True)
class AMDIMResult:
    """What :class:`AMDIM` returns.

    Attributes:
        loss: 0-d tensor to minimize: ``-(global_fine_mi + global_coarse_mi + coarse_coarse_mi)``
            plus the score penalty (with gradients).
        global_fine_mi: Detached InfoNCE readout of the global–fine term, averaged over
            locations and both directions (nats, at most log B).
        global_coarse_mi: The same for the global–coarse term.
        coarse_coarse_mi: The same for the coarse–coarse term.
        score_penalty: Detached mean square of the raw scores (before the clip).
    """

    loss: Tensor
    global_fine_mi: Tensor
    global_coarse_mi: Tensor
    coarse_coarse_mi: Tensor
    score_penalty: Tensor


class AMDIM(nn.Module):
    r"""The AMDIM objective on the :class:`MultiscaleFeatures` of two views of the same images.

    ``forward(view_a, view_b)`` returns :class:`AMDIMResult`. Train the encoder and this module
    with one optimizer.

    Args:
        fine_channels: C_f of the fine map.
        coarse_channels: C_c of the coarse map.
        global_dim: D of the global vector.
        embed_dim: E, size of the critic's embeddings.
        hidden_dim: Units of the hidden layer of each embedding network.
        clip: c of the soft clip :math:`c \tanh(s / c)` of the scores (None: no clip).
        score_penalty: Weight of the mean squared raw score in the loss.

    Example:
        >>> import torch
        >>> encoder = MultiscaleEncoder(1, 8, global_dim=16, channels=(8, 16, 16))
        >>> amdim = AMDIM(encoder.fine_channels, encoder.coarse_channels, 16, embed_dim=8)
        >>> images = torch.rand(6, 1, 8, 8)
        >>> result = amdim(encoder(images), encoder(images + 0.1 * torch.randn(6, 1, 8, 8)))
        >>> result.loss.shape, bool(result.global_fine_mi <= torch.log(torch.tensor(6.0)))
        (torch.Size([]), True)
    """

    def __init__(
        self,
        fine_channels: int,
        coarse_channels: int,
        global_dim: int,
        embed_dim: int = 64,
        hidden_dim: int = 128,
        clip: float | None = 20.0,
        score_penalty: float = 0.05,
    ) -> None:
        super().__init__()
        if clip is not None and clip <= 0:
            raise ValueError(f"clip must be positive or None, got {clip}")
        if score_penalty < 0:
            raise ValueError(f"score_penalty must be >= 0, got {score_penalty}")
        self.clip, self.score_penalty = clip, float(score_penalty)
        self.embed_dim = embed_dim
        # Predicting side (y): the global vector and the coarse map; predicted side (x): both maps.
        self.global_query = _embedding(global_dim, hidden_dim, embed_dim, spatial=False)
        self.coarse_query = _embedding(coarse_channels, hidden_dim, embed_dim)
        self.fine_key = _embedding(fine_channels, hidden_dim, embed_dim)
        self.coarse_key = _embedding(coarse_channels, hidden_dim, embed_dim)

    def raw_scores(self, keys: Tensor, queries: Tensor) -> Tensor:
        r"""``[Q, L, B, B]``: ``[q, l, i, j] = keys[i, :, l] . queries[j, :, q] / sqrt(E)``, unclipped.

        ``keys [B, E, L]`` are the predicted view's embedded features (the x), ``queries [B, E, Q]``
        the predicting view's (the y; Q = 1 for the global vector).
        """
        return torch.einsum("iel,jeq->qlij", keys, queries) / math.sqrt(self.embed_dim)

    def _clip(self, scores: Tensor) -> Tensor:
        return scores if self.clip is None else self.clip * torch.tanh(scores / self.clip)

    def _directed(self, predicting: MultiscaleFeatures, predicted: MultiscaleFeatures) -> tuple[list[Tensor], Tensor]:
        """The three terms with ``predicting`` as y and ``predicted`` as x, and the mean squared raw score."""
        global_q = self.global_query(predicting.global_)[:, :, None]  # [B, E, 1]
        coarse_q = self.coarse_query(predicting.coarse).flatten(2)  # [B, E, Lc]
        fine_k = self.fine_key(predicted.fine).flatten(2)  # [B, E, Lf]
        coarse_k = self.coarse_key(predicted.coarse).flatten(2)  # [B, E, Lc]
        raw = [
            self.raw_scores(fine_k, global_q),
            self.raw_scores(coarse_k, global_q),
            self.raw_scores(coarse_k, coarse_q),
        ]
        terms = [mean_bound(self._clip(s), "infonce") for s in raw]
        square = torch.cat([s.flatten() for s in raw]).square().mean()
        return terms, square

    def forward(self, view_a: MultiscaleFeatures, view_b: MultiscaleFeatures) -> AMDIMResult:
        """The AMDIM loss and the three readouts for a batch of view pairs."""
        for name, view in (("view_a", view_a), ("view_b", view_b)):
            if view.fine.dim() != 4 or view.coarse.dim() != 4 or view.global_.dim() != 2:
                raise ValueError(f"{name} must hold feature maps [B, C, H, W] and a global vector [B, D]")
        if not view_a.fine.shape == view_b.fine.shape or view_a.global_.shape != view_b.global_.shape:
            raise ValueError(
                f"the two views must have the same shapes, got fine {tuple(view_a.fine.shape)} and "
                f"{tuple(view_b.fine.shape)}, global {tuple(view_a.global_.shape)} and {tuple(view_b.global_.shape)}"
            )
        terms_ab, square_ab = self._directed(view_a, view_b)
        terms_ba, square_ba = self._directed(view_b, view_a)
        terms = [0.5 * (ab + ba) for ab, ba in zip(terms_ab, terms_ba, strict=True)]
        square = 0.5 * (square_ab + square_ba)
        loss = -(terms[0] + terms[1] + terms[2]) + self.score_penalty * square
        return AMDIMResult(
            loss=loss,
            global_fine_mi=terms[0].detach(),
            global_coarse_mi=terms[1].detach(),
            coarse_coarse_mi=terms[2].detach(),
            score_penalty=square.detach(),
        )
