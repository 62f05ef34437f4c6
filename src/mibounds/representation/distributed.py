r"""Negatives from every process: an all-gather whose backward sums gradients across processes.

In multi-process contrastive training every process holds a slice of the global batch, and the
other slices serve as extra negatives. ``torch.distributed.all_gather`` returns tensors that are
cut from the autograd graph, and the classic mistake in a hand-written differentiable gather is a
backward that returns only the local slice of the local gradient. That drops every term of the
loss computed on *other* processes that involves this process's embeddings, so the gradient is
wrong by a factor that depends on the world size and the loss.

:func:`all_gather_with_grad` does it right: the backward all-reduces (sums) the gradient of the
gathered tensor over processes, then returns this process's rows.

**Gradient convention.** Let ``L`` be the loss of one process on the concatenated batch of P
processes, and let process p compute ``L_p``, either the full ``L`` itself (every process builds
the whole gathered score matrix) or its own share (its columns), with ``L = mean_p L_p``. In both
cases the gradient that reaches process p's inputs is

.. math::
    \sum_q \frac{\partial L_q}{\partial z_p} = P\,\frac{\partial L}{\partial z_p},

P times the single-process gradient, and ``DistributedDataParallel`` (which *averages* parameter
gradients over processes) then yields exactly :math:`\partial L/\partial\theta`. Without DDP,
divide by the world size (or all-reduce the parameter gradients with a mean) to get the same.
Exactness needs the same batch size on every process (as DDP itself assumes); unequal sizes are
gathered correctly, but the average over processes then weighs samples unequally.

Reference:
    Chen et al. (2020), SimCLR (arXiv:2002.05709), on global negatives across devices.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["Gathered", "all_gather_with_grad", "is_distributed", "rank", "world_size"]


def is_distributed(group: Any = None) -> bool:
    """True when ``torch.distributed`` is available, initialized and has more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group: Any = None) -> int:
    """The number of processes in ``group``, or 1 when ``torch.distributed`` is not initialized."""
    return dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1


def rank(group: Any = None) -> int:
    """This process's rank in ``group``, or 0 when ``torch.distributed`` is not initialized."""
    return dist.get_rank(group) if dist.is_available() and dist.is_initialized() else 0


class Gathered(NamedTuple):
    """The result of :func:`all_gather_with_grad`.

    Attributes:
        tensor: The rows of every process, concatenated in rank order, ``[sum_p B_p, ...]``.
        offset: Index of this process's first row in ``tensor``: the local rows are
            ``tensor[offset:offset + B_local]``.
    """

    tensor: Tensor
    offset: int


class _AllGatherSum(torch.autograd.Function):
    """all_gather forward; backward: all_reduce(sum) of the gradient, then this process's rows."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, sizes: list[int], group: Any) -> Tensor:
        me = dist.get_rank(group)
        largest = max(sizes)
        # all_gather needs equal shapes: pad every slice to the largest batch, cut after.
        padded = tensor.new_zeros((largest, *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous(), group=group)
        ctx.group = group
        ctx.start = sum(sizes[:me])
        ctx.stop = ctx.start + sizes[me]
        return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)], dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        # Every process's loss may depend on our rows: sum their gradients before slicing.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.start : ctx.stop], None, None


def all_gather_with_grad(tensor: Tensor, group: Any = None) -> Gathered:
    """Concatenate ``tensor`` from every process along dim 0, differentiably.

    The backward sums the gradient over processes before taking this process's rows (see the
    module docstring for the resulting gradient scale and how it fits DDP). Without an initialized
    process group (or with one process) it returns ``tensor`` itself with offset 0, so the same
    code runs in one process.

    Args:
        tensor: ``[B, ...]``, this process's rows; ``B`` may differ between processes, the trailing
            shape and dtype may not.
        group: A process group (default: the world).

    Returns:
        :class:`Gathered` with the ``[sum_p B_p, ...]`` tensor and the offset of the local rows.

    Raises:
        ValueError: If ``tensor`` is 0-d.

    Example:
        >>> import torch
        >>> gathered = all_gather_with_grad(torch.ones(4, 2))  # not initialized: local batch
        >>> gathered.tensor.shape, gathered.offset
        (torch.Size([4, 2]), 0)
    """
    if tensor.dim() == 0:
        raise ValueError("all_gather_with_grad needs a tensor with a batch dimension, got a 0-d tensor")
    if not is_distributed(group):
        return Gathered(tensor, 0)
    # Batch sizes may differ (e.g. the last batch of an epoch): exchange them first.
    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, size, group=group)
    sizes_list = [int(s.item()) for s in sizes]
    gathered = _AllGatherSum.apply(tensor, sizes_list, group)
    return Gathered(gathered, sum(sizes_list[: dist.get_rank(group)]))
