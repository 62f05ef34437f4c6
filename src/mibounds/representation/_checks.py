"""Input checks of the embedding losses, in the package's message style (private)."""

from __future__ import annotations

import torch
from torch import Tensor

from mibounds.validation import unknown_name_error

#: The similarities of :func:`~mibounds.representation.losses.similarity_matrix`.
SIMILARITIES: tuple[str, ...] = ("cosine", "dot")


def check_similarity(similarity: str) -> str:
    """Refuse an unknown similarity name (listing the valid ones); return it."""
    if similarity not in SIMILARITIES:
        raise unknown_name_error("similarity", similarity, SIMILARITIES)
    return similarity


def check_embeddings(x: Tensor, y: Tensor) -> None:
    """Refuse anything but two floating-point ``[B, d]`` batches of the same shape, B >= 1."""
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor) or not torch.is_floating_point(t):
            raise TypeError(f"{name} must be a floating-point torch.Tensor of embeddings [B, d]")
        if t.dim() != 2:
            raise ValueError(f"{name} must be a [B, d] batch of embeddings, got shape {tuple(t.shape)}")
    if x.shape != y.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but y has {tuple(y.shape)}; pass paired embeddings "
            "[B, d] of the same size, row i of x paired with row i of y"
        )
    if x.shape[0] < 1:
        raise ValueError("the batch is empty; pass at least one pair of embeddings")


def check_extra(extra: Tensor | None, like: Tensor, name: str) -> Tensor | None:
    """Extra candidates ``[Q, d]`` matching ``like``'s width, cast like it; None when absent or empty."""
    if extra is None or extra.shape[0] == 0:
        return None
    if extra.dim() != 2 or extra.shape[1] != like.shape[1]:
        raise ValueError(
            f"{name} must be [Q, {like.shape[1]}] (embeddings of the same size as the batch), "
            f"got shape {tuple(extra.shape)}"
        )
    return extra.to(like)
