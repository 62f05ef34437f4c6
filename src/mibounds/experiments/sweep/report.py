"""Tables and a figure from a sweep's results file: bias, spread, error and coverage per setting.

Rows are grouped by every parameter except ``seed`` (the replicates), and per group

- ``seeds``: done cells with an estimate; ``failed``: failed cells;
- ``estimate``: mean estimate (nats); ``true_mi``: mean true MI; ``bias`` = estimate - true_mi;
- ``std``: sample standard deviation of the estimates over seeds (ddof = 1; empty for one seed);
- ``rmse``: sqrt(mean over seeds of (estimate - true_mi)^2), which is sqrt(bias^2 + variance)
  with the variance taken with ddof = 0;
- ``coverage``: fraction of cells whose interval [ci_low, ci_high] holds the true MI;
- ``seconds``: mean wall time of a cell.

:func:`write_report` writes ``report.md`` (a Markdown table), ``report.csv`` and
``estimates.png`` (mean estimate against true MI, one panel per bound, error bars one std).

Example:
    >>> from mibounds.experiments.sweep.report import summarize
    >>> rows = [{"params": {"task": "t", "bound": "nwj", "seed": s}, "status": "done", "estimate": e,
    ...          "ci_low": e - 1, "ci_high": e + 1, "true_mi": 1.0, "seconds": 2.0}
    ...         for s, e in enumerate([1.0, 1.2, 1.4])]
    >>> keys, (group,) = summarize(rows)
    >>> keys, group["seeds"], round(group["bias"], 6), round(group["std"], 6)
    (['task', 'bound'], 3, 0.2, 0.2)
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mibounds.experiments.figures import Table, require_matplotlib, write_figure
from mibounds.experiments.outputs import write_text
from mibounds.experiments.sweep.grid import canonical_json
from mibounds.experiments.sweep.statistics import summarize_errors
from mibounds.experiments.sweep.store import ResultStore

__all__ = ["STAT_COLUMNS", "ReportFiles", "plot_estimates", "summarize", "write_report"]

#: Statistics of each group, in table order.
STAT_COLUMNS = ("seeds", "failed", "estimate", "true_mi", "bias", "std", "rmse", "coverage", "seconds")
# Parameters shown in the tables whenever the results have them, varying or not.
_ALWAYS_SHOWN = ("task", "bound", "critic", "n")
_REPLICATE = "seed"
# The MI level inside a task id: "-mi2" in "gaussian-d20-mi2" or "asinh(cubic-d5-mi0.5)".
_MI_LEVEL = re.compile(r"-mi[0-9.]+(?:e[-+]?[0-9]+)?(?=$|[-)])")


@dataclass
class ReportFiles:
    """Where :func:`write_report` wrote the report."""

    markdown: Path
    csv: Path
    figure: Path | None

    def __str__(self) -> str:
        written = [self.markdown, self.csv] + ([self.figure] if self.figure else [])
        return "\n".join(str(path) for path in written)


def summarize(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Group result rows by their parameters except ``seed`` and compute each group's statistics.

    Args:
        rows: Rows of :meth:`mibounds.experiments.sweep.store.ResultStore.rows` (each with
            ``params`` keys, ``status``, ``estimate``, ``ci_low``, ``ci_high``, ``true_mi``,
            ``seconds``). Rows of several cell functions are kept apart (a ``function`` key).

    Returns:
        ``(keys, groups)``: the parameter names that tell the groups apart (those that vary
        across the rows, plus task/bound/critic/n where present), and one dict per group with
        those keys and :data:`STAT_COLUMNS`, in first-seen order.
    """
    parameter_sets = [_group_params(row) for row in rows]
    names: dict[str, None] = {}
    for params in parameter_sets:
        names.update(dict.fromkeys(params))
    keys = [
        name
        for name in names
        if name in _ALWAYS_SHOWN or len({canonical_json(p.get(name)) for p in parameter_sets}) > 1
    ]
    keys.sort(key=lambda name: _ALWAYS_SHOWN.index(name) if name in _ALWAYS_SHOWN else len(_ALWAYS_SHOWN))
    groups: dict[str, list[Mapping[str, Any]]] = {}
    labels: dict[str, dict[str, Any]] = {}
    for row, params in zip(rows, parameter_sets, strict=True):
        key = canonical_json(params)
        groups.setdefault(key, []).append(row)
        labels.setdefault(key, {name: params.get(name) for name in keys})
    return keys, [{**labels[key], **_statistics(members)} for key, members in groups.items()]


def _group_params(row: Mapping[str, Any]) -> dict[str, Any]:
    params = {name: value for name, value in row["params"].items() if name != _REPLICATE}
    if "function" in row:
        params["function"] = row["function"]
    return params


def _statistics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    done = [row for row in rows if row["status"] == "done" and _finite(row.get("estimate"))]
    estimates = [float(row["estimate"]) for row in done]
    truths = [float(row["true_mi"]) for row in done if _finite(row.get("true_mi"))]
    paired = [(float(r["estimate"]), float(r["true_mi"])) for r in done if _finite(r.get("true_mi"))]
    covered = [
        float(r["ci_low"]) <= float(r["true_mi"]) <= float(r["ci_high"])
        for r in done
        if all(_finite(r.get(k)) for k in ("ci_low", "ci_high", "true_mi"))
    ]
    seconds = [float(row["seconds"]) for row in rows if row["status"] == "done" and _finite(row.get("seconds"))]
    spread = summarize_errors(estimates)
    paired_errors = summarize_errors([e for e, _ in paired], [t for _, t in paired])
    mean = _number(spread.mean)
    true_mi = _mean(truths)
    return {
        "seeds": len(done),
        "failed": sum(row["status"] == "failed" for row in rows),
        "estimate": mean,
        "true_mi": true_mi,
        "bias": None if mean is None or true_mi is None else mean - true_mi,
        "std": _number(spread.std),
        "rmse": _number(paired_errors.rmse),
        "coverage": _mean([float(c) for c in covered]),
        "seconds": _mean(seconds),
    }


def _number(value: float) -> float | None:
    """None for an undefined statistic (NaN), as the report's tables show it (an empty cell)."""
    return None if math.isnan(value) else value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


# -- files ------------------------------------------------------------------------------------


def write_report(db: str | Path, out: str | Path = "report", *, figure: bool = True) -> ReportFiles:
    """Write the Markdown table, the CSV and (with ``figure``) the PNG of a results file.

    Args:
        db: The SQLite results file of a sweep.
        out: Folder to write into (created if missing).
        figure: Also draw ``estimates.png`` (needs matplotlib: ``pip install 'mibounds[plot]'``).

    Returns:
        The paths written.

    Raises:
        ValueError: If the file is missing, not a results file, or holds no cells, or ``out``
            cannot be written.
        ImportError: If ``figure`` is asked for without matplotlib (the tables are written first).
    """
    with ResultStore(db, create=False) as store:
        rows = store.rows()
    if not rows:
        raise ValueError(f"results file {str(db)!r} holds no cells yet; run a sweep into it first")
    keys, groups = summarize(rows)
    out = Path(out)
    files = ReportFiles(markdown=out / "report.md", csv=out / "report.csv", figure=None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _table(keys, groups).to_csv(files.csv, cell=_csv_value)
        write_text(files.markdown, _markdown(db, rows, keys, groups))
    except OSError as error:  # a read-only folder or disk: one line, not a traceback
        raise ValueError(
            f"cannot write the report into {str(out)!r} ({error.strerror or error}); pass an output folder "
            "you can write to"
        ) from None
    if figure:
        files.figure = plot_estimates(groups, out / "estimates.png")
    return files


def _table(keys: list[str], groups: list[dict[str, Any]]) -> Table:
    header = (*keys, *STAT_COLUMNS)
    return Table(header, [tuple(group[name] for name in header) for group in groups])


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return canonical_json(value)
    return repr(value) if isinstance(value, float) else value


def _markdown(db: str | Path, rows: Sequence[Mapping[str, Any]], keys: list[str], groups: list[dict[str, Any]]) -> str:
    # Parameters with one value throughout are stated once above the table.
    constant: dict[str, Any] = {}
    for name in rows[0]["params"]:
        if (
            name != _REPLICATE
            and name not in keys
            and all(row["params"].get(name) == rows[0]["params"][name] for row in rows)
        ):
            constant[name] = rows[0]["params"][name]
    lines = [
        f"# Sweep results: {Path(db).name}",
        "",
        f"{len(rows)} cells ({sum(r['status'] == 'done' for r in rows)} done, "
        f"{sum(r['status'] == 'failed' for r in rows)} failed). Estimates and true MI in nats; "
        "bias = mean estimate - true MI; std over seeds; RMSE against the true MI; coverage = share "
        "of intervals holding the true MI; seconds = mean time per cell.",
        "",
    ]
    if constant:
        lines += ["Same in every cell: " + ", ".join(f"`{k}={_text(v)}`" for k, v in constant.items()) + ".", ""]
    return "\n".join(lines) + "\n" + _table(keys, groups).to_markdown(right=set(STAT_COLUMNS) - set(keys), cell=_text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (list, dict)):
        return canonical_json(value).replace("|", "\\|")
    return str(value).replace("|", "\\|")


def plot_estimates(groups: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Draw mean estimate against true MI, one panel per bound, error bars one std over seeds.

    Within a panel, one line per setting of the other parameters (task family, critic, n, ...)
    through its points in order of true MI; parameters that only set the MI level (the x axis,
    such as the ``mi2``/``mi4`` of task ids) do not split the lines. The dashed diagonal is the
    truth; one legend for all panels sits below them.

    Args:
        groups: The groups of :func:`summarize`.
        path: The PNG to write.

    Returns:
        ``path``.

    Raises:
        ImportError: Without matplotlib.
        ValueError: If no group has both an estimate and a true MI.
    """
    require_matplotlib()
    drawable = [g for g in groups if g.get("estimate") is not None and g.get("true_mi") is not None]
    if not drawable:
        raise ValueError("no group has both an estimate and a true MI to draw; pass figure=False for the tables only")
    labels = _series_labels(drawable)
    bounds = list(dict.fromkeys(str(g.get("bound", "")) for g in drawable))
    columns = min(4, len(bounds))
    rows = math.ceil(len(bounds) / columns)
    size = (4.2 * columns, 3.4 * rows + 0.3 * (1 + len(set(labels)) // columns))
    return write_figure(
        path, functools.partial(_draw_estimates, drawable, labels, bounds, columns), size, layout="constrained"
    )


def _draw_estimates(
    groups: Sequence[Mapping[str, Any]], labels: list[str], bounds: list[str], columns: int, fig: Any
) -> None:
    rows = math.ceil(len(bounds) / columns)
    axes = fig.subplots(rows, columns, squeeze=False)
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}
    legend: dict[str, Any] = {}
    for index, bound in enumerate(bounds):
        ax = axes[index // columns][index % columns]
        series: dict[str, list[Mapping[str, Any]]] = {}
        for group, label in zip(groups, labels, strict=True):
            if str(group.get("bound", "")) == bound:
                series.setdefault(label, []).append(group)
        for label, points in series.items():
            points = sorted(points, key=lambda g: g["true_mi"])
            handle = ax.errorbar(
                [g["true_mi"] for g in points],
                [g["estimate"] for g in points],
                yerr=[g["std"] or 0.0 for g in points],
                marker="o",
                markersize=4,
                capsize=3,
                color=colours[label],
            )
            legend.setdefault(label, handle)
        members = [g for points in series.values() for g in points]
        low = min(min(g["true_mi"], g["estimate"]) for g in members)
        high = max(max(g["true_mi"], g["estimate"]) for g in members)
        (truth,) = ax.plot([low, high], [low, high], linestyle="--", color="0.5", linewidth=1)
        ax.set_title(bound or "estimates")
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats)")
    for index in range(len(bounds), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    handles = [truth, *(h for label, h in legend.items() if label)]
    names = ["true MI", *(label for label in legend if label)]
    fig.legend(handles, names, loc="outside lower center", ncols=min(columns, 3))


def _series_labels(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    # A line is one setting of every parameter except the bound (the panel), those that are the
    # same throughout, and those that only set the MI level (one value per true MI and back).
    # Task ids lose their MI level ("gaussian-d20-mi2" -> "gaussian-d20"), so one line runs
    # through the MI levels of a task family.
    names = [name for name in groups[0] if name not in STAT_COLUMNS and name != "bound"]

    def value(group: Mapping[str, Any], name: str) -> str:
        text = _label(group.get(name))
        return _MI_LEVEL.sub("", text) if name == "task" else text

    shown = []
    for name in names:
        pairs = {(value(g, name), g["true_mi"]) for g in groups}
        values = {p[0] for p in pairs}
        sets_the_level = name != "task" and len(pairs) == len(values) == len({p[1] for p in pairs})
        if len(values) > 1 and not sets_the_level:
            shown.append(name)
    return [", ".join(f"{name}={value(g, name)}" for name in shown) for g in groups]


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return _text(value)
