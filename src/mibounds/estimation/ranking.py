"""Which features tell most about a target? :func:`rank_features`, the held-out, interval-carrying
counterpart of scikit-learn's ``mutual_info_classif`` / ``mutual_info_regression``.

Each feature (a column, or a named group of columns) gets its own :func:`mibounds.estimate`
against the target, with every setting shared: a categorical target (class labels) gives the
Barber–Agakov bound of a classifier, a continuous one the default estimator, a categorical feature
with a categorical target the estimate of their contingency table. The features are then sorted by estimate; each row
keeps its interval and lower bound, so two features whose intervals overlap are not told apart by
this data. Unlike the univariate k-NN estimates of scikit-learn, a group of columns is scored
jointly (its MI is not the sum of its columns').
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mibounds._progress import progress_bar
from mibounds.estimation.data import check_input, is_pandas
from mibounds.estimation.pipeline import run
from mibounds.estimation.result import ResultBase
from mibounds.estimation.settings import make_settings

__all__ = ["FeatureRanking", "FeatureScore", "rank_features"]


@dataclass
class FeatureScore:
    """One feature's (or group's) estimate of I(feature; target) in nats."""

    name: str
    columns: list[str]
    estimate: float
    ci_low: float
    ci_high: float
    lower_bound: float
    method: str
    warnings: list[str] = field(default_factory=list)


@dataclass(repr=False)
class FeatureRanking(ResultBase):
    """Features sorted by estimated MI with the target, highest first.

    Attributes:
        scores: One :class:`FeatureScore` per feature or group.
        confidence: Coverage of the intervals.
        seconds: Wall time of all estimates.
    """

    scores: list[FeatureScore]
    confidence: float
    seconds: float

    @property
    def names(self) -> list[str]:
        """Feature names, highest estimate first."""
        return [score.name for score in self.scores]

    @property
    def warnings(self) -> list[str]:  # type: ignore[override]
        """Every feature's warnings, each saying which feature it concerns."""
        return [f"{score.name}: {w}" for score in self.scores for w in score.warnings]

    def to_frame(self) -> Any:
        """The scores as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in asdict(s).items() if k != "warnings"} for s in self.scores])

    def summary(self) -> str:
        """The table: one line per feature, highest estimate first, flagged where it has warnings."""
        width = max(len("feature"), *(len(s.name) for s in self.scores))
        level = f"{100 * self.confidence:g}%"
        lines = [
            f"{'feature':<{width}}  estimate  {level} interval      method",
            "-" * (width + 44),
        ]
        for s in self.scores:
            flag = "  (warning)" if s.warnings else ""
            lines.append(f"{s.name:<{width}}  {s.estimate:8.3f}  [{s.ci_low:6.3f}, {s.ci_high:6.3f}]  {s.method}{flag}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()  # the table flags the features with warnings; to_dict() holds them

    def _repr_items(self) -> list[str]:
        return [f"names={self.names!r}", f"confidence={self.confidence:g}", f"seconds={self.seconds:.1f}"]


def rank_features(
    x: Any,
    y: Any,
    *,
    groups: Mapping[str, Sequence[str | int]] | None = None,
    progress: bool = True,
    **params: Any,
) -> FeatureRanking:
    """Estimate I(feature; y) for every column (or named group of columns) of ``x`` and sort.

    Args:
        x: ``[n, d]`` features: a pandas DataFrame (columns by name) or an array (``x[j]``).
        y: ``[n]`` target: class labels (integers, strings, booleans) or numbers.
        groups: Optional ``{name: columns}`` scored jointly instead of one column at a time
            (columns by name for a DataFrame, by index otherwise).
        progress: A bar over the features on a terminal; elsewhere (a log), a line on stderr with
            the features done and the time left after 10 s, then at doubling intervals.
        **params: Options of :class:`~mibounds.estimation.settings.EstimatorSettings`, shared by every feature
            (``random_state``, ``max_steps``, ``discrete``, ...).

    Returns:
        The :class:`FeatureRanking` (``scores`` highest first, ``names``, ``to_frame()``).

    Example:
        >>> import numpy as np, mibounds
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 2000)
        >>> x = np.column_stack([rng.normal(size=2000), y + rng.normal(size=2000), 3 * y + rng.normal(size=2000)])
        >>> ranking = mibounds.rank_features(x, y, max_steps=200, random_state=0, progress=False)
        >>> ranking.names
        ['x[2]', 'x[1]', 'x[0]']
    """
    start = time.perf_counter()
    settings = make_settings({"progress": False, **params})
    x, y = check_input(x, "x"), check_input(y, "y")
    frame = x if is_pandas(x) and hasattr(x, "columns") else None
    array = None if frame is not None else np.asarray(x)
    if array is not None and array.ndim == 1:
        array = array[:, None]
    if array is not None and array.ndim != 2:
        raise ValueError(f"x must be [n, d] (one row per sample, one column per feature), got shape {array.shape}")
    names = [str(c) for c in frame.columns] if frame is not None else [f"x[{j}]" for j in range(array.shape[1])]  # type: ignore[union-attr]
    chosen = {name: [name] for name in names} if groups is None else _check_groups(groups, names, frame is not None)
    if not chosen:
        raise ValueError("no features to rank: x has no columns (or groups is empty)")
    scores = []
    # minutes at many features: where no bar is drawn, plain lines with the time left
    bar = progress_bar(len(chosen), progress, desc="features", unit="feature", plain="ranking features")
    for name, columns in chosen.items():
        part = frame[columns] if frame is not None else array[:, [names.index(c) for c in columns]]  # type: ignore[index]
        result = run(part, y, settings).result  # its warnings are kept per feature, not issued
        scores.append(
            FeatureScore(
                name,
                list(columns),
                result.estimate,
                result.ci_low,
                result.ci_high,
                result.lower_bound,
                result.method,
                list(result.warnings),
            )
        )
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    scores.sort(key=lambda s: s.estimate, reverse=True)
    return FeatureRanking(scores, settings.confidence, time.perf_counter() - start)


def _check_groups(groups: Mapping[str, Sequence[str | int]], names: list[str], by_name: bool) -> dict[str, list[str]]:
    chosen = {}
    for group, columns in groups.items():
        if isinstance(columns, (str, int)):
            columns = [columns]
        resolved = []
        for column in columns:
            if by_name and str(column) in names:
                resolved.append(str(column))
            elif not by_name and isinstance(column, (int, np.integer)) and 0 <= column < len(names):
                resolved.append(names[column])
            else:
                kind = "a column name" if by_name else f"a column index in [0, {len(names)})"
                raise ValueError(f"group {group!r} names {column!r}, which is not {kind}")
        if not resolved:
            raise ValueError(f"group {group!r} has no columns")
        chosen[str(group)] = resolved
    return chosen
