"""Gradient reversal: one optimizer step trains a discriminator and its adversary together.

``reverse_gradient(z)`` is the identity forward and multiplies the gradient by ``-scale`` backward.
A discriminator loss computed on ``reverse_gradient(z)`` is then minimized by the discriminator's
parameters and *maximized* by whatever produced ``z``: the minimax game of adversarial prior
matching (Deep InfoMax) and of the dependency penalty between latents, with one loss and one
optimizer.

Reference:
    Ganin, Lempitsky (2015). Unsupervised Domain Adaptation by Backpropagation. ICML.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["reverse_gradient"]


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, tensor: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(tensor: Tensor, scale: float = 1.0) -> Tensor:
    """Identity in the forward pass; the gradient is multiplied by ``-scale`` in the backward pass.

    Args:
        tensor: Any tensor.
        scale: Weight of the reversed gradient (>= 0).

    Returns:
        A tensor equal to ``tensor``.

    Example:
        >>> import torch
        >>> z = torch.ones(2, requires_grad=True)
        >>> reverse_gradient(z, 0.5).sum().backward()
        >>> z.grad
        tensor([-0.5000, -0.5000])
    """
    if scale < 0:
        raise ValueError(f"scale must be >= 0 (the sign is already reversed), got {scale}")
    return _ReverseGradient.apply(tensor, float(scale))
