"""The staircase's result: per-step estimates, their per-stage statistics, tables, figures, files.

Example:
    >>> import numpy as np
    >>> from mibounds.experiments.staircase.result import stage_statistics
    >>> stage_statistics(np.array([1.0, 2.0, 3.0, np.inf]), truth=2.0)["variance"]
    1.0
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mibounds.experiments.figures import Table, make_figure, short, write_figure
from mibounds.experiments.outputs import replacing, write_text
from mibounds.experiments.staircase.config import CONDITIONAL, StaircaseConfig
from mibounds.experiments.staircase.figure import StaircasePanel, draw_staircase, figure_size
from mibounds.experiments.sweep.statistics import summarize_errors

__all__ = ["JobTiming", "StaircaseResult", "merge_results", "stage_statistics"]


@dataclass(frozen=True)
class JobTiming:
    """Wall-clock of one job of a staircase run.

    Attributes:
        critic: ``"separable"``, ``"concat"`` or ``"conditional"`` (structured bounds, no training).
        tasks: The tasks the job ran (stacked in one critic when several).
        num_members: Critics trained together in the stack (0 for the structured bounds).
        steps: Steps per task.
        seconds: Wall-clock of the job's loop.
        cpu_seconds: CPU time of the job's process over the loop (all its threads).
    """

    critic: str
    tasks: tuple[str, ...]
    num_members: int
    steps: int
    seconds: float
    cpu_seconds: float


def stage_statistics(values: np.ndarray, truth: float) -> dict[str, float]:
    """Bias, variance and MSE (nats, nats²) of estimates ``values`` of the true MI ``truth``.

    Non-finite estimates are left out of the moments and counted in ``"nonfinite"``; the numbers
    are those of :func:`mibounds.experiments.sweep.statistics.summarize_errors`.
    """
    summary = summarize_errors(values, truth)
    return {
        "mean": summary.mean,
        "bias": summary.bias,
        "variance": summary.variance,
        "mse": summary.mse,
        "nonfinite": summary.nonfinite,
    }


@dataclass
class StaircaseResult:
    """Per-step estimates of a staircase run and what is derived from them.

    Attributes:
        config: The configuration that produced it.
        true_mi: ``[steps]`` true MI per step (nats).
        keys: ``(task, critic, bound label)`` per row of ``values``; the structured bounds have the
            critic ``"conditional"`` (the task's true ``log p(y|x)``).
        values: ``[len(keys), steps]`` estimates (nats).
        timings: Wall-clock of every job.
        wall_seconds: Wall-clock of the whole run.
        frozen: ``(task, critic, bound label) -> step`` for critics whose weights or Adam state
            were found NaN/inf at that step (checked every :data:`HEALTH_CHECK_EVERY` steps): from
            then on the critic no longer learns, and its estimates say so, not the bound.
    """

    config: StaircaseConfig
    true_mi: np.ndarray
    keys: list[tuple[str, str, str]]
    values: np.ndarray
    timings: list[JobTiming] = field(default_factory=list)
    wall_seconds: float = float("nan")
    frozen: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def series(self, task: str, critic: str, bound: str) -> np.ndarray:
        """The per-step estimates of one bound (label) trained with one critic on one task."""
        try:
            return self.values[self.keys.index((task, critic, bound))]
        except ValueError:
            raise KeyError(
                f"no series ({task!r}, {critic!r}, {bound!r}); this run has tasks {list(self.config.tasks)}, "
                f"critics {sorted({k[1] for k in self.keys})} and bounds {list(self.config.bounds)}"
            ) from None

    @property
    def critics(self) -> list[str]:
        """The critics present (learned ones first, then ``"conditional"``), in run order."""
        return list(dict.fromkeys(k[1] for k in self.keys))

    def stage_table(self) -> Table:
        """Per (task, critic, bound, stage): estimates over the last ``window`` steps of the stage.

        Columns: task, critic, bound, kind, stage, true_mi, mean, bias, variance, mse, max (the
        largest estimate anywhere in the stage), ceiling (:meth:`BoundSpec.ceilings`, or NaN), nonfinite.
        """
        cfg = self.config
        window = min(cfg.window, cfg.steps_per_level)
        specs = {s.label: s for s in cfg.specs}
        table = Table(
            (
                "task",
                "critic",
                "bound",
                "kind",
                "stage",
                "true_mi",
                "mean",
                "bias",
                "variance",
                "mse",
                "max",
                "ceiling",
                "nonfinite",
            ),
            title=f"Staircase: estimates over the last {window} steps of each stage (nats)",
        )
        for (task, critic, label), series in zip(self.keys, self.values, strict=True):
            spec = specs[label]
            ceiling = min(spec.ceilings(cfg.batch_size).values(), default=float("nan"))
            for stage, level in enumerate(cfg.levels):
                end = (stage + 1) * cfg.steps_per_level
                stats = stage_statistics(series[end - window : end], level)
                whole = series[end - cfg.steps_per_level : end]
                whole = whole[np.isfinite(whole)]
                top = float(whole.max()) if whole.size else float("nan")
                table.rows.append(
                    (
                        task,
                        critic,
                        label,
                        spec.info.kind,
                        stage + 1,
                        level,
                        stats["mean"],
                        stats["bias"],
                        stats["variance"],
                        stats["mse"],
                        top,
                        ceiling,
                        stats["nonfinite"],
                    )
                )
        return table

    def timing_table(self) -> Table:
        """Wall-clock per job (training loop, or evaluation for the structured bounds), and in all."""
        table = Table(
            ("critic", "tasks", "critics_in_stack", "steps", "seconds", "ms_per_step", "cpu_seconds"),
            title=f"Staircase wall-clock: {self.wall_seconds:.1f} s in all",
        )
        for job in self.timings:
            table.rows.append(
                (
                    job.critic,
                    "+".join(job.tasks),
                    job.num_members,
                    job.steps,
                    job.seconds,
                    1e3 * job.seconds / job.steps,
                    job.cpu_seconds,
                )
            )
        return table

    def markdown(self) -> str:
        """The stage table as one compact Markdown table per (task, critic), plus the timing."""
        cfg = self.config
        stages = self.stage_table()
        parts = [
            stages.title and f"### {stages.title}\n",
            "Each cell: bias / variance / MSE over the last "
            f"{min(cfg.window, cfg.steps_per_level)} steps of the stage; `max`: largest estimate "
            "in the whole run; `ceiling`: the largest value a batch can give (log K; 1 + log((K-1)/α)).\n",
        ]
        for task in cfg.tasks:
            for critic in self.critics:
                rows = stages.where(task=task, critic=critic)
                if not rows.rows:
                    continue
                columns = ("bound", *(f"I = {lvl:g}" for lvl in cfg.levels), "max", "ceiling")
                compact = Table(columns, title=f"{task}, critic: {critic}")
                for label in dict.fromkeys(rows.column("bound")):
                    recs = rows.where(bound=label).records()
                    cells = [f"{short(r['bias'])} / {r['variance']:.3g} / {r['mse']:.3g}" for r in recs]
                    compact.rows.append((label, *cells, max(r["max"] for r in recs), recs[0]["ceiling"]))
                parts.append(compact.to_markdown(digits=2))
        checks = self.checks()
        if checks.rows:
            parts.append(checks.to_markdown(digits=3))
        if self.frozen:
            parts.append(
                "**Critics that stopped learning** (weights or Adam state NaN/inf, e.g. a gradient "
                "of e^f too large for the dtype; their later estimates are a frozen critic's):\n"
            )
            parts += [
                f"- {task}, {critic}, {label}: from step {step}"
                for (task, critic, label), step in sorted(self.frozen.items(), key=lambda item: (item[1], item[0]))
            ]
            parts.append("")
        parts.append(self.timing_table().to_markdown(digits=2))
        return "\n".join(parts)

    def checks(self) -> Table:
        """The published behaviour (Poole et al. 2019, §4), checked on this run's stage table.

        Per task and learned critic: InfoNCE never above log K (every step); InfoNCE within 0.3
        nats of the truth at the first level; NWJ and JS with a larger variance than InfoNCE at
        the two highest levels; every I_alpha under its ceiling 1 + log((K-1)/alpha) (every step).
        Checks whose bounds are not in the run are left out.

        Returns:
            Columns: task, critic, check, observed, expected, holds (``"yes"``/``"no"``).
        """
        cfg = self.config
        stages = self.stage_table()
        labels = {s.label for s in cfg.specs}
        table = Table(
            ("task", "critic", "check", "observed", "expected", "holds"),
            title="Published behaviour, checked on this run",
        )

        def add(task: str, critic: str, check: str, observed: float, expected: str, holds: bool) -> None:
            table.rows.append((task, critic, check, observed, expected, "yes" if holds else "no"))

        log_k = math.log(cfg.batch_size)
        high = cfg.levels[-2:]
        for task in cfg.tasks:
            for critic in (c for c in self.critics if c != CONDITIONAL):
                rows = stages.where(task=task, critic=critic)
                if "infonce" in labels:
                    top = float(np.nanmax(self.series(task, critic, "infonce")))
                    add(task, critic, "max InfoNCE estimate (any step)", top, f"<= log K = {log_k:.3f}", top <= log_k)
                    first = rows.where(bound="infonce", stage=1).records()[0]
                    add(
                        task,
                        critic,
                        f"InfoNCE bias at I = {cfg.levels[0]:g}",
                        first["bias"],
                        "abs(bias) <= 0.3",
                        abs(first["bias"]) <= 0.3,
                    )
                    for other in ("nwj", "js"):
                        if other not in labels:
                            continue
                        for level in high:
                            mine = rows.where(bound=other, true_mi=level).records()[0]["variance"]
                            ref = rows.where(bound="infonce", true_mi=level).records()[0]["variance"]
                            add(
                                task,
                                critic,
                                f"variance {other} / infonce at I = {level:g}",
                                mine / ref,
                                "> 1",
                                mine > ref,
                            )
                for spec in (s for s in cfg.specs if s.name == "interpolated"):
                    ceiling = min(spec.ceilings(cfg.batch_size).values(), default=math.inf)
                    top = float(np.nanmax(self.series(task, critic, spec.label)))
                    add(task, critic, f"max {spec.label} estimate (any step)", top, f"<= {ceiling:.3f}", top <= ceiling)
        return table

    def panels(self, task: str) -> list[StaircasePanel]:
        """One figure panel per bound of ``task``: every critic's series, and the ceilings."""
        panels = []
        for spec in self.config.specs:
            curves = {c: self.series(task, c, spec.label) for c in self.critics if (task, c, spec.label) in self.keys}
            panels.append(StaircasePanel(spec.label, curves, spec.ceilings(self.config.batch_size)))
        return panels

    def _draw(self, task: str) -> tuple[Callable[[Any], None], tuple[float, float]]:
        """How to draw the staircase figure of one task, and its size."""
        cfg = self.config
        panels = self.panels(task)
        title = (
            f"{task} (d = {cfg.task_at(task, cfg.levels[0]).dim_x}, K = {cfg.batch_size}): raw estimates (light), "
            f"EMA span {cfg.ema_span:g} (dark), true MI (black), ceilings (dashed)"
        )
        draw = functools.partial(draw_staircase, panels=panels, true_mi=self.true_mi, span=cfg.ema_span, title=title)
        return draw, figure_size(len(panels), title=True)

    def figure(self, task: str) -> Any:
        """The staircase figure of one task (a matplotlib ``Figure``), as :meth:`save` writes it."""
        return make_figure(*self._draw(task))

    def save(self, directory: str | Path, *, figures: bool = True) -> dict[str, Path]:
        """Write the estimates (npz, CSV), the stage table (CSV, Markdown), timing and figures.

        Files: ``staircase_estimates.npz`` (reload with :meth:`load`), ``staircase_estimates.csv``
        (one column per series), ``staircase_stages.csv``, ``staircase.md``,
        ``staircase_timing.csv`` and ``staircase_<task>.png``.

        Returns:
            What was written: name -> path.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        keys = np.array(["|".join(k) for k in self.keys], dtype=np.str_)
        meta = json.dumps(
            {
                "config": self.config.to_dict(),
                "wall_seconds": self.wall_seconds,
                "timings": [dataclasses.asdict(t) for t in self.timings],
                "frozen": [["|".join(k), step] for k, step in self.frozen.items()],
            }
        )
        written["npz"] = out / "staircase_estimates.npz"
        with replacing(written["npz"], binary=True) as handle:
            np.savez_compressed(
                handle, true_mi=self.true_mi, values=self.values, keys=keys, meta=np.array(meta, dtype=np.str_)
            )
        written["estimates_csv"] = out / "staircase_estimates.csv"
        columns = np.column_stack([np.arange(len(self.true_mi)), self.true_mi, self.values.T])
        with replacing(written["estimates_csv"]) as handle:
            np.savetxt(
                handle,
                columns,
                fmt="%.7g",
                delimiter=",",
                comments="",
                header=",".join(["step", "true_mi", *("/".join(k) for k in self.keys)]),
            )
        written["stages_csv"] = self.stage_table().to_csv(out / "staircase_stages.csv")
        written["timing_csv"] = self.timing_table().to_csv(out / "staircase_timing.csv")
        written["markdown"] = out / "staircase.md"
        write_text(written["markdown"], self.markdown())
        if figures:
            for task in self.config.tasks:
                written[f"png_{task}"] = write_figure(out / f"staircase_{task}.png", *self._draw(task))
        return written

    @classmethod
    def load(cls, path: str | Path) -> StaircaseResult:
        """Read a result written by :meth:`save` (a directory or the ``.npz`` file)."""
        path = Path(path)
        if path.is_dir():
            path = path / "staircase_estimates.npz"
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            keys = [tuple(str(k).split("|")) for k in data["keys"]]
            timings = [JobTiming(**_timing_fields(t)) for t in meta["timings"]]
            frozen = {tuple(k.split("|")): int(step) for k, step in meta.get("frozen", [])}
            return cls(
                StaircaseConfig.from_dict(meta["config"]),
                data["true_mi"],
                keys,  # type: ignore[arg-type]
                data["values"],
                timings,
                meta["wall_seconds"],
                frozen,
            )


def _timing_fields(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved :class:`JobTiming` as its fields (runs saved before the rename have ``members``)."""
    fields = {**saved, "tasks": tuple(saved["tasks"])}
    if "members" in fields:
        fields["num_members"] = fields.pop("members")
    return fields


def merge_results(results: Sequence[StaircaseResult]) -> StaircaseResult:
    """One result from runs of the same staircase with different critics (e.g. run separately).

    Series present in several runs (the structured bounds) are taken from the first; the wall-clock
    is the sum of the runs' (they ran one after the other).

    Raises:
        ValueError: If the runs differ in anything but the critics.
    """
    if not results:
        raise ValueError("merge_results needs at least one result")
    first = results[0]
    base = dataclasses.replace(first.config, critics=("separable",))
    for other in results[1:]:
        if dataclasses.replace(other.config, critics=("separable",)) != base:
            raise ValueError(
                "can only merge staircase runs that differ in their critics; these differ in "
                + ", ".join(
                    k for k, v in first.config.to_dict().items() if k != "critics" and other.config.to_dict()[k] != v
                )
            )
    keys, rows = [], []
    for result in results:
        for key, row in zip(result.keys, result.values, strict=True):
            if key not in keys:
                keys.append(key)
                rows.append(row)
    critics_run = tuple(dict.fromkeys(c for r in results for c in r.config.critics))
    order = sorted(range(len(keys)), key=lambda i: (first.config.tasks.index(keys[i][0]), keys[i][1] == CONDITIONAL, i))
    return StaircaseResult(
        dataclasses.replace(first.config, critics=critics_run),
        first.true_mi,
        [keys[i] for i in order],
        np.stack([rows[i] for i in order]),
        [t for r in results for t in r.timings],
        sum(r.wall_seconds for r in results),
        {k: v for r in reversed(results) for k, v in r.frozen.items()},
    )
