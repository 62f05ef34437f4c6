r"""The MI readout of a loss module: the loss is a tensor, the readout an attribute.

The loss modules of :mod:`mibounds.representation.losses` (:class:`~mibounds.representation.InfoNCELoss`,
:class:`~mibounds.representation.MILoss` and its shortcuts ``JSLoss``, ``DVLoss``, ``NWJLoss``)
behave like ``torch.nn`` losses: ``loss_fn(x, y)`` returns the 0-d tensor to minimize, so
``loss_fn(x, y).backward()`` works wherever a loss is expected (a plain loop, a Lightning
``training_step``, DDP). What else the batch tells is kept without a second forward pass:

- ``loss_fn.last_readout``: the :class:`MILossResult` of the most recent call, detached (the
  loss value, the MI lower bound ``mi`` in nats that the batch certifies, its ``ceiling``, such as
  ``log K`` for InfoNCE, and ``batch_size``, the K candidates each y was scored against); None
  before the first call. Every call replaces it, in training and in evaluation mode alike.
- ``return_readout=True`` (a constructor argument): the module returns the whole
  :class:`MILossResult` instead, its ``loss`` carrying the gradient.
- :func:`loss_with_readout` calls any such module and returns the :class:`MILossResult` with the
  gradient-carrying loss, whichever of the two ways the module returns.

The functional forms (:func:`~mibounds.representation.infonce_loss`,
:func:`~mibounds.representation.mi_loss`) return the :class:`MILossResult`, as they always did.
Under several processes each process's readout is that of its share of the batch (its own
columns, scored against the candidates of every process): for InfoNCE their mean over processes
is the readout of the whole batch, for the square-matrix bounds of ``MILoss`` every process holds
the whole batch's value. :class:`mibounds.representation.lightning.MIReadoutLogger` logs the
readouts of a LightningModule's loss modules, averaged over processes, at every step.

Example:
    >>> import torch
    >>> from mibounds.representation import InfoNCELoss
    >>> loss_fn = InfoNCELoss(temperature=0.1)
    >>> z = torch.randn(16, 8, requires_grad=True)
    >>> loss = loss_fn(z, z + 0.1 * torch.randn(16, 8))
    >>> loss.backward()  # a 0-d tensor, like any torch.nn loss
    >>> readout = loss_fn.last_readout
    >>> bool(readout.mi <= readout.ceiling), readout.batch_size, readout.loss.requires_grad
    (True, 16, False)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

__all__ = ["MILossResult", "ReadoutLoss", "loss_with_readout"]


@dataclass(frozen=True)
class MILossResult:
    """What an MI loss computes on a batch: the loss and the MI readout it certifies.

    Attributes:
        loss: 0-d tensor to minimize (carries the training gradient; detached in a module's
            ``last_readout``).
        mi: 0-d tensor, detached: the MI lower bound in nats this batch certifies (for InfoNCE
            ``log K - loss``; for JS the NWJ value on ``scores + 1``; see :mod:`mibounds.bounds`).
        ceiling: The largest value ``mi`` can take (``log K`` for InfoNCE), or None if unbounded.
        batch_size: K, the number of x candidates each y is scored against (positive,
            in-batch negatives from every process, queue negatives).

    Example:
        >>> import torch
        >>> result = MILossResult(loss=torch.tensor(1.5, requires_grad=True), mi=torch.tensor(0.58),
        ...                       ceiling=2.08, batch_size=8)
        >>> result.detach().loss.requires_grad, result.detach().batch_size
        (False, 8)
    """

    loss: Tensor
    mi: Tensor
    ceiling: float | None
    batch_size: int

    def detach(self) -> MILossResult:
        """The same result with the loss cut from the autograd graph (what ``last_readout`` keeps)."""
        return dataclasses.replace(self, loss=self.loss.detach())


class ReadoutLoss(nn.Module):
    """Base of the loss modules: ``forward`` returns the loss tensor and keeps the readout.

    A subclass computes an :class:`MILossResult` and returns ``self.emit(result)``, which stores
    the detached result in :attr:`last_readout` and returns ``result.loss`` (or, with
    ``return_readout=True``, the result itself). See the module docstring for the convention.

    Args:
        return_readout: Return the :class:`MILossResult` from ``forward`` instead of the loss
            tensor.

    Attributes:
        last_readout: The detached :class:`MILossResult` of the latest call, or None before the
            first one.

    Example:
        >>> import math, torch
        >>> class Constant(ReadoutLoss):
        ...     def forward(self, x, y):
        ...         loss = (x - y).pow(2).mean()
        ...         return self.emit(MILossResult(loss, torch.tensor(0.0), None, x.shape[0]))
        >>> Constant()(torch.ones(3, 2), torch.zeros(3, 2))
        tensor(1.)
        >>> Constant(return_readout=True)(torch.ones(3, 2), torch.zeros(3, 2)).batch_size
        3
    """

    last_readout: MILossResult | None

    def __init__(self, return_readout: bool = False) -> None:
        super().__init__()
        self.return_readout = bool(return_readout)
        self.last_readout = None

    def emit(self, result: MILossResult) -> Tensor | MILossResult:
        """Keep ``result`` (detached) as :attr:`last_readout`; return what ``forward`` returns."""
        self.last_readout = result.detach()
        return result if self.return_readout else result.loss


def loss_with_readout(loss_fn: nn.Module, *inputs: Any, **kwargs: Any) -> MILossResult:
    """Call a loss module and return its :class:`MILossResult`, the loss carrying the gradient.

    Works with a module that returns the loss tensor and keeps ``last_readout`` (the default of
    every loss of :mod:`mibounds.representation.losses`) and with one that returns the result
    (``return_readout=True``).

    Args:
        loss_fn: The loss module.
        *inputs: Its arguments (the two embeddings).
        **kwargs: Its keyword arguments.

    Returns:
        :class:`MILossResult`.

    Raises:
        TypeError: If the module returns a tensor but keeps no ``last_readout``.

    Example:
        >>> import torch
        >>> from mibounds.representation import MILoss
        >>> z = torch.randn(8, 4, requires_grad=True)
        >>> result = loss_with_readout(MILoss("dv"), z, z.flip(0))
        >>> result.loss.requires_grad, result.ceiling, result.batch_size
        (True, None, 8)
    """
    output = loss_fn(*inputs, **kwargs)
    if isinstance(output, MILossResult):
        return output
    readout = getattr(loss_fn, "last_readout", None)
    if not isinstance(output, Tensor) or not isinstance(readout, MILossResult):
        raise TypeError(
            f"{type(loss_fn).__name__} returned {type(output).__name__} and keeps no last_readout; pass a loss "
            "module of mibounds.representation (InfoNCELoss, MILoss, ...) or one returning an MILossResult"
        )
    return dataclasses.replace(readout, loss=output)
