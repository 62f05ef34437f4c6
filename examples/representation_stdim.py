"""ST-DIM against CPC, generative baselines, a random encoder and a supervised one: linear probes of sprite positions.

Procedural episodes of three sprites bouncing in a 32x32 box (their positions known at every
frame). The columns of Anand et al. (2019), Table 2: predicting the training mean (no encoder;
the majority classifier's counterpart for R^2), and six encoders of the same architecture: at
random initialization, a VAE, pixel prediction (the next frame from the current one), CPC,
ST-DIM (global-local and local-local InfoNCE between consecutive frames), and trained on the
true positions (the ceiling). Each is frozen and a ridge probe per state variable is fitted on
the training episodes and scored by R^2 on held-out episodes. Prints the table laid out as in the
paper (a row per state variable and a mean row, a column per method), mean ± standard deviation
over the seeds, then each method's mean R^2 per seed with its mean ± standard error, and ST-DIM
minus CPC per seed (paired: same data and seed) with its mean ± standard error; writes a
figure: a few frames of a held-out episode, and the table as grouped bars with seed error bars.

The seeds run in parallel worker processes (--workers, default one per seed up to the CPU count),
each with --threads torch threads; the numbers are the same as with --workers 1 (the seeds one
after another in this process), since each seed's job is seeded by the seed alone.

Run: python examples/representation_stdim.py [--steps 600] [--seeds 5] [--workers 2] [--out results/stdim.csv]
    [--out-figure results/stdim.png | --no-figure]
Needs scikit-learn (pip install 'mibounds[examples]') and, for the figure, matplotlib
(pip install 'mibounds[plot]'). About 6.5 minutes with the defaults on a free 2-core CPU (757 s of
CPU time for the 30 seed x method jobs, shared by 2 workers of one thread; 632 s wall while another
process held part of a core).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from mibounds.experiments.figures import require_matplotlib
from mibounds.experiments.stdim import plot_stdim_probes, run_stdim_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0, help="first seed; the runs use seed, seed + 1, ...")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument(
        "--workers", type=int, default=None, help="processes for the seeds (default: one per seed, up to the CPU count)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads per process (1 is often fastest here)"
    )
    parser.add_argument("--out", default=None, help="also write the table as CSV here")
    parser.add_argument("--out-figure", default="results/stdim.png", help="the figure")
    parser.add_argument("--no-figure", action="store_true", help="do not write the figure (no matplotlib needed)")
    args = parser.parse_args()
    if not args.no_figure:
        require_matplotlib("--no-figure")  # before the training, not after it
    torch.set_num_threads(args.threads)
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    workers = args.workers if args.workers is not None else max(1, min(len(seeds), os.cpu_count() or 1))
    result = run_stdim_experiment(
        seeds=seeds, num_steps=args.steps, progress=True, workers=workers, threads_per_worker=args.threads
    )
    table = result.table()
    print(table.to_markdown())
    print("mean R^2 per seed:")
    for method in result.scores:
        values = result.mean_scores(method)
        mean, error = result.mean_and_standard_error(method)
        print(f"  {method:<11}" + "".join(f"{v:8.3f}" for v in values) + f"   mean {mean:.3f} ± {error:.3f} (SE)")
    if {"cpc", "stdim"} <= set(result.scores):
        differences, mean, error = result.paired_difference("stdim", "cpc")
        print(
            "stdim - cpc per seed:"
            + "".join(f"{d:8.3f}" for d in differences)
            + f"   mean {mean:.3f} ± {error:.3f} (SE)"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        print(f"table: {table.to_csv(args.out)}")
    if not args.no_figure:
        print(f"figure: {plot_stdim_probes(result, args.out_figure)}")
    print(f"time: {result.seconds:.0f} s for {len(seeds)} seeds on {result.workers} process(es)")


if __name__ == "__main__":
    main()
