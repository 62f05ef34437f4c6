r"""Multi-view contrastive training (Contrastive Multiview Coding) over any number of views.

Each view ``v`` of a sample (a colour channel, a modality, an augmentation) has its own encoder
(or all share one, SimCLR-style). An MI loss between the embeddings of two views is a lower bound
on :math:`I(z_a; z_b)`, which by data processing bounds what each view's code keeps about the
information the views share. With V views, CMC sums the pairwise losses over

- ``"full"``: every pair (a, b), a < b — V(V-1)/2 terms;
- ``"core"``: the pairs (0, b) with the first ("core") view — V-1 terms.

Reference:
    Tian, Krishnan, Isola (2020). Contrastive Multiview Coding. ECCV. arXiv:1906.05849.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from mibounds.representation.losses import InfoNCELoss
from mibounds.representation.readout import loss_with_readout
from mibounds.validation import unknown_name_error

__all__ = ["MultiViewContrastive", "MultiViewResult"]

MODES: tuple[str, ...] = ("full", "core")


@dataclass(frozen=True)
class MultiViewResult:
    """What :class:`MultiViewContrastive` returns.

    Attributes:
        loss: 0-d tensor to minimize, the sum of the pairwise losses.
        mi: ``{(a, b): readout}`` per pair of views, detached (nats).
        embeddings: The embedding of each view, ``[B, d]`` each.
    """

    loss: Tensor
    mi: dict[tuple[int, int], Tensor]
    embeddings: list[Tensor]


class MultiViewContrastive(nn.Module):
    """CMC-style training: one encoder per view (or one shared), an MI loss per pair of views.

    Args:
        encoders: One module per view, or a single module shared by all views (then pass
            ``num_views``).
        loss: A loss module over two embeddings ``[B, d]`` that keeps its readout (default
            ``InfoNCELoss()``; any loss of :mod:`mibounds.representation.losses`, see
            :func:`~mibounds.representation.readout.loss_with_readout`); each pair gets its own
            deep copy (its own temperature / queue / ``last_readout``).
        mode: ``"full"`` (all pairs) or ``"core"`` (pairs with view 0).
        num_views: Number of views when ``encoders`` is a single shared module.

    Example:
        >>> import torch
        >>> model = MultiViewContrastive([torch.nn.Linear(4, 8), torch.nn.Linear(6, 8)])
        >>> result = model([torch.randn(10, 4), torch.randn(10, 6)])
        >>> sorted(result.mi)
        [(0, 1)]
    """

    def __init__(
        self,
        encoders: Sequence[nn.Module] | nn.Module,
        loss: nn.Module | None = None,
        mode: str = "full",
        num_views: int | None = None,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise unknown_name_error("mode", mode, MODES)
        if isinstance(encoders, nn.Module) and not isinstance(encoders, nn.ModuleList):
            if num_views is None:
                raise ValueError("a single shared encoder needs num_views (how many views each sample has)")
            self.encoders = nn.ModuleList([encoders])
            self.num_views, self.shared = int(num_views), True
        else:
            self.encoders = nn.ModuleList(encoders)
            if num_views is not None and num_views != len(self.encoders):
                raise ValueError(f"num_views={num_views} but {len(self.encoders)} encoders were given")
            self.num_views, self.shared = len(self.encoders), False
        if self.num_views < 2:
            raise ValueError(f"multi-view training needs at least 2 views, got {self.num_views}")
        self.mode = mode
        pairs = (
            itertools.combinations(range(self.num_views), 2)
            if mode == "full"
            else ((0, b) for b in range(1, self.num_views))
        )
        self.pairs: list[tuple[int, int]] = list(pairs)
        template = loss if loss is not None else InfoNCELoss()
        self.losses = nn.ModuleDict({f"{a}_{b}": copy.deepcopy(template) for a, b in self.pairs})

    def embed(self, views: Sequence[Tensor]) -> list[Tensor]:
        """The embedding of each view."""
        if len(views) != self.num_views:
            raise ValueError(f"expected {self.num_views} views, got {len(views)}")
        if self.shared:
            return [self.encoders[0](v) for v in views]
        return [encoder(v) for encoder, v in zip(self.encoders, views, strict=True)]

    def forward(self, views: Sequence[Tensor]) -> MultiViewResult:
        """The summed pairwise loss for ``views``: V tensors with the same batch size B."""
        embeddings = self.embed(views)
        total = embeddings[0].new_zeros(())
        mi: dict[tuple[int, int], Tensor] = {}
        for a, b in self.pairs:
            result = loss_with_readout(self.losses[f"{a}_{b}"], embeddings[a], embeddings[b])
            total = total + result.loss
            mi[(a, b)] = result.mi
        return MultiViewResult(loss=total, mi=mi, embeddings=embeddings)
