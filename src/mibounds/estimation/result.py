"""The result of one estimate: the held-out number, its uncertainty, and how it was obtained."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EstimateResult"]


@dataclass
class EstimateResult:
    """A held-out mutual-information estimate (nats) with its uncertainty and provenance.

    The estimate is the bound's value on the test split only, averaged over ``num_test_batches``
    disjoint batches of ``batch_size`` pairs; it depends on the batch size K (InfoNCE can never
    exceed log K). ``stderr`` comes from the spread of the batch values; the interval is the
    batch-means interval with its upper end raised by half of ``generalization_gap`` (see
    :mod:`mibounds.estimation.uncertainty`).

    Attributes:
        estimate: Held-out estimate of I(X; Y) in nats.
        ci_low: Lower end of the ``confidence`` interval.
        ci_high: Upper end of the interval (test noise plus half the generalization gap).
        stderr: Standard error of ``estimate`` (batch means).
        confidence: Coverage level of the interval.
        bound: Registry name of the bound.
        critic: Name of the critic (or its class name).
        num_critics: Critics trained side by side whose averaged scores give the estimate.
        n_train: Rows used to train the critic.
        n_validation: Rows used for early stopping.
        n_test: Rows in the test split (``num_test_batches * batch_size`` of them are used).
        batch_size: K, the pairs per batch in training and evaluation.
        num_test_batches: Disjoint test batches B behind the interval.
        steps: Optimizer steps taken.
        best_step: Step whose weights were restored (best validation value).
        stopped: Why training ended: ``"early_stopping"``, ``"max_steps"`` or ``"diverged"``.
        seconds: Wall time of the whole call.
        device: Where the critic was trained.
        random_state: Seed that reproduces this run.
        ceiling: Largest value the bound can report at this K (log K for InfoNCE), or None.
        generalization_gap: The trained critic's mean bound on ``n_test`` training rows minus
            its held-out estimate (nats): how much it fits its own training rows better.
        history: Learning curves: ``{"step": [...], "train": [...], "validation": [...]}``, the
            mean training bound since the previous check and the validation bound at each check.
        warnings: Reasons to distrust the number, one sentence each (also issued as warnings).
    """

    estimate: float
    ci_low: float
    ci_high: float
    stderr: float
    confidence: float
    bound: str
    critic: str
    num_critics: int
    n_train: int
    n_validation: int
    n_test: int
    batch_size: int
    num_test_batches: int
    steps: int
    best_step: int
    stopped: str
    seconds: float
    device: str
    random_state: int
    ceiling: float | None = None
    generalization_gap: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-serializable Python values (non-finite floats become None)."""
        return _json_safe(asdict(self))

    def summary(self) -> str:
        """Two lines for people: the estimate with its interval, then how it was obtained."""
        level = f"{100 * self.confidence:g}%"
        ceiling = f", ceiling {self.ceiling:.3f}" if self.ceiling is not None else ""
        members = f" (mean of {self.num_critics})" if self.num_critics > 1 else ""
        return (
            f"I(X;Y) = {self.estimate:.3f} nats, {level} CI [{self.ci_low:.3f}, {self.ci_high:.3f}] "
            f"(stderr {self.stderr:.3f}, generalization gap {self.generalization_gap:.3f})\n"
            f"bound {self.bound}{ceiling}, critic {self.critic}{members}, K = {self.batch_size}; "
            f"held-out test: {self.num_test_batches} batches ({self.n_test} rows); trained "
            f"{self.steps} steps on {self.n_train} rows ({self.stopped}, best step {self.best_step}) "
            f"in {self.seconds:.1f} s on {self.device}"
        )

    def __str__(self) -> str:
        lines = [self.summary()] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"EstimateResult(estimate={self.estimate:.4f}, ci=[{self.ci_low:.4f}, {self.ci_high:.4f}], "
            f"stderr={self.stderr:.4f}, confidence={self.confidence:g}, bound={self.bound!r}, "
            f"critic={self.critic!r}, batch_size={self.batch_size}, n_test={self.n_test}, "
            f"steps={self.steps}, warnings={len(self.warnings)})"
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy / torch scalars
        return _json_safe(value.item())
    return value
