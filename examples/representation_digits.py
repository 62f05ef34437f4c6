"""Two-view InfoNCE on scikit-learn's digits, then a linear probe against a random encoder.

Run: python examples/representation_digits.py [--steps 2000] [--seed 0]
Needs scikit-learn (pip install 'mibounds[examples]'). Under a minute on a CPU (try --threads 1).
"""

from __future__ import annotations

import argparse

import torch

from mibounds.experiments.digits import run_digits_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is often fastest here)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_digits_experiment(num_steps=args.steps, seed=args.seed, progress=True)
    print(f"InfoNCE readout (last 10% of steps): {result.final_mi:.2f} nats (ceiling log K = {result.ceiling:.2f})")
    print(f"linear probe, learned encoder: {result.learned_accuracy:.3f}")
    print(f"linear probe, random encoder:  {result.random_accuracy:.3f}")
    print(f"linear probe, raw pixels:      {result.pixel_accuracy:.3f}")
    print(f"training time: {result.seconds:.0f} s")


if __name__ == "__main__":
    main()
