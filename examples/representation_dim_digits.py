"""Deep InfoMax on scikit-learn's digits: global vs local vs both objectives, DV vs JS vs InfoNCE.

Reproduces the layout of Hjelm et al.'s (2019) comparison on the 8x8 digits: a convolutional
encoder (a 4x4 feature map, then a 64-d code) trained without labels by Deep InfoMax with the
global objective, the local objective or both, each with the DV, JS and InfoNCE estimators; every
cell scored by a linear probe on the code, fitted on the training half and evaluated on the
held-out half, over --seeds seeds. Prints the table (mean ± standard deviation over the seeds, a
row for the untrained encoder), the per-seed accuracies, the gains of local over global, and
the spread of each estimator.

Run: python examples/representation_dim_digits.py [--steps 500] [--seeds 3]
Needs scikit-learn (pip install 'mibounds[examples]'). About three and a half minutes on a CPU with --threads 1.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mibounds.experiments.dim_digits import BOUNDS, OBJECTIVES, compare_dim_objectives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is often fastest here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    comparison = compare_dim_objectives(seeds=range(args.seeds), num_steps=args.steps, progress=True)
    print(f"linear-probe test accuracy of the code, mean ± spread over {args.seeds} seeds ({args.steps} steps):")
    print(comparison.table().to_markdown())
    print("per seed:")
    for objective in OBJECTIVES:
        for bound in BOUNDS:
            values = "  ".join(f"{v:.3f}" for v in comparison.accuracies(objective, bound))
            print(f"  {objective:<7} {bound:<8} {values}")
    print(f"  random           {'  '.join(f'{v:.3f}' for v in comparison.random_accuracy)}")
    print("local minus global, per seed (mean):")
    for bound in BOUNDS:
        gap = comparison.accuracies("local", bound) - comparison.accuracies("global", bound)
        print(f"  {bound:<8} {'  '.join(f'{v:+.3f}' for v in gap)}  ({np.nanmean(gap):+.3f})")
    failed = sum(not run.finite for runs in comparison.runs.values() for run in runs)
    print(f"runs with a non-finite loss: {failed} of {sum(len(r) for r in comparison.runs.values())}")
    print(f"wall time {comparison.seconds:.0f} s")


if __name__ == "__main__":
    main()
