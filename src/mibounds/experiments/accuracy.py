"""The accuracy suite: the default :func:`mibounds.estimate` on ground-truth tasks across the range.

One command (``mibounds bench accuracy``) runs every (task, n, seed) cell of :data:`SUITE` with
every setting at the library default, into a resumable SQLite results file (the benchmark
runner's), and writes a report: per task the bias, mean absolute error, RMSE, interval coverage,
how often the lower bound stays below the truth, and the median seconds, beside the rows of the
peer packages that ``benchmarks/peers/run_peers.py`` writes into the same file from the same
samples; a figure of estimate against true MI; and the acceptance checks of the suite.

The tasks span what users meet: the 20-d Gaussian from 0 to 10 nats, small and large n and high
dimension, and non-Gaussian dependence (Student-t tails, a spiral, elementwise maps followed by a
fixed rotation). No task is an elementwise map of a Gaussian alone: the estimator's per-column
normal scores undo those exactly, so they would measure nothing about the critic.
:data:`HARD_SUITE` adds what real data brings beyond the Gaussian copula: regimes with
sign-flipping correlations, heavy joint tails at high MI, non-linear maps mixed by a rotation in
d = 10, a 5-d task embedded into 100 and 1,000 dimensions, and labels coded as numbers.

Example:
    >>> from mibounds.experiments.accuracy import SUITE, family
    >>> family("gaussian-d20-mi6"), all(n > 0 for _, n in SUITE)
    ('gaussian-d20', True)
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mibounds.experiments.outputs import write_text

__all__ = [
    "CELL",
    "HARD_SUITE",
    "PEERS",
    "SEEDS",
    "SUITE",
    "AccuracyFiles",
    "accuracy_cell",
    "accuracy_cells",
    "family",
    "plot_accuracy",
    "run_accuracy",
    "write_accuracy_report",
]

#: The cell function's dotted path (the ``function`` of its rows in the results file).
CELL = "mibounds.experiments.accuracy:accuracy_cell"
#: The ``function`` under which benchmarks/peers/run_peers.py records the peer packages' rows.
PEERS = "peers"
#: Seeds (independent samples and training runs) per task.
SEEDS = (0, 1, 2, 3, 4)
#: (task id, n): the tasks and sample sizes of the suite.
SUITE: tuple[tuple[str, int], ...] = (
    *((f"gaussian-d20-mi{level:g}", 10_000) for level in (0, 0.5, 1, 2, 4, 6, 8, 10)),
    ("gaussian-d5-mi1", 1_000),
    ("gaussian-d5-mi1", 50_000),
    ("gaussian-d50-mi5", 10_000),
    ("student-t-dx2-dy2-dof2-c0.5", 10_000),
    ("student-t-dense-dx3-dy3-dof3-c0.25", 10_000),
    ("spiral-v1(gaussian-d5-mi1)", 10_000),
    ("rotate(half-cube(mvn-sparse-dx3-dy3-k2-c0.8))", 10_000),
    ("rotate(asinh(student-t-dx2-dy2-dof2-c0.5))", 10_000),
    ("rotate(normal-cdf(mvn-dense-dx3-dy3-c0.25))", 10_000),
)
#: (task id, n): the harder suite, all at n = 10,000; true MI in nats (a Monte-Carlo mean of
#: exact densities where marked, its standard error in ``task.mutual_information_stderr``).
HARD_SUITE: tuple[tuple[str, int], ...] = (
    ("sign-mixture-d10-k2-c0.64", 10_000),  # 1.974 (MC, s.e. 1e-4); identity covariance
    ("sign-mixture-d10-k2-c0.78", 10_000),  # 3.998 (MC, s.e. 4e-5)
    ("rotate(half-cube(gaussian-d10-mi4))", 10_000),  # 4
    ("rotate(half-cube(gaussian-d10-mi8))", 10_000),  # 8
    ("student-t-dx5-dy5-dof2-c0.9", 10_000),  # 4.600
    ("embed-d100(gaussian-d5-mi4)", 10_000),  # 4
    ("embed-d1000(gaussian-d5-mi4)", 10_000),  # 4
    *((f"spiral-v1(gaussian-d5-mi{level})", 10_000) for level in (1, 2, 4)),
    ("float-labels-c10-d2-s0.3", 10_000),  # 1.654 (MC, s.e. 3e-4) of H(C) = 2.303
)
#: Peers that train a critic and report a value on rows it did not train on: torch-mist with
#: ``test_data`` (a fifth of the rows), bmi's InfoNCE (its test half; the best of its evaluations).
HELDOUT_NEURAL_PEERS = ("torch-mist:default-heldout", "torch-mist:mine-heldout", "bmi:infonce")
#: Peers that train a critic (the "best neural peer" of the acceptance), in-sample (torch-mist's
#: default, which evaluates on the rows it trained on) or held-out; the rest are reported beside.
NEURAL_PEERS = ("torch-mist:default", "torch-mist:mine", *HELDOUT_NEURAL_PEERS)


def accuracy_cell(task: str, n: int, seed: int) -> dict[str, Any]:
    """One default estimate on a ground-truth task: ``estimate(x, y, random_state=seed)``.

    Args:
        task: A task id (:func:`mibounds.tasks.make`).
        n: Samples drawn with ``task.sample(n, seed=seed)``.
        seed: Seed of the samples and of the estimator.

    Returns:
        The result's fields (without learning curves), plus ``true_mi``, ``task_id``,
        ``estimator`` (``"mibounds"``) and ``covered`` (whether the interval holds the truth).
    """
    import torch

    from mibounds import tasks
    from mibounds.estimation import estimate

    ground_truth = tasks.make(task)
    x, y = ground_truth.sample(n, seed=seed, dtype=_float64())
    # As many threads as the sweep gave this cell (one by default: the times the suite reports).
    result = estimate(x.numpy(), y.numpy(), random_state=seed, progress=False, threads=torch.get_num_threads())
    row = result.to_dict()
    row.pop("history", None)
    truth = float(ground_truth.mutual_information)
    row.update(
        true_mi=truth, task_id=ground_truth.name, estimator="mibounds", covered=result.ci_low <= truth <= result.ci_high
    )
    return row


def _float64() -> Any:
    import torch

    return torch.float64


def _check_cells(cells: Sequence[Mapping[str, Any]]) -> None:
    from mibounds import tasks

    for name in {cell["task"] for cell in cells}:
        tasks.make(name)  # raises with the valid names


accuracy_cell.check_cells = _check_cells  # type: ignore[attr-defined]


def accuracy_cells(suite: Iterable[tuple[str, int]] = SUITE, seeds: Iterable[int] = SEEDS) -> list[dict[str, Any]]:
    """The parameters of every cell: ``{"task", "n", "seed"}`` for each task, size and seed."""
    return [{"task": task, "n": int(n), "seed": int(seed)} for task, n in suite for seed in seeds]


def run_accuracy(
    db: str | Path,
    *,
    suite: Iterable[tuple[str, int]] = SUITE,
    seeds: Iterable[int] = SEEDS,
    workers: int = 0,
    threads: int = 1,
    progress: bool = True,
) -> Any:
    """Run the suite's cells not yet in ``db`` (see :func:`mibounds.experiments.run_sweep`).

    Every cell runs with ``threads`` torch threads (one by default, the setting the suite's
    times are for), in this process (``workers=0``) or in each worker process.

    Returns:
        The :class:`~mibounds.experiments.sweep.runner.SweepSummary`.
    """
    from mibounds.experiments.sweep.executors import limit_threads
    from mibounds.experiments.sweep.runner import run_sweep

    if workers == 0:
        limit_threads(threads)  # the serial executor leaves this process's threads as they are
    return run_sweep(
        accuracy_cells(suite, seeds),
        db,
        CELL,
        workers=workers,
        threads_per_worker=threads,
        progress=progress,
        resume_hint="run the same mibounds bench accuracy command again",
    )


def family(task_id: str) -> str:
    """The task family of an id: the id without its MI level and sizes (``gaussian-d20`` for
    ``gaussian-d20-mi4``), so the levels of one family pool into one line of the report."""
    return re.sub(r"-mi[0-9.]+(?=$|[-)])", "", task_id)


@dataclass
class AccuracyFiles:
    """What :func:`write_accuracy_report` wrote."""

    markdown: Path
    csv: Path
    figure: Path | None

    def __str__(self) -> str:
        return "\n".join(str(p) for p in (self.markdown, self.csv, self.figure) if p is not None)


def _rows(db: str | Path) -> list[dict[str, Any]]:
    from mibounds.experiments.sweep.store import ResultStore

    with ResultStore(db, create=False) as store:
        rows = [r for r in store.rows() if r["function"] in (CELL, PEERS) and r["status"] == "done"]
    for row in rows:
        row.setdefault("estimator", "mibounds")
    return rows


def _group(rows: Iterable[Mapping[str, Any]], *keys: str) -> dict[tuple[Any, ...], list[Mapping[str, Any]]]:
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def _stats(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from mibounds.experiments.sweep.statistics import summarize_errors

    errors = summarize_errors([float(r["estimate"]) for r in rows], [float(r["true_mi"]) for r in rows])
    intervals = [r for r in rows if r.get("ci_low") is not None and r.get("ci_high") is not None]
    lower = [r for r in rows if r.get("lower_bound") is not None]
    return {
        "runs": len(rows),
        "true_mi": errors.truth,
        "estimate": errors.mean,
        "bias": errors.bias,
        "mae": errors.mae,
        "rmse": errors.rmse,
        "coverage": None if not intervals else sum(_covers(r) for r in intervals) / len(intervals),
        "lower_ok": None
        if not lower
        else sum(float(r["lower_bound"]) <= float(r["true_mi"]) for r in lower) / len(lower),
        "warned": sum(bool(r.get("warnings")) for r in rows),
        "seconds": statistics.median(float(r["seconds"]) for r in rows if r.get("seconds") is not None),
    }


def _covers(row: Mapping[str, Any]) -> bool:
    return float(row["ci_low"]) <= float(row["true_mi"]) <= float(row["ci_high"])


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_accuracy_report(db: str | Path, out: str | Path, *, figure: bool = True) -> AccuracyFiles:
    """Write ``accuracy.md``, ``accuracy.csv`` and (with ``figure``) ``accuracy.png`` from ``db``.

    Raises:
        ValueError: If the file holds no finished cell of the suite.
    """
    rows = _rows(db)
    mine = [r for r in rows if r["estimator"] == "mibounds"]
    if not mine:
        raise ValueError(f"{str(db)!r} holds no finished accuracy cell; run `mibounds bench accuracy --db {db}` first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = AccuracyFiles(out / "accuracy.md", out / "accuracy.csv", None)
    table = [
        {"task": task, "n": n, "estimator": estimator, **_stats(group)}
        for (task, n, estimator), group in _group(rows, "task", "n", "estimator").items()
    ]
    order = {(task, n): i for i, (task, n) in enumerate(SUITE)}
    table.sort(
        key=lambda r: (
            order.get((r["task"], r["n"]), len(order)),
            r["task"],
            r["n"],
            r["estimator"] != "mibounds",
            r["estimator"],
        )
    )
    columns = (
        "task",
        "n",
        "estimator",
        "runs",
        "true_mi",
        "estimate",
        "bias",
        "mae",
        "rmse",
        "coverage",
        "lower_ok",
        "warned",
        "seconds",
    )
    from mibounds.experiments.figures import Table

    Table(columns, [tuple(r[c] for c in columns) for r in table]).to_csv(files.csv, cell=lambda v: _number(v, 6))
    write_text(files.markdown, _markdown(rows, table, columns))
    if figure:
        files.figure = plot_accuracy(rows, out / "accuracy.png")
    return files


def _markdown(rows: list[dict[str, Any]], table: list[dict[str, Any]], columns: Sequence[str]) -> str:
    mine = [r for r in rows if r["estimator"] == "mibounds"]
    lines = [
        "# Accuracy suite",
        "",
        *_acceptance(rows),
        "",
        "## Per task",
        "",
        "Nats. bias = mean(estimate - truth); mae = mean |error|; coverage = share of 95 % intervals "
        "holding the truth; lower_ok = share of runs whose lower bound is at most the truth; warned = runs "
        "that ended with a warning; seconds = median wall time of one call (one thread).",
        "",
    ]
    from mibounds.experiments.figures import Table

    grid = Table(tuple(columns), [tuple(r[c] for c in columns) for r in table])
    lines += (
        grid.to_markdown(right=set(columns) - {"task", "estimator"}, cell=lambda v: _number(v).replace("|", "\\|"))
        .rstrip("\n")
        .split("\n")
    )
    warned = [r for r in mine if r.get("warnings")]
    lines += ["", f"## Runs that ended with a warning ({len(warned)} of {len(mine)})", ""]
    for r in sorted(warned, key=lambda r: (r["task"], r["n"], r["seed"])):
        covered = "covers" if _covers(r) else "misses"
        lines.append(
            f"- {r['task']} n={r['n']} seed {r['seed']}: {float(r['estimate']):.3f} "
            f"[{float(r['ci_low']):.3f}, {float(r['ci_high']):.3f}] ({covered} {float(r['true_mi']):.3f}): "
            + " / ".join(r["warnings"])
        )
    return "\n".join(lines) + "\n"


def _acceptance(rows: list[dict[str, Any]]) -> list[str]:
    """The suite's headline checks, measured (the targets the default estimator is held to)."""
    mine = [r for r in rows if r["estimator"] == "mibounds"]
    lines = ["## Summary", ""]
    levels = [r for r in mine if r["task"] in {f"gaussian-d20-mi{i}" for i in (2, 4, 6, 8, 10)} and r["n"] == 10_000]
    if levels:
        mae = statistics.fmean(abs(float(r["estimate"]) - float(r["true_mi"])) for r in levels)
        worst = max(abs(s["bias"]) for s in (_stats(g) for g in _group(levels, "task").values()))
        lines.append(
            f"- Gaussian d = 20, n = 10,000, I = 2 ... 10: mean |error| {mae:.3f} nats over {len(levels)} runs; "
            f"largest |mean error| of a level {worst:.3f}."
        )
    zero = [r for r in mine if r["task"] == "gaussian-d20-mi0"]
    if zero:
        lines.append(
            f"- I = 0: largest |estimate| {max(abs(float(r['estimate'])) for r in zero):.3f}; the interval covers 0 in "
            f"{sum(_covers(r) for r in zero)} of {len(zero)} runs."
        )
    quiet = [r for r in mine if not r.get("warnings")]
    lines.append(
        f"- Interval coverage: {sum(_covers(r) for r in quiet)} of {len(quiet)} runs without a warning "
        f"({sum(_covers(r) for r in mine)} of {len(mine)} runs in all)."
    )
    lines.append(
        f"- Lower bound at most the truth: {sum(float(r['lower_bound']) <= float(r['true_mi']) for r in mine)} "
        f"of {len(mine)} runs."
    )
    peers = [r for r in rows if r["estimator"] in NEURAL_PEERS]
    if peers:
        lines += [
            "",
            "Mean |error| per task family on the runs both measured (same tasks, sizes and seeds), mibounds "
            "against the best neural peer (torch-mist default and MINE, in-sample as torch-mist runs by default "
            "or held-out with its test_data; bmi InfoNCE) and against the best of those that report a held-out "
            "value; CCA (bmi) beside them:",
            "",
            "| family | runs | mibounds | best neural peer | peer | best held-out neural peer | peer | CCA |",
            "|---|---:|---:|---:|---|---:|---|---:|",
        ]
        for name, group in _families(rows).items():
            ours = {(r["task"], r["n"], r["seed"]): r for r in group if r["estimator"] == "mibounds"}
            scores = []
            for estimator in sorted({r["estimator"] for r in group} - {"mibounds"}):
                theirs = {(r["task"], r["n"], r["seed"]): r for r in group if r["estimator"] == estimator}
                common = sorted(set(ours) & set(theirs))
                if common:
                    scores.append(
                        (estimator, tuple(common), _mae(ours[k] for k in common), _mae(theirs[k] for k in common))
                    )
            neural = [s for s in scores if s[0] in NEURAL_PEERS]
            if not neural:
                continue
            best = min(neural, key=lambda s: s[3])
            # Only a peer measured on the same runs, so that one mibounds column serves both.
            heldout = [s for s in neural if s[0] in HELDOUT_NEURAL_PEERS and s[1] == best[1]]
            best_heldout = " | "
            if heldout:
                nearest = min(heldout, key=lambda s: s[3])
                best_heldout = f"{_number(nearest[3])} | {nearest[0]}"
            cca = [s for s in scores if s[0] == "bmi:cca"]
            lines.append(
                f"| {name} | {len(best[1])} | {_number(best[2])} | {_number(best[3])} | {best[0]} | {best_heldout} | "
                f"{_number(cca[0][3]) if cca else ''} |"
            )
    return lines


def _mae(rows: Iterable[Mapping[str, Any]]) -> float:
    return statistics.fmean(abs(float(r["estimate"]) - float(r["true_mi"])) for r in rows)


def _families(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(f"{family(row['task'])} (n = {row['n']})", []).append(row)
    return groups


def plot_accuracy(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Estimate against true MI, one panel per task family: every mibounds run with its interval
    (and its lower bound as a downward tick), each peer's mean per task; the diagonal is the truth.

    Raises:
        ImportError: Without matplotlib (``pip install 'mibounds[plot]'``).
    """
    from mibounds.experiments.figures import write_figure

    families = _families(list(rows))
    columns = min(4, len(families))
    height = math.ceil(len(families) / columns)
    estimators = sorted({r["estimator"] for r in rows}, key=lambda e: (e != "mibounds", e))
    colors = {e: f"C{i}" for i, e in enumerate(estimators)}

    def draw(fig: Any) -> None:
        for index, (name, group) in enumerate(families.items()):
            ax = fig.add_subplot(height, columns, index + 1)
            truths = sorted({float(r["true_mi"]) for r in group})
            span = (min(truths) - 0.2, max(truths) + 0.2) if len(truths) > 1 else (truths[0] - 0.5, truths[0] + 0.5)
            ax.plot(span, span, color="0.6", linestyle="--", linewidth=1)
            for (estimator,), runs in _group(group, "estimator").items():
                if estimator == "mibounds":
                    for (level,), same in _group(runs, "true_mi").items():  # the seeds of one level side by side
                        for offset, r in enumerate(sorted(same, key=lambda r: r["seed"])):
                            t = float(level) + 0.01 * (span[1] - span[0]) * (offset - (len(same) - 1) / 2)
                            est = float(r["estimate"])
                            ax.errorbar(
                                [t],
                                [est],
                                yerr=[[est - float(r["ci_low"])], [float(r["ci_high"]) - est]],
                                fmt="o",
                                markersize=3,
                                color=colors[estimator],
                                linewidth=1,
                            )
                            ax.plot(
                                [t],
                                [float(r["lower_bound"])],
                                marker="v",
                                markersize=3,
                                color=colors[estimator],
                                alpha=0.5,
                            )
                else:
                    means = [
                        (t, statistics.fmean(float(r["estimate"]) for r in g))
                        for (t,), g in _group(runs, "true_mi").items()
                    ]
                    ax.plot(
                        *zip(*sorted(means), strict=True),
                        marker="s",
                        markersize=4,
                        linestyle="none",
                        color=colors[estimator],
                        alpha=0.8,
                    )
            ax.set_title(name if len(name) < 44 else name.replace(" (n", "\n(n"), fontsize=8)
            ax.set_xlabel("true MI (nats)", fontsize=8)
            ax.set_ylabel("estimate (nats)", fontsize=8)
            ax.tick_params(labelsize=7)
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color=colors[e], marker="o" if e == "mibounds" else "s", linestyle="none", label=e)
            for e in estimators
        ]
        handles.append(
            Line2D(
                [], [], color=colors["mibounds"], marker="v", linestyle="none", alpha=0.5, label="mibounds lower bound"
            )
        )
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8, frameon=False)
        fig.subplots_adjust(bottom=0.6 / (3.2 * height + 0.6) + 0.08, hspace=0.5, wspace=0.35)

    return write_figure(path, draw, (3.6 * columns, 3.2 * height + 0.6))
