"""The contracts the layers rely on, as Protocols: :class:`Critic`, :class:`Estimator`, :class:`Result`.

This module imports nothing from the package (and nothing but the standard library at run time),
so any code can check itself against it: a critic you write, a peer package's estimator wrapped
for a benchmark (``benchmarks/peers`` does), a result type of your own. The conventions behind
them are in docs/design.md §2.

Example:
    >>> import numpy as np
    >>> from mibounds.interfaces import Estimator
    >>> class Zero:
    ...     def estimate(self, x, y) -> float:
    ...         return 0.0
    >>> isinstance(Zero(), Estimator)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Critic", "Estimator", "Result"]


@runtime_checkable
class Critic(Protocol):
    """Maps a batch of pairs to its score matrix: ``scores[i, j] = f(x_i, y_j)``.

    ``x`` is ``[K, dx]`` and ``y`` is ``[K, dy]``; the ``[K, K]`` result holds the K positive
    pairs (samples of p(x, y)) on its diagonal and stands for samples of p(x)p(y) off it. Every
    ``nn.Module`` of :mod:`mibounds.critics` is one, and so is any module you pass as ``critic=``.
    """

    def __call__(self, x: Tensor, y: Tensor) -> Tensor: ...


@runtime_checkable
class Estimator(Protocol):
    """Estimates I(X; Y) in nats from paired rows (row i of x with row i of y).

    :class:`mibounds.estimation.MIEstimator` is one (its ``estimate`` fits and returns
    ``estimate_``); the accuracy suite's peers are wrapped as ones.
    """

    def estimate(self, x: Any, y: Any) -> float: ...


@runtime_checkable
class Result(Protocol):
    """What every result of an estimator offers (:class:`mibounds.estimation.result.ResultBase`).

    ``warnings`` lists the reasons to distrust it, one sentence each; ``summary()`` gives lines
    for people (``str()`` adds the warnings); ``to_dict()`` gives JSON-serializable fields.
    """

    warnings: list[str]

    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...
