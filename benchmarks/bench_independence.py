"""Size and power of ``mibounds.independence_test`` beside HSIC, on the same samples.

HSIC (Gretton et al. 2008) with Gaussian kernels of median-heuristic bandwidth and a permutation
null, written here against NumPy: the biased statistic ``sum(Kc * Lc) / n^2`` of the centred
kernel matrices, compared with the same statistic after permuting y's rows and columns. Both
tests use B permutations, so both p-values are multiples of 1 / (B + 1) (the resolution).

Scenarios (each repeated ``--reps`` times with fresh samples; level 0.05):

- ``null``: x Gaussian (d = 2), y Student-t with 3 degrees of freedom (d = 2), independent,
  n = 1,000: the rejection rate should be near 0.05 (the binomial 99 % band is printed);
- ``linear``: the correlated Gaussian with d = 5 and I = 0.05 nats, n = 5,000 (the power should
  be at least 0.9);
- ``square``: y = x^2 + noise, d = 1, n = 1,000: uncorrelated but dependent (I is not small;
  a linear or Gaussian critic sees nothing here).

Usage: python benchmarks/bench_independence.py [--reps 20] [--permutations 199] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import numpy as np
import torch

from mibounds import tasks
from mibounds.estimation import independence_test


def _gram(values: np.ndarray) -> np.ndarray:
    """Centred Gaussian-kernel matrix with the median pairwise distance as bandwidth."""
    squared = (values**2).sum(1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * values @ values.T, 0.0)
    median = np.median(distances[np.triu_indices(len(values), 1)])
    gram = np.exp(-distances / max(median, 1e-12))
    return gram - gram.mean(0, keepdims=True) - gram.mean(1, keepdims=True) + gram.mean()


def hsic_test(x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator) -> float:
    """The HSIC permutation p-value ``(1 + #{HSIC_b >= HSIC}) / (B + 1)``."""
    k, l_ = _gram(x), _gram(y)
    observed = (k * l_).sum()
    exceed = 0
    for _ in range(permutations):
        order = rng.permutation(len(y))
        exceed += (k * l_[np.ix_(order, order)]).sum() >= observed
    return (1 + exceed) / (permutations + 1)


def scenario(name: str, rep: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 * rep + 17)
    if name == "null":
        return rng.normal(size=(1000, 2)), rng.standard_t(3, size=(1000, 2))
    if name == "linear":
        x, y = tasks.Gaussian(dim=5, mi=0.05).sample(5000, seed=rep, dtype=torch.float64)
        return x.numpy(), y.numpy()
    x = rng.normal(size=(1000, 1))
    return x, x**2 + 0.5 * rng.normal(size=(1000, 1))


def binomial_band(trials: int, p: float = 0.05, coverage: float = 0.99) -> tuple[int, int]:
    pmf = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    tail = (1 - coverage) / 2
    low = next(k for k in range(trials + 1) if sum(pmf[: k + 1]) > tail)
    high = next(k for k in range(trials, -1, -1) if sum(pmf[k:]) > tail)
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--permutations", type=int, default=199)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scenarios", nargs="+", default=["null", "linear", "square"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    print(
        f"load average {os.getloadavg()[0]:.2f}; {args.reps} repetitions, B = {args.permutations} "
        f"(resolution {1 / (args.permutations + 1):.3f}), level 0.05"
    )
    low, high = binomial_band(args.reps)
    print(f"under independence the number of rejections should lie in [{low}, {high}] (binomial 99 %)\n")
    print("| scenario | test | rejections | rate | median p | median seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.scenarios:
        rows = {"mibounds": ([], []), "HSIC": ([], [])}
        for rep in range(args.reps):
            x, y = scenario(name, rep)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = independence_test(x, y, num_permutations=args.permutations, random_state=rep, progress=False)
            rows["mibounds"][0].append(result.p_value)
            rows["mibounds"][1].append(time.perf_counter() - start)
            start = time.perf_counter()
            rows["HSIC"][0].append(hsic_test(x, y, args.permutations, np.random.default_rng(rep)))
            rows["HSIC"][1].append(time.perf_counter() - start)
        for test, (p_values, seconds) in rows.items():
            count = sum(p <= 0.05 for p in p_values)
            print(
                f"| {name} | {test} | {count}/{args.reps} | {count / args.reps:.2f} | "
                f"{np.median(p_values):.3f} | {np.median(seconds):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
