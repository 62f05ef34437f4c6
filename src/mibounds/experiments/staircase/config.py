"""The staircase's setup: the bound specs (``"smile:5"`` labels) and :class:`StaircaseConfig`.

This module holds no training code, so that other experiments (bias–variance, the critic
trade-off) can share the bound labels and the configuration without importing the training loop.

Example:
    >>> from mibounds.experiments.staircase.config import BoundSpec, StaircaseConfig
    >>> spec = BoundSpec.parse("smile:5")
    >>> spec.label, spec.name, spec.kwargs
    ('smile:5', 'smile', {'clip': 5.0})
    >>> StaircaseConfig(levels=(2.0, 4.0), steps_per_level=10).steps
    20
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mibounds import bounds, tasks
from mibounds.tasks import Task
from mibounds.validation import check_int, unknown_name_error

__all__ = ["CONDITIONAL", "DEFAULT_BOUNDS", "STACKED_CRITICS", "BoundSpec", "StaircaseConfig"]

#: The bounds of the full staircase, as :meth:`BoundSpec.parse` labels.
DEFAULT_BOUNDS: tuple[str, ...] = (
    "nwj",
    "tuba",
    "infonce",
    "js",
    "dv",
    "mine",
    "smile:1",
    "smile:5",
    "smile:inf",
    "interpolated:0.01",
    "interpolated:0.5",
    "interpolated:0.99",
    "tnce",
    "rate",
    "leave_one_out_upper",
    "club",
)

#: The learned critic architectures a staircase can stack.
STACKED_CRITICS: tuple[str, ...] = ("separable", "concat")
#: The critic name under which the structured bounds (true conditional, no training) are stored.
CONDITIONAL = "conditional"


def _format_value(value: Any) -> str:
    if value is None:
        return "inf"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class BoundSpec:
    """One curve of the staircase: a registry bound with fixed hyper-parameters.

    Attributes:
        label: Unique label, ``name`` or ``name:value`` (e.g. ``"smile:5"``, ``"interpolated:0.5"``).
        name: Registry name (:func:`mibounds.bounds.get`).
        params: Hyper-parameters as ``(key, value)`` pairs.
    """

    label: str
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, text: str) -> BoundSpec:
        """Parse ``"name"``, ``"name:value"`` or ``"name:key=value"`` (:func:`mibounds.bounds.parse`).

        ``value`` sets the bound's main hyper-parameter: ``clip`` for smile (``inf`` or ``none``
        for no clipping), ``alpha`` for interpolated, ``rate`` for mine.

        Raises:
            ValueError: For an unknown bound, a bound that takes no such parameter, or a value
                that is not a number.
        """
        info, params = bounds.parse(text)
        if not params:
            return cls(info.name, info.name)
        ((key, parsed),) = params.items()
        eq = "=" in str(text).partition(":")[2]
        label = f"{info.name}:{_format_value(parsed)}" if not eq else f"{info.name}:{key}={_format_value(parsed)}"
        return cls(label, info.name, ((key, parsed),))

    @property
    def info(self) -> bounds.BoundInfo:
        """The registry entry."""
        return bounds.get(self.name)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The hyper-parameters as keyword arguments."""
        return dict(self.params)

    @property
    def trained(self) -> bool:
        """True for bounds computed from a learned critic's scores."""
        return self.info.score_based

    def ceilings(self, batch_size: int) -> dict[str, float]:
        """The ceilings at batch size K = ``batch_size`` (drawn dashed): label -> nats.

        ``log K`` for InfoNCE and TNCE; for the interpolated bound the registry's
        ``1 + log((K-1)/alpha)`` (``log(K-1)`` at alpha = 1). Poole et al. 2019 (§2.4) state
        ``log(K/alpha)``, which batches of the optimal critic exceed (see
        :func:`mibounds.bounds.interpolated`), so it is not drawn.
        """
        if self.name in ("infonce", "tnce"):
            return {"log K": math.log(batch_size)}
        if self.name == "interpolated":
            alpha = self.kwargs.get("alpha", self.info.params.get("alpha"))
            ceiling = self.info.ceiling_for(batch_size, alpha=alpha) if alpha is not None else None
            if ceiling is not None:
                return {"1 + log((K-1)/α)" if alpha != 1 else "log(K-1)": ceiling}
        return {}


def _parse_specs(labels: Iterable[str]) -> list[BoundSpec]:
    specs = [BoundSpec.parse(label) for label in labels]
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            raise ValueError(f"bound {spec.label!r} is listed twice; list each bound once")
        seen.add(spec.label)
        missing = set(spec.info.needs) - {"scores", "log_baseline", "state", "log_conditional", "log_marginal"}
        if missing:
            raise ValueError(
                f"bound {spec.label!r} needs {', '.join(sorted(missing))}, which the staircase tasks do "
                "not provide (they give the critic's scores, log p(y|x) and log p(y)); leave it out"
            )
    return specs


@dataclass(frozen=True)
class StaircaseConfig:
    """Everything that defines a staircase run (defaults: Poole et al. 2019, §4).

    Attributes:
        tasks: Task family names that take an MI level (``gaussian``, ``cubic``: built with ``dim``)
            or task ids with one MI level (``"asinh(gaussian-d20-mi2)"``, ``"cubic-d20-mi2-w3"``:
            their ``-mi`` is replaced by each level, their dimensions are their own); see
            :func:`mibounds.tasks.at_mi`. All the tasks of a run must share dim_x and dim_y.
        critics: Learned critic architectures: ``"separable"`` and/or ``"concat"``.
        bounds: Bound labels (see :meth:`BoundSpec.parse`); score-based ones are trained, the
            structured ones use the task's ``log_conditional`` (and ``log_marginal_y``).
        dim: Dimension of x and of y.
        levels: MI levels (nats), visited in order.
        steps_per_level: Training steps per level.
        batch_size: K, pairs per step.
        learning_rate: Adam's learning rate.
        hidden_dim: Hidden units per layer of the critics.
        num_layers: Hidden layers of the critics (and baselines).
        embed_dim: Embedding size of the separable critic.
        baseline_hidden_dim: Hidden units per layer of the baseline MLP ``log a(y)``.
        baseline_num_layers: Hidden layers of the baseline MLP.
        window: Steps at the end of each stage over which bias, variance and MSE are taken.
        ema_span: Span of the EMA drawn in the figure.
        seed: Seeds the networks and the batches (batch t of every task uses the same seed).
        device: Torch device (default CPU).
        dtype: ``"float32"`` or ``"float64"``.
    """

    tasks: tuple[str, ...] = ("gaussian", "cubic")
    critics: tuple[str, ...] = ("separable", "concat")
    bounds: tuple[str, ...] = DEFAULT_BOUNDS
    dim: int = 20
    levels: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    steps_per_level: int = 4000
    batch_size: int = 64
    learning_rate: float = 5e-4
    hidden_dim: int = 256
    num_layers: int = 2
    embed_dim: int = 32
    baseline_hidden_dim: int = 512
    baseline_num_layers: int = 2
    window: int = 500
    ema_span: float = 200.0
    seed: int = 0
    device: str | None = None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("tasks", "critics", "bounds", "levels"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
            if not getattr(self, name):
                raise ValueError(f"{name} is empty; give at least one")
        object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))
        object.__setattr__(self, "dim", check_int(self.dim, "dim", minimum=1))
        shapes = {name: self.task_at(name, self.levels[0]) for name in self.tasks}
        if len({(t.dim_x, t.dim_y) for t in shapes.values()}) > 1:
            dims = ", ".join(f"{name}: {t.dim_x} x {t.dim_y}" for name, t in shapes.items())
            raise ValueError(
                f"the tasks of a staircase share one stacked critic, so they need the same dimensions; got {dims}"
            )
        for name in self.critics:
            if name not in STACKED_CRITICS:
                raise unknown_name_error("staircase critic", name, STACKED_CRITICS)
        _parse_specs(self.bounds)
        for name in ("dim", "steps_per_level", "window", "hidden_dim", "embed_dim", "baseline_hidden_dim"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum=1))
        object.__setattr__(
            self, "batch_size", check_int(self.batch_size, "batch_size", minimum=2, why="the bounds need negatives")
        )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

    def task_at(self, name: str, mi: float) -> Task:
        """Task ``name`` of :attr:`tasks` at the MI level ``mi`` (:func:`mibounds.tasks.at_mi` with :attr:`dim`)."""
        return tasks.at_mi(name, mi, dim=self.dim)

    @property
    def steps(self) -> int:
        """Total training steps."""
        return len(self.levels) * self.steps_per_level

    @property
    def specs(self) -> list[BoundSpec]:
        """The parsed bounds, in order."""
        return _parse_specs(self.bounds)

    def schedule(self) -> np.ndarray:
        """The true MI per step, ``[steps]`` (nats)."""
        return tasks.mi_schedule(self.levels, self.steps_per_level)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StaircaseConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown staircase settings {unknown}; valid: {sorted(names)}")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**kwargs)
