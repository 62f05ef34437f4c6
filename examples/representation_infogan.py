"""InfoGAN on procedural dSprites or digits: the Barber-Agakov bound on I(c; G(z, c)) against H(c), and what each code controls.

Trains a small InfoGAN (one categorical code with 3 values, two continuous codes on [-1, 1]) on
32x32 procedural dSprites, then, on held-out generated samples (fresh noise and codes), prints the
BA lower bound on each code's MI with the images next to its ceiling H(c) and the same model at
initialization, and the correlation of each continuous code with the position and scale read off
the generated images by a regressor fitted on real rendered images. Writes a grid of samples: one
row per categorical value, then one row sweeping each continuous code.

With --data digits: InfoGAN on scikit-learn's 8x8 digits with a 10-way categorical code (and two
continuous codes), over --seeds seeds. Prints per seed the BA bound of the categorical code against
its ceiling log 10 and the code's accuracy as a classifier of held-out real digits (Q's most likely
category, matched one-to-one to the classes by the Hungarian algorithm), at initialization and
trained, then the mean and seed-to-seed spread, next to chance (1/10) and the majority-class rate.
Writes the grid of samples of the first seed.

Run: python examples/representation_infogan.py [--steps 1000] [--out results/infogan.png]
     python examples/representation_infogan.py --data digits [--steps 3000] [--seeds 3]
Needs scikit-learn (pip install 'mibounds[examples]') and matplotlib ('mibounds[plot]').
About a minute and a half on a CPU with --threads 1 (dSprites; digits, 3 seeds: about two minutes).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from mibounds.experiments.infogan import run_infogan_experiment

#: Steps and architecture of the digits run (8x8 images: two stride-2 layers down to 2x2).
DIGITS_STEPS = 3000
DIGITS_SETTINGS = {
    "num_categories": 10,
    "num_continuous": 2,
    "continuous_weight": 0.1,
    "channels": (64, 32),
    "noise_dim": 16,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="dsprites", choices=["dsprites", "digits"])
    parser.add_argument("--steps", type=int, default=None, help="default 1000 (dsprites), 3000 (digits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3, help="digits: seeds 0 .. seeds - 1")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is often fastest here)")
    parser.add_argument("--out", default="results/infogan.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.data == "digits":
        digits(args)
        return
    steps = args.steps if args.steps is not None else 1000
    result = run_infogan_experiment(num_steps=steps, seed=args.seed, figure_path=args.out, progress=True)
    trained, initial = result.trained, result.initial
    print("held-out generated samples (fresh z, c), Barber-Agakov lower bounds in nats:")
    print(
        f"  categorical: trained {trained.categorical:.3f} ± {trained.categorical_se:.3f} | "
        f"initial {initial.categorical:.3f} ± {initial.categorical_se:.3f} | ceiling H(c) = {result.categorical_ceiling:.3f} "
        f"({100 * trained.categorical / result.categorical_ceiling:.1f} % of H(c))"
    )
    print(
        f"  continuous:  trained {trained.continuous:.3f} ± {trained.continuous_se:.3f} | "
        f"initial {initial.continuous:.3f} ± {initial.continuous_se:.3f} | h(c) = {result.continuous_entropy:.3f}"
    )
    names = list(result.regressor_r2)
    print("correlation of each continuous code with the factors read off the generated images:")
    print("  code " + "".join(f"{name:>9}" for name in names))
    for code, row in result.code_factor_correlation.items():
        print(f"  {code:<4} " + "".join(f"{row[name]:9.3f}" for name in names))
    print(
        "  (regressor R^2 on held-out real images: "
        + ", ".join(f"{n} {v:.3f}" for n, v in result.regressor_r2.items())
        + ")"
    )
    print(f"figure: {result.figure_path}   training time: {result.seconds:.0f} s")


def digits(args: argparse.Namespace) -> None:
    """InfoGAN on the digits over several seeds: the categorical code as a classifier of real digits."""
    steps = args.steps if args.steps is not None else DIGITS_STEPS
    trained, initial, bounds, seconds = [], [], [], 0.0
    majority = 0.0
    print("InfoGAN on scikit-learn's 8x8 digits, 10-way categorical code; code accuracy on held-out real digits")
    print("(Q's most likely category matched one-to-one to the classes, Hungarian algorithm):")
    for seed in range(args.seeds):
        result = run_infogan_experiment(
            num_steps=steps,
            seed=seed,
            figure_path=args.out if seed == 0 else None,
            progress=True,
            data="digits",
            **DIGITS_SETTINGS,
        )
        assert result.code_accuracy is not None and result.initial_code_accuracy is not None
        trained.append(result.code_accuracy)
        initial.append(result.initial_code_accuracy)
        bounds.append(result.trained.categorical)
        majority = max(majority, result.majority_rate or 0.0)
        seconds += result.seconds
        print(
            f"  seed {seed}: code accuracy trained {result.code_accuracy:.3f} | initial "
            f"{result.initial_code_accuracy:.3f} | BA bound {result.trained.categorical:.3f} ± "
            f"{result.trained.categorical_se:.3f} of H(c) = {result.categorical_ceiling:.3f} nats"
        )

    def spread(values: list[float]) -> str:
        return f"{statistics.mean(values):.3f} +- {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"

    print(f"mean +- spread over {args.seeds} seeds:")
    print(f"  code accuracy, trained: {spread(trained)}")
    print(f"  code accuracy, initial: {spread(initial)}")
    print(f"  BA bound (nats):        {spread(bounds)}")
    print(f"  chance 0.100, majority class {majority:.3f}")
    print(f"figure: {args.out}   training time: {seconds:.0f} s")


if __name__ == "__main__":
    main()
