"""Accuracy of the MI of two categorical variables, over classes 2 to 1,000 and n 200 to 20,000.

Each cell of the grid draws ``--reps`` tables of n rows of two labels with K classes each and
estimates their MI with ``mibounds.estimate(x, y, discrete="both")``, beside scikit-learn's
``mutual_info_score`` (the plug-in MI) and the plug-in less the Miller–Madow term (the
estimate mibounds gave before). Tables, each with its MI in closed form:

- ``independent``: x and y uniform and independent (I = 0);
- ``independent-zipf``: independent, class c with probability proportional to 1 / (c + 1);
- ``copy-0.5``, ``copy-0.9``: x uniform; y = x with probability rho, else a uniform class
  (p(x, y) = (rho [x = y] + (1 - rho) / K) / K).

Reported per cell: the bias (mean estimate minus the truth), the coverage of the 95 % interval,
how often the 95 % lower bound is at most the truth, and the median interval width. Cells with
more classes than half the rows are refused by mibounds (too many classes to be categories).

Usage: python benchmarks/bench_categorical.py [--reps 100] [--classes 2 10 100 1000] [--n 200 2000 20000]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

import mibounds
from mibounds.estimation.discrete import plugin_estimate

TABLES = ("independent", "independent-zipf", "copy-0.5", "copy-0.9")


def draw(table: str, classes: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels ``x``, ``y`` of one table and its true MI in nats."""
    if table.startswith("independent"):
        p = 1 / np.arange(1, classes + 1) if table.endswith("zipf") else np.ones(classes)
        p = p / p.sum()
        return rng.choice(classes, n, p=p), rng.choice(classes, n, p=p), 0.0
    rho = float(table.split("-")[1])
    x = rng.integers(0, classes, n)
    y = np.where(rng.random(n) < rho, x, rng.integers(0, classes, n))
    same, other = (rho + (1 - rho) / classes) / classes, (1 - rho) / classes**2
    truth = classes * same * math.log(same * classes**2) + classes * (classes - 1) * other * math.log(
        other * classes**2
    )
    return x, y, truth


def run_cell(table: str, classes: int, n: int, reps: int) -> dict[str, float] | None:
    """The summary of one cell, or None when mibounds refuses its tables."""
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng([classes, n, TABLES.index(table)])
    rows: dict[str, list[float]] = {k: [] for k in ("err", "cover", "valid", "width", "mm", "mm_valid", "sk")}
    for rep in range(reps):
        x, y, truth = draw(table, classes, n, rng)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = mibounds.estimate(x, y, discrete="both", random_state=rep, progress=False)
        except ValueError:
            return None
        codes_x, codes_y = np.unique(x, return_inverse=True)[1], np.unique(y, return_inverse=True)[1]
        mm, _ = plugin_estimate(codes_x, codes_y, 0.95)
        rows["err"].append(result.estimate - truth)
        rows["cover"].append(result.ci_low <= truth <= result.ci_high)
        rows["valid"].append(result.lower_bound <= truth)
        rows["width"].append(result.ci_high - result.ci_low)
        rows["mm"].append(mm.estimate - truth)
        rows["mm_valid"].append(mm.estimate - 1.645 * mm.stderr <= truth)
        rows["sk"].append(mutual_info_score(x, y) - truth)
    return {"truth": truth, **{k: float(np.median(v) if k == "width" else np.mean(v)) for k, v in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 10, 100, 1000])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 2000, 20000])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    args = parser.parse_args()
    print(
        "| table | K | n | truth | mibounds bias | coverage | lower bound <= truth | median width "
        "| Miller-Madow bias | its lower bound <= truth | sklearn plug-in bias |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    for table in args.tables:
        for classes in args.classes:
            for n in args.n:
                cell = run_cell(table, classes, n, args.reps)
                if cell is None:
                    print(f"| {table} | {classes} | {n} | | refused: more classes than n / 2 | | | | | | |", flush=True)
                    continue
                print(
                    f"| {table} | {classes} | {n} | {cell['truth']:.3f} | {cell['err']:+.3f} | "
                    f"{100 * cell['cover']:.0f} % | {100 * cell['valid']:.0f} % | {cell['width']:.3f} | "
                    f"{cell['mm']:+.3f} | {100 * cell['mm_valid']:.0f} % | {cell['sk']:+.3f} |",
                    flush=True,
                )
    print(f"\n{args.reps} tables a cell, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
