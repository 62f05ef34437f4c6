r"""Spatio-temporal Deep InfoMax (ST-DIM): InfoNCE across consecutive frames, globally and locally.

An encoder maps a frame to a local feature map ``M [B, C, H, W]`` and a global feature
``g [B, D]`` (e.g. :class:`~mibounds.representation.dim.ConvEncoder`). ST-DIM maximizes two
InfoNCE bounds between consecutive frames :math:`x_t, x_{t+1}` of the same episode:

.. math::
    \text{global–local:}\quad f_{GL}\big(g(x_{t+1}), M_l(x_t)\big) = g(x_{t+1})^\top W_g\, M_l(x_t),
    \qquad
    \text{local–local:}\quad f_{LL}\big(M_l(x_{t+1}), M_l(x_t)\big) = M_l(x_{t+1})^\top W_l\, M_l(x_t),

one bilinear critic each, at every location l of the feature map. At location l the score matrix
follows the package's convention, ``scores[l, i, j] = f(x_i, y_j)``, with the frame-(t+1)
features of the B pairs of the batch as the x (the candidates the partition runs over) and the
frame-t local features as the y: each frame-t patch must pick out the next frame of its own
episode among the other pairs' next frames. Each term is :func:`mibounds.representation.mean_bound`
(InfoNCE, averaged over locations): a lower bound on the MI between the frame-t patch and the
frame-(t+1) feature, at most :math:`\log B`. The loss is minus their sum.

The global term makes the global feature predictive of every local patch of the previous frame
(unlike Deep InfoMax's same-frame terms, it must carry what moves); the local term makes each
patch predictive of the same patch one step later.

Reference:
    Anand, Racah, Ozair, Bengio, Côté, Hjelm (2019). Unsupervised State Representation Learning
    in Atari. NeurIPS. arXiv:1906.08226.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mibounds.representation.losses import mean_bound

__all__ = ["STDIM", "STDIMResult"]


@dataclass(frozen=True)
class STDIMResult:
    """What :class:`STDIM` returns.

    Attributes:
        loss: 0-d tensor to minimize: ``-(global_local_mi + local_local_mi)`` (with gradients).
        global_local_mi: Detached InfoNCE readout of the global–local term, averaged over
            locations (nats, at most log B).
        local_local_mi: The same for the local–local term.
    """

    loss: Tensor
    global_local_mi: Tensor
    local_local_mi: Tensor


class STDIM(nn.Module):
    """The ST-DIM objective on the encoder outputs of frame pairs ``(x_t, x_{t+1})``.

    ``forward(features_t, global_next, features_next)`` takes the encoder's local feature maps of
    frames t and t+1 (``[B, C, H, W]`` each) and its global feature of frame t+1 (``[B, D]``),
    and returns :class:`STDIMResult`. Train the encoder and this module with one optimizer.

    Args:
        feature_channels: C, channels of the local feature map.
        global_dim: D, size of the global feature.

    Example:
        >>> import torch
        >>> from mibounds.representation import ConvEncoder
        >>> encoder = ConvEncoder(1, 32, code_dim=16, channels=(8, 16))
        >>> stdim = STDIM(encoder.feature_channels, 16)
        >>> (m_t, _), (m_next, g_next) = encoder(torch.rand(6, 1, 32, 32)), encoder(torch.rand(6, 1, 32, 32))
        >>> result = stdim(m_t, g_next, m_next)
        >>> result.loss.shape, bool(result.global_local_mi <= torch.log(torch.tensor(6.0)))
        (torch.Size([]), True)
    """

    def __init__(self, feature_channels: int, global_dim: int) -> None:
        super().__init__()
        self.global_local = nn.Linear(global_dim, feature_channels, bias=False)  # W_g
        self.local_local = nn.Linear(feature_channels, feature_channels, bias=False)  # W_l

    def global_local_scores(self, features_t: Tensor, global_next: Tensor) -> Tensor:
        """``[H*W, B, B]``: ``[l, i, j] = g(x_{t+1}^i)^T W_g M_l(x_t^j)``."""
        local = features_t.flatten(2)  # [B, C, L]
        return torch.einsum("ic,jcl->lij", self.global_local(global_next), local)

    def local_local_scores(self, features_t: Tensor, features_next: Tensor) -> Tensor:
        """``[H*W, B, B]``: ``[l, i, j] = M_l(x_{t+1}^i)^T W_l M_l(x_t^j)``."""
        next_local = self.local_local(features_next.flatten(2).transpose(1, 2))  # [B, L, C]
        return torch.einsum("ilc,jcl->lij", next_local, features_t.flatten(2))

    def forward(self, features_t: Tensor, global_next: Tensor, features_next: Tensor) -> STDIMResult:
        """The ST-DIM loss and both readouts for a batch of consecutive-frame pairs."""
        if features_t.dim() != 4 or features_t.shape != features_next.shape:
            raise ValueError(
                "features_t and features_next must be feature maps [B, C, H, W] of the same shape, got "
                f"{tuple(features_t.shape)} and {tuple(features_next.shape)}"
            )
        if global_next.dim() != 2 or global_next.shape[0] != features_t.shape[0]:
            raise ValueError(
                f"global_next must be [B, D] with B = {features_t.shape[0]}, got {tuple(global_next.shape)}"
            )
        global_local = mean_bound(self.global_local_scores(features_t, global_next), "infonce")
        local_local = mean_bound(self.local_local_scores(features_t, features_next), "infonce")
        return STDIMResult(
            loss=-(global_local + local_local),
            global_local_mi=global_local.detach(),
            local_local_mi=local_local.detach(),
        )
