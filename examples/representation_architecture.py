"""At a matched InfoNCE bound, does a ConvNet encoder give a better linear probe than an MLP?

Tschannen et al. (2020), §3.3: the encoder's architecture (its inductive bias), not the MI it
certifies, decides how readable the representation is. On scikit-learn's digits, X1 = the top
half and X2 = the bottom half (4 x 8 pixels each); each half has its own encoder of 16 outputs,
an MLP (two hidden layers of 256) or a ConvNet of about the same size (two 3x3 convolutions, a
max-pool, one hidden layer of 256), and a bilinear critic scores the pairs. Both train with
InfoNCE (batch 128, Adam 1e-3) on 1,200 images, and each run stops at the first evaluation
(every --evaluate-every steps) where the InfoNCE bound on 512 held-out pairs reaches --target
nats: the two architectures are compared at a matched bound. The probe is a logistic regression
predicting the digit from g1(X1), fit on the training images and scored on the 597 held-out ones.

Prints, per encoder, the steps it took, the held-out bound where it stopped, the probe there and
at step 0 (mean ± standard deviation over --seeds seeds), and how many runs reached the target;
then the probe difference conv - mlp per seed (paired: same seed) with its mean ± standard error.

With --views augmented the two views are instead two augmentations of the whole digit (a shift
of up to one pixel, a masked 3x3 patch, intensity and noise), one encoder shared by both, and
the probe reads the unaugmented digit.

Run: python examples/representation_architecture.py [--target 2.2] [--seeds 5]
     python examples/representation_architecture.py --views augmented --target 1.8 --evaluate-every 50
Needs scikit-learn (pip install 'mibounds[examples]').
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from mibounds.experiments.digit_halves import HELDOUT_PAIRS, run_architecture_comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=2.2, help="the matched held-out InfoNCE bound (nats)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000, help="most steps of a run")
    parser.add_argument("--evaluate-every", type=int, default=25)
    parser.add_argument("--views", choices=("halves", "augmented"), default="halves", help="the two views")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    result = run_architecture_comparison(
        args.target, seeds, num_steps=args.steps, evaluate_every=args.evaluate_every, views=args.views
    )
    print(
        f"target: held-out InfoNCE {args.target:.2f} nats (ceiling log {HELDOUT_PAIRS} = {math.log(HELDOUT_PAIRS):.2f}); "
        f"mean ± sd over {len(seeds)} seeds:"
    )
    print("| encoder | steps | held-out InfoNCE | probe at the target | probe at step 0 | runs at the target |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in result.rows():
        print("| " + " | ".join(str(cell) for cell in row[:-1]) + f" | {row[-1]} of {len(seeds)} |")
    if {"mlp", "conv"} <= set(result.runs):
        differences = [
            a - b for a, b in zip(result.final("conv", "accuracy"), result.final("mlp", "accuracy"), strict=True)
        ]
        error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else 0.0
        print(
            "probe conv - mlp per seed:"
            + "".join(f"{d:8.3f}" for d in differences)
            + f"   mean {statistics.fmean(differences):.3f} ± {error:.3f} (SE)"
        )
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
