"""Early stopping of the fold critics' training: the best validation check and when to stop.

:class:`BestCheck` keeps the history of the checks and the weights of the best one;
:class:`Patience` says how many checks without a better one end training, and :func:`beats`
decides when a critic has learned (a check beyond the initial critic's by more than its noise),
which is when a data-chosen long patience may shrink. Used by
:func:`~mibounds.estimation.training.train`.

Example:
    >>> import torch
    >>> from mibounds.estimation.early_stopping import Patience, beats
    >>> rule = Patience(most=20, least=5, every=100)
    >>> rule.after(best_step=400, learned=False), rule.after(best_step=400, learned=True), rule.after(best_step=900, learned=True)
    (20, 5, 9)
    >>> beats(torch.full((3, 5), 0.2), torch.zeros(3, 5))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from mibounds.estimation.uncertainty import batch_means_interval

__all__ = ["LEARNED_Z", "BestCheck", "Patience", "beats"]


#: Standard errors by which a check must beat the initial critic (paired over its validation
#: batches and members) before the critic counts as learned and ``min_patience`` applies: a
#: one-sided test at about 2 %, so a lucky check of an untrained residual keeps the long wait.
LEARNED_Z = 2.0


@dataclass(frozen=True)
class Patience:
    """Checks without improvement before stopping: ``most``, down to ``least`` (when set) once the
    critic has learned, for a best check at step b: ``max(least, b / every)``."""

    most: int
    least: int | None
    every: int

    def after(self, best_step: int, learned: bool) -> int:
        """Checks without improvement that end training after a best check at ``best_step``."""
        if self.least is None or not learned:
            return self.most
        return min(self.most, max(self.least, math.ceil(best_step / self.every)))


def beats(values: Tensor, initial: Tensor, z: float = LEARNED_Z) -> bool:
    """Whether check ``values`` beat ``initial`` (both ``[B, M]``, the same batches, at least two
    values) by more than ``z`` standard errors of their paired mean difference
    (:func:`~mibounds.estimation.uncertainty.batch_means_interval` of the differences).

    Example:
        >>> import torch
        >>> initial = torch.zeros(4, 5)
        >>> beats(initial + 0.1, initial), beats(initial + torch.tensor([0.3, -0.3, 0.2, -0.1])[:, None], initial)
        (True, False)
    """
    gain = batch_means_interval((values.detach().cpu().double() - initial.detach().cpu().double()).flatten().numpy())
    return gain.estimate > z * gain.stderr


class BestCheck:
    """The validation checks of :func:`~mibounds.estimation.training.train`: their history, and the
    best one with its weights (``models``: the critics whose weights a better check keeps)."""

    def __init__(self, models: list[nn.Module], initial: Tensor, patience: Patience) -> None:
        self.models, self.rule, self.initial = models, patience, initial.detach().cpu()
        self.value, self.step, self.stale, self.learned = float(initial.mean()), 0, 0, False
        self.state = [_copy_state(model) for model in models]
        self.history: dict[str, list[float]] = {"step": [0], "train": [math.nan], "validation": [self.value]}

    @property
    def patience(self) -> int:
        """Checks without improvement that end training after the best check so far."""
        return self.rule.after(self.step, self.learned)

    def record(self, step: int, train_mean: float, values: Tensor, finite_weights: bool) -> str | None:
        """Record a check (``values [B, M]``); returns why training stops now (``"diverged"``,
        ``"early_stopping"``) or None."""
        value = float(values.mean())
        self.history["step"].append(step)
        self.history["train"].append(train_mean)
        self.history["validation"].append(value)
        if not (math.isfinite(train_mean) and math.isfinite(value) and finite_weights):
            return "diverged"
        if value > self.value:
            self.value, self.step, self.stale = value, step, 0
            self.state = [_copy_state(model) for model in self.models]
            self.learned = self.learned or (self.rule.least is not None and beats(values, self.initial))
        else:
            self.stale += 1
        return "early_stopping" if self.stale >= self.patience else None


def _copy_state(module: nn.Module) -> dict[str, Tensor]:
    return {name: t.detach().clone() for name, t in module.state_dict().items()}
