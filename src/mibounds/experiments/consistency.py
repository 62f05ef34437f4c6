"""Self-consistency tests of MI estimators on images (Song & Ermon 2020): ``mibounds bench consistency``.

Without a ground truth on images, an estimator can still be checked against three properties that
the true MI has. The images are scikit-learn's digits (8 x 8, scaled to [0, 1]); each row draws one
of the 1,797 images at random, and the two views are that image with independent Gaussian noise
(standard deviation :data:`NOISE`), so the MI is finite (at most log 1797 = 7.5 nats: the views
share only which image was drawn) and unknown.

1. **More shared rows, more information**: Y shows only the top t of the 8 pixel rows (the others
   are noise alone); I(X; Y_t) grows with t = 2, 4, 6, 8. Passes when no estimate falls below the
   one before it by more than its 95 % noise margin, and the last is above the first.
2. **Data processing**: blurring X (3 x 3 mean filter) cannot add information:
   I(g(X); Y) <= I(X; Y). Passes when the blurred estimate is not above the sharp one by more than
   the 95 % margin of their difference.
3. **Additivity**: two independent draws side by side carry twice the information:
   I([X1, X2]; [Y1, Y2]) = 2 I(X1; Y1) (at t = 4). Passes when the pair's estimate is within the
   95 % margin of twice the single one.

Each estimator is ``mibounds.estimate`` with one bound of the estimator (``js`` is the default);
every cell is one call, run through the resumable benchmark runner.

Reference:
    Song & Ermon (2020), "Understanding the limitations of variational mutual information
    estimators", ICLR, sec. 6 (self-consistency tests).

Example:
    >>> from mibounds.experiments.consistency import consistency_cells
    >>> cells = consistency_cells(bounds=["js"], seeds=[0])
    >>> [c["view"] for c in cells]
    ['rows-2', 'rows-4', 'rows-6', 'rows-8', 'blurred', 'pair']
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mibounds.experiments.outputs import write_text

__all__ = [
    "CELL",
    "NOISE",
    "ROWS",
    "SAMPLES",
    "ConsistencyFiles",
    "consistency_cell",
    "consistency_cells",
    "finished_rows",
    "run_consistency",
    "verdicts",
    "write_consistency_report",
]

#: The cell's dotted path in results files.
CELL = "mibounds.experiments.consistency:consistency_cell"
#: Noise added to each view (pixels are in [0, 1]).
NOISE = 0.4
#: Numbers of top pixel rows Y shows in the first test.
ROWS = (2, 4, 6, 8)
#: Rows (image draws) per estimate.
SAMPLES = 4000
#: Views of one estimator: the rows series, the blurred X, the pair of independent draws.
VIEWS = (*(f"rows-{t}" for t in ROWS), "blurred", "pair")
#: Rows shown in the additivity test.
PAIR_ROWS = 4


def _views(view: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of one view, ``[n, 64]`` (``[n, 128]`` for the pair)."""
    from mibounds.representation.digits import load_digit_images

    images = load_digit_images()[0].double().numpy()  # [1797, 8, 8] in [0, 1]
    rng = np.random.default_rng(seed)

    def draw(shown: int, blur: bool = False) -> tuple[np.ndarray, np.ndarray]:
        picked = images[rng.integers(0, len(images), n)]
        x = picked + NOISE * rng.standard_normal(picked.shape)
        if blur:
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
            x = np.mean([padded[:, i : i + 8, j : j + 8] for i in range(3) for j in range(3)], axis=0)
        y = np.where(np.arange(8)[None, :, None] < shown, picked, 0.0) + NOISE * rng.standard_normal(picked.shape)
        return x.reshape(n, 64), y.reshape(n, 64)

    if view.startswith("rows-"):
        return draw(int(view.split("-")[1]))
    if view == "blurred":
        return draw(8, blur=True)
    if view == "pair":
        (x1, y1), (x2, y2) = draw(PAIR_ROWS), draw(PAIR_ROWS)
        return np.hstack([x1, x2]), np.hstack([y1, y2])
    raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")


def consistency_cell(view: str, bound: str, seed: int, n: int | None = None) -> dict[str, Any]:
    """One estimate of one view: ``mibounds.estimate(x, y, bound=bound, random_state=seed)``.

    The blurred view is the full image (``rows-8``'s draws, blurred on the x side), so the data
    processing test compares estimates on the same images and noise; the pair's first half is
    ``rows-4``'s draws. ``n``: rows (default :data:`SAMPLES`).
    """
    import torch

    from mibounds.estimation import estimate

    x, y = _views(view, seed, SAMPLES if n is None else n)
    # As many threads as the sweep gave this cell (its workers share the machine's cores).
    result = estimate(x, y, bound=bound, random_state=seed, progress=False, threads=torch.get_num_threads())
    row = result.to_dict()
    row.pop("history", None)
    row.update(view=view, estimator=bound)
    return row


def consistency_cells(bounds: Iterable[str] | None = None, seeds: Iterable[int] = (0,)) -> list[dict[str, Any]]:
    """Every cell: each view for each bound (default: every bound the estimator trains) and seed."""
    from mibounds.estimation import estimator_bounds

    names = list(bounds) if bounds is not None else estimator_bounds()
    return [{"view": view, "bound": bound, "seed": int(seed)} for bound in names for seed in seeds for view in VIEWS]


def run_consistency(
    db: str | Path,
    *,
    bounds: Iterable[str] | None = None,
    seeds: Iterable[int] = (0,),
    workers: int = 0,
    threads: int = 1,
    progress: bool = True,
) -> Any:
    """Run the cells not yet in ``db`` (resumable; see :func:`mibounds.experiments.run_sweep`)."""
    from mibounds.experiments.sweep.executors import limit_threads
    from mibounds.experiments.sweep.runner import run_sweep

    if workers == 0:
        limit_threads(threads)
    return run_sweep(
        consistency_cells(bounds, seeds),
        db,
        CELL,
        workers=workers,
        threads_per_worker=threads,
        progress=progress,
        resume_hint="run the same mibounds bench consistency command again",
    )


@dataclass
class Verdicts:
    """The three tests for one estimator and seed, with the numbers behind them."""

    estimator: str
    seed: int
    rows: list[float]
    rows_pass: bool
    processing_ratio: float
    processing_pass: bool
    additivity_ratio: float
    additivity_pass: bool


def verdicts(rows: Sequence[dict[str, Any]]) -> list[Verdicts]:
    """Apply the three tests (see the module docstring) to finished cells, per estimator and seed."""
    groups: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["bound"], int(row["seed"])), {})[row["view"]] = row
    out = []
    for (estimator, seed), views in sorted(groups.items()):
        if set(VIEWS) - set(views):
            continue  # unfinished
        est = {v: float(views[v]["estimate"]) for v in VIEWS}
        se = {v: float(views[v]["stderr"]) for v in VIEWS}
        series = [est[f"rows-{t}"] for t in ROWS]
        margins = [1.96 * math.hypot(se[f"rows-{a}"], se[f"rows-{b}"]) for a, b in itertools.pairwise(ROWS)]
        steps = zip(itertools.pairwise(series), margins, strict=True)
        rows_pass = all(b >= a - m for (a, b), m in steps) and series[-1] > series[0]
        full, blurred = est["rows-8"], est["blurred"]
        processing_pass = blurred <= full + 1.96 * math.hypot(se["rows-8"], se["blurred"])
        single, pair = est[f"rows-{PAIR_ROWS}"], est["pair"]
        additivity_pass = abs(pair - 2 * single) <= 1.96 * math.hypot(se["pair"], 2 * se[f"rows-{PAIR_ROWS}"])
        out.append(
            Verdicts(
                estimator,
                seed,
                series,
                rows_pass,
                blurred / full if full else math.nan,
                processing_pass,
                pair / single if single else math.nan,
                additivity_pass,
            )
        )
    return out


def finished_rows(db: str | Path) -> list[dict[str, Any]]:
    """The finished consistency cells of a results file."""
    from mibounds.experiments.sweep.store import ResultStore

    with ResultStore(db, create=False) as store:
        return [r for r in store.rows() if r["function"] == CELL and r["status"] == "done"]


@dataclass
class ConsistencyFiles:
    """What :func:`write_consistency_report` wrote."""

    markdown: Path
    figure: Path | None

    def __str__(self) -> str:
        return "\n".join(str(p) for p in (self.markdown, self.figure) if p is not None)


def write_consistency_report(db: str | Path, out: str | Path, *, figure: bool = True) -> ConsistencyFiles:
    """Write ``consistency.md`` (which estimator passes which test) and ``consistency.png``.

    Raises:
        ValueError: If the file holds no estimator with all its views finished.
    """
    from mibounds.experiments.figures import Table

    rows = finished_rows(db)
    results = verdicts(rows)
    if not results:
        raise ValueError(
            f"{str(db)!r} holds no estimator with every view finished; run `mibounds bench consistency --db {db}`"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = ConsistencyFiles(out / "consistency.md", None)
    columns = (
        "estimator",
        "seed",
        *(f"t={t}" for t in ROWS),
        "grows",
        "blurred/sharp",
        "processing",
        "pair/single",
        "additive",
    )
    table = Table(
        columns,
        [
            (
                v.estimator,
                v.seed,
                *v.rows,
                _mark(v.rows_pass),
                v.processing_ratio,
                _mark(v.processing_pass),
                v.additivity_ratio,
                _mark(v.additivity_pass),
            )
            for v in results
        ],
    )
    seconds = statistics.median(float(r["seconds"]) for r in rows)
    text = [
        "# Self-consistency tests (Song & Ermon 2020) on scikit-learn's digits",
        "",
        f"Views: a random digit with Gaussian noise of sd {NOISE} on each side, {SAMPLES} rows; t = pixel rows of the "
        f"image Y shows. Estimates in nats; the additivity test uses t = {PAIR_ROWS}. A test passes within the 95 % "
        f"margin of the estimates' standard errors. Median seconds per estimate: {seconds:.1f}.",
        "",
        table.to_markdown(cell=lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)).rstrip("\n"),
        "",
        f"Passing all three: {', '.join(sorted({v.estimator for v in results if v.rows_pass and v.processing_pass and v.additivity_pass})) or 'none'}.",
    ]
    write_text(files.markdown, "\n".join(text) + "\n")
    if figure:
        files.figure = plot_consistency(results, out / "consistency.png")
    return files


def _mark(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def plot_consistency(results: Sequence[Verdicts], path: str | Path) -> Path:
    """Left: estimate against t per estimator (should rise). Middle and right: the processing and
    additivity ratios (should be at most 1 and 2)."""
    from mibounds.experiments.figures import write_figure

    return write_figure(path, functools.partial(_draw_consistency, results), (13, 3.8), layout="constrained")


def _draw_consistency(results: Sequence[Verdicts], fig: Any) -> None:
    left, middle, right = fig.subplots(1, 3)
    names = [f"{v.estimator} (seed {v.seed})" for v in results]
    for v, name in zip(results, names, strict=True):
        left.plot(ROWS, v.rows, marker="o", label=name)
    left.set(xlabel="pixel rows shown (t)", ylabel="estimate (nats)", title="more rows, more information")
    left.legend(fontsize=7)
    positions = np.arange(len(results))
    for ax, values, target, title in (
        (middle, [v.processing_ratio for v in results], 1.0, "blurred / sharp (at most 1)"),
        (right, [v.additivity_ratio for v in results], 2.0, "pair / single (2)"),
    ):
        ax.bar(positions, values, color="C0")
        ax.axhline(target, color="0.3", linestyle="--")
        ax.set_xticks(positions, names, rotation=60, ha="right", fontsize=7)
        ax.set_title(title)
