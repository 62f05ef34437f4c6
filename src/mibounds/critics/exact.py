"""Critics computed from a task's known densities: no parameters, no training."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from mibounds.critics._checks import check_pair

__all__ = ["ConditionalCritic", "ExactCritic"]


def _require(task: Any, method: str, critic: str) -> None:
    if not callable(getattr(task, method, None)):
        raise TypeError(
            f"{critic} needs a task with a {method}(x, y) method, got {type(task).__name__}; "
            "pass a ground-truth task from mibounds.tasks (e.g. tasks.Gaussian())"
        )


class ExactCritic(nn.Module):
    """The optimal critic of a ground-truth task, plus a constant.

    ``scores[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j)) + shift`` (nats), from ``task.log_ratio``.
    ``shift = 0`` is an optimum of DV and InfoNCE (each is also optimal up to its invariance: a
    constant, resp. any function of y) and of the f-GAN JS objective; ``shift = 1`` is the
    NWJ-optimal critic ``1 + log p(x, y) / (p(x) p(y))`` (Nguyen, Wainwright & Jordan 2010).
    With it a bound's estimate differs from the true MI only by the bound's own bias and
    Monte-Carlo noise.

    Args:
        task: Any object with ``log_ratio(x, y) -> [K, K]`` and, optionally, ``dim_x``/``dim_y``
            (a :mod:`mibounds.tasks` task).
        shift: Constant added to every score, in nats.

    Example:
        >>> from mibounds import tasks
        >>> task = tasks.Gaussian(dim=20, mi=2.0)
        >>> x, y = task.sample(64, seed=0)
        >>> ExactCritic(task, shift=1.0)(x, y).shape
        torch.Size([64, 64])
    """

    def __init__(self, task: Any, shift: float = 0.0) -> None:
        super().__init__()
        _require(task, "log_ratio", "ExactCritic")
        self.task = task
        self.shift = float(shift)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``[K, dim_x]``, ``[K, dim_y]`` -> ``scores [K, K] = task.log_ratio(x, y) + shift``."""
        check_pair(x, y, getattr(self.task, "dim_x", None), getattr(self.task, "dim_y", None))
        scores = self.task.log_ratio(x, y)
        return scores + self.shift if self.shift != 0.0 else scores

    def extra_repr(self) -> str:
        return f"task={getattr(self.task, 'name', type(self.task).__name__)!r}, shift={self.shift}"


class ConditionalCritic(nn.Module):
    """The log-likelihood of a task's encoder as a critic: ``scores[i, j] = log p(y_j | x_i)``.

    This is the critic of the structured bounds that assume a tractable conditional (TNCE, and the
    upper bounds: the rate, the leave-one-out minibatch bound, CLUB). It differs from the optimal
    critic by ``log p(y_j)``, a function of the column only, so InfoNCE (a softmax over i for each
    j) is unchanged by it.

    Args:
        task: Any object with ``log_conditional(x, y) -> [K, K]`` and, optionally,
            ``dim_x``/``dim_y`` (a :mod:`mibounds.tasks` task).

    Example:
        >>> from mibounds import tasks
        >>> task = tasks.Gaussian(dim=20, mi=2.0)
        >>> x, y = task.sample(64, seed=0)
        >>> ConditionalCritic(task)(x, y).shape
        torch.Size([64, 64])
    """

    def __init__(self, task: Any) -> None:
        super().__init__()
        _require(task, "log_conditional", "ConditionalCritic")
        self.task = task

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``[K, dim_x]``, ``[K, dim_y]`` -> ``scores [K, K] = task.log_conditional(x, y)`` (nats)."""
        check_pair(x, y, getattr(self.task, "dim_x", None), getattr(self.task, "dim_y", None))
        return self.task.log_conditional(x, y)

    def extra_repr(self) -> str:
        return f"task={getattr(self.task, 'name', type(self.task).__name__)!r}"
