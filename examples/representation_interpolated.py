"""Bias and variance in representation learning: one encoder trained with I_alpha at several alpha, probed.

Poole et al. (2019) interpolate between TUBA (alpha = 0: unbiased but high-variance, no ceiling)
and InfoNCE (alpha = 1: low variance, capped at log K) with I_alpha, whose baseline mixes the
batch's critic average with a learned baseline a(y). Here one encoder (an MLP of scikit-learn's
8x8 digits, two hidden layers of 256, 16 outputs), shared by two augmented views of each digit
(a shift of up to one pixel, a masked 3x3 patch, intensity and noise), with a bilinear critic and
a learned baseline log a(x2) linear in the second view's code, trains with I_alpha for each
--alphas value, --steps steps of batch 128 on 1,200 images, the same seeds for every alpha.
Measured on the held-out images: the training bound I_alpha and InfoNCE on 512 held-out pairs
(nats), and a linear probe, the accuracy of a logistic regression predicting the digit from the
code of the unaugmented digit (fit on the training images, scored on the 597 held-out ones),
next to the encoder at initialization.

Prints a table (mean ± standard deviation over --seeds seeds) and each alpha's probe minus
alpha = 1's per seed (paired: same seed) with its mean ± standard error; writes a figure of
the probe and the held-out bounds against alpha.

With --views halves the two views are instead the top and bottom halves of the digit, an MLP
encoder each, probed on the top half's code (Tschannen et al.'s set-up).

Run: python examples/representation_interpolated.py [--steps 1000] [--seeds 5] [--out results/interpolated.png]
     python examples/representation_interpolated.py --views halves --steps 500 --out ''

Needs scikit-learn (pip install 'mibounds[examples]') and, for the figure, matplotlib.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from mibounds.experiments.digit_halves import AlphaSweep, run_alpha_sweep


def _cell(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {spread:.3f}"


def plot(sweep: AlphaSweep, path: str) -> None:
    from mibounds.experiments.figures import write_figure

    alphas = list(sweep.runs)

    def draw(fig) -> None:
        left, right = fig.subplots(1, 2)
        for what, label, color in (("heldout_bound", "I_alpha", "C0"), ("heldout_infonce", "InfoNCE", "C1")):
            values = [sweep.final(a, what) for a in alphas]
            for seed in range(len(sweep.seeds)):
                left.plot(alphas, [v[seed] for v in values], color=color, alpha=0.3, marker=".")
            left.plot(alphas, [statistics.fmean(v) for v in values], color=color, marker="o", label=f"held-out {label}")
        accuracy = [sweep.final(a, "accuracy") for a in alphas]
        for seed in range(len(sweep.seeds)):
            right.plot(alphas, [v[seed] for v in accuracy], color="C2", alpha=0.3, marker=".")
        right.plot(alphas, [statistics.fmean(v) for v in accuracy], color="C2", marker="o", label="trained (mean)")
        right.axhline(statistics.fmean(sweep.initial_accuracy()), color="gray", ls=":", label="at initialization")
        for ax in (left, right):
            ax.set_xscale("symlog", linthresh=0.01)
            ax.set_xlim(-0.002, 1.3)
            ax.set_xlabel("alpha (0 = TUBA, 1 = InfoNCE)")
            ax.legend(fontsize=8)
        left.set(ylabel="nats", title="held-out bounds")
        right.set(ylabel="held-out accuracy", title="linear probe of the digit")

    print(f"figure: {write_figure(path, draw, (9.0, 3.4), layout='constrained')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.01, 0.1, 0.5, 1.0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--views", choices=("halves", "augmented"), default="augmented", help="the two views")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default="results/interpolated.png", help="the figure ('' for none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    sweep = run_alpha_sweep(
        args.alphas, seeds, num_steps=args.steps, evaluate_every=max(1, args.steps), views=args.views
    )
    print(
        f"held-out bounds (nats; InfoNCE ceiling log 512 = {math.log(512):.2f}) and probe, mean ± sd over {len(seeds)} seeds:"
    )
    print("| alpha | held-out I_alpha | held-out InfoNCE | probe |")
    print("|---:|---:|---:|---:|")
    for alpha in sweep.runs:
        cells = (_cell(sweep.final(alpha, w)) for w in ("heldout_bound", "heldout_infonce", "accuracy"))
        print(f"| {alpha:g} | " + " | ".join(cells) + " |")
    print(f"| encoder at initialization | | | {_cell(sweep.initial_accuracy())} |")
    last = list(sweep.runs)[-1]
    for alpha in list(sweep.runs)[:-1]:
        differences = [
            a - b for a, b in zip(sweep.final(alpha, "accuracy"), sweep.final(last, "accuracy"), strict=True)
        ]
        error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else 0.0
        print(
            f"probe alpha={alpha:g} - alpha={last:g} per seed:"
            + "".join(f"{d:8.3f}" for d in differences)
            + f"   mean {statistics.fmean(differences):.3f} ± {error:.3f} (SE)"
        )
    if args.out:
        plot(sweep, args.out)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
