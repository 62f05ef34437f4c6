"""Accuracy of ``mibounds.conditional_estimate(x, y, z)`` (conditional MI) on Gaussian triples with known
I(X; Y | Z), and the sign of I(X; Y | Z) - I(X; Y) for a collider and a common cause.

- ``confounded``: X = U + Z, Y = V + Z with (U, V) the correlated Gaussian at ``cmi`` nats,
  d = 5 per variable, n = 10,000, every setting at the default; per level: estimate, interval,
  error, whether the interval covers.
- ``collider`` (X, Y independent, Z = X + Y + noise: I(X;Y|Z) > I(X;Y) = 0) and ``common cause``
  (cmi = 0: I(X;Y|Z) = 0 < I(X;Y)): the sign of the estimated difference, per seed.

Usage: python benchmarks/bench_conditional.py [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import torch

import mibounds
from mibounds.tasks import ConditionalGaussian

LEVELS = (0.0, 0.5, 1.0, 2.0, 3.0)


def _sample(task: ConditionalGaussian, seed: int, n: int) -> list[np.ndarray]:
    return [t.numpy() for t in task.sample(n, seed=seed, dtype=torch.float64)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    print(f"load average {os.getloadavg()[0]:.2f}; n = {args.samples}, d = 5 per variable, seeds {args.seeds}\n")
    print("| I(X;Y\\|Z) | seed | estimate | 95 % interval | error | covers | seconds |")
    print("|---:|---:|---:|---|---:|---|---:|")
    errors = []
    for level in LEVELS:
        task = ConditionalGaussian.confounded(dim=5, cmi=level)
        for seed in args.seeds:
            x, y, z = _sample(task, seed, args.samples)
            result = mibounds.conditional_estimate(x, y, z, random_state=seed, progress=False)
            error = result.estimate - level
            errors.append(abs(error))
            covers = result.ci_low <= level <= result.ci_high
            print(
                f"| {level:g} | {seed} | {result.estimate:.3f} | [{result.ci_low:.3f}, {result.ci_high:.3f}] | "
                f"{error:+.3f} | {covers} | {result.seconds:.1f} |",
                flush=True,
            )
    print(f"\nmean |error| over levels and seeds: {np.mean(errors):.3f} nats\n")
    print("| case | seed | I(X;Y\\|Z) estimate | I(X;Y) estimate | sign right |")
    print("|---|---:|---:|---:|---|")
    cases = {
        "collider": (ConditionalGaussian.collider(dim=5), 1),
        "common cause": (ConditionalGaussian.confounded(dim=5, cmi=0.0), -1),
    }
    for name, (task, sign) in cases.items():
        for seed in range(5):
            x, y, z = _sample(task, seed, args.samples)
            conditional = mibounds.conditional_estimate(x, y, z, random_state=seed, progress=False).estimate
            marginal = mibounds.estimate(x, y, random_state=seed, progress=False).estimate
            print(
                f"| {name} (truth {task.conditional_mutual_information:.3f} vs {task.mutual_information:.3f}) | {seed} | "
                f"{conditional:.3f} | {marginal:.3f} | {np.sign(conditional - marginal) == sign} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
