"""``mibounds.rank_features`` beside scikit-learn's ``mutual_info_classif`` on the same data.

The problem: a 3-class label y (equal priors) and 8 features, independent given y, feature j
shifted by ``separations[j] * y`` plus unit Gaussian noise, so each feature's MI with y is the
class-conditional Gaussian's, known by quadrature (:class:`mibounds.tasks.ClassConditionalGaussian`).
Per seed, both methods score every feature; printed: the mean absolute error of the values, whether
the order matches the true order exactly, Spearman's rank correlation with the truth, and the wall
time (one thread).

Usage: python benchmarks/bench_rank_features.py [--seeds 0 1 2] [--samples 5000] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch

import mibounds
from mibounds.tasks import ClassConditionalGaussian

SEPARATIONS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sklearn.feature_selection import mutual_info_classif

    truth = np.array([ClassConditionalGaussian.spaced(3, s, 1).mutual_information for s in SEPARATIONS])
    print(
        f"load average {os.getloadavg()[0]:.2f}; n = {args.samples}, {len(SEPARATIONS)} features; true MI "
        + ", ".join(f"{t:.3f}" for t in truth)
    )
    print("\n| seed | method | mean abs error | order exact | Spearman | seconds |")
    print("|---:|---|---:|---|---:|---:|")
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 3, args.samples)
        x = np.column_stack([s * y + rng.normal(size=args.samples) for s in SEPARATIONS])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranking = mibounds.rank_features(x, y, random_state=seed, progress=False)
        seconds = time.perf_counter() - start
        ours = np.array(
            [next(s.estimate for s in ranking.scores if s.name == f"x[{j}]") for j in range(len(SEPARATIONS))]
        )
        start = time.perf_counter()
        theirs = mutual_info_classif(x, y, random_state=seed)
        their_seconds = time.perf_counter() - start
        for name, values, secs in (
            ("mibounds.rank_features", ours, seconds),
            ("sklearn mutual_info_classif", theirs, their_seconds),
        ):
            exact = bool((np.argsort(values) == np.argsort(truth)).all())
            print(
                f"| {seed} | {name} | {np.abs(values - truth).mean():.4f} | {exact} | {spearman(values, truth):.3f} | {secs:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
