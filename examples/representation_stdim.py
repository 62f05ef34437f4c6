"""ST-DIM against CPC, a random encoder and a supervised one: linear probes of sprite positions.

Procedural episodes of three sprites bouncing in a 32x32 box (their positions known at every
frame). Four encoders of the same architecture: at random initialization, trained by CPC, trained
by ST-DIM (global-local and local-local InfoNCE between consecutive frames), and trained on the
true positions (the ceiling). Each is frozen and a ridge probe per state variable is fitted on
the training episodes and scored by R^2 on held-out episodes. Prints the table laid out as in
Anand et al. (2019), Table 2 (a row per state variable and a mean row, a column per method),
mean ± standard deviation over the seeds, then each method's mean R^2 per seed.

Run: python examples/representation_stdim.py [--steps 600] [--seeds 3] [--out results/stdim.csv]
Needs scikit-learn (pip install 'mibounds[examples]'). About six minutes for the 3 seeds on a CPU with --threads 1.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from mibounds.experiments.stdim import run_stdim_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0, help="first seed; the runs use seed, seed + 1, ...")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is often fastest here)")
    parser.add_argument("--out", default=None, help="also write the table as CSV here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    result = run_stdim_experiment(seeds=seeds, num_steps=args.steps, progress=True)
    table = result.table()
    print(table.to_markdown())
    print("mean R^2 per seed:")
    for method in result.scores:
        values = result.mean_scores(method)
        print(f"  {method:<11}" + "".join(f"{v:8.3f}" for v in values) + f"   mean {statistics.fmean(values):.3f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        print(f"table: {table.to_csv(args.out)}")
    print(f"time: {result.seconds:.0f} s for {len(seeds)} seeds")


if __name__ == "__main__":
    main()
