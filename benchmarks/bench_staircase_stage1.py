"""The staircase's first stage (I = 2 nats) with InfoNCE: mibounds beside an independent plain loop.

The staircase's table checks that InfoNCE ends stage 1 within 0.3 nats of the truth. With the
separable critic it ends about 0.32 short. This script shows that the shortfall belongs to the
protocol (Poole et al. 2019: 20-d Gaussian, K = 64, 4,000 Adam steps at lr 5e-4, MLPs 2 x 256,
32-d embedding), not to this package, by training the same critic three ways for the same seeds:

- ``mibounds``: :func:`mibounds.experiments.staircase.run_staircase` (stacked critic, per-step
  seeded batches from :mod:`mibounds.tasks`, the package's InfoNCE);
- ``plain loop``: twenty lines of plain PyTorch written from the paper (``nn.Sequential`` MLPs,
  ``torch.randn`` batches, ``torch.optim.Adam``, InfoNCE written out), sharing no code with the
  package;
- ``optimal critic``: InfoNCE of the true log density ratio on fresh batches, no training: the
  best any critic can do at K = 64 (InfoNCE's own bias at this K).

Each trained value is the mean estimate over the stage's last 500 steps (the staircase's window).
The mean over seeds is printed with its standard error (seed-to-seed spread / sqrt(seeds)).

Usage: python benchmarks/bench_staircase_stage1.py [--seeds 0 1 2 3 4] [--steps 4000]
       [--critics separable concat] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from mibounds.experiments import staircase

_DEFAULTS = staircase.StaircaseConfig()
DIM, BATCH, LR, WINDOW = _DEFAULTS.dim, _DEFAULTS.batch_size, _DEFAULTS.learning_rate, _DEFAULTS.window
HIDDEN, EMBED = _DEFAULTS.hidden_dim, _DEFAULTS.embed_dim
MI = 2.0


def _mlp(out_dim: int, in_dim: int = DIM) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, out_dim)
    )


def plain_loop(critic: str, seed: int, steps: int) -> float:
    """Stage 1 written from the paper in plain PyTorch; the mean InfoNCE of the last 500 steps."""
    torch.manual_seed(seed)
    rho = math.sqrt(1 - math.exp(-2 * MI / DIM))
    if critic == "separable":
        g, h = _mlp(EMBED), _mlp(EMBED)
        params = [*g.parameters(), *h.parameters()]

        def scores(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return g(x) @ h(y).T
    else:
        f = _mlp(1, 2 * DIM)
        params = list(f.parameters())

        def scores(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            pairs = torch.cat([x[:, None].expand(-1, BATCH, -1), y[None].expand(BATCH, -1, -1)], -1)
            return f(pairs).squeeze(-1)  # [i, j] = f(x_i, y_j)

    optimizer = torch.optim.Adam(params, lr=LR)
    values = []
    for _ in range(steps):
        x = torch.randn(BATCH, DIM)
        y = rho * x + math.sqrt(1 - rho**2) * torch.randn(BATCH, DIM)
        s = scores(x, y)
        estimate = math.log(BATCH) + (s.diagonal() - torch.logsumexp(s, dim=1)).mean()
        optimizer.zero_grad()
        (-estimate).backward()
        optimizer.step()
        values.append(estimate.item())
    return statistics.fmean(values[-WINDOW:])


def package_run(critic: str, seed: int, steps: int) -> float:
    """The same stage through the staircase; the mean InfoNCE of the last 500 steps."""
    config = staircase.StaircaseConfig(
        tasks=("gaussian",), critics=(critic,), bounds=("infonce",), levels=(MI,), steps_per_level=steps, seed=seed
    )
    result = staircase.run_staircase(config, workers=1, threads=torch.get_num_threads(), progress=False)
    return float(result.series("gaussian", critic, "infonce")[-WINDOW:].mean())


def optimal_critic(batches: int = 20_000, seed: int = 0) -> tuple[float, float]:
    """InfoNCE of the true log density ratio at K = 64: mean and standard error."""
    gen = torch.Generator().manual_seed(seed)
    rho = math.sqrt(1 - math.exp(-2 * MI / DIM))
    values = torch.empty(batches, dtype=torch.float64)
    for b in range(batches):
        x = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
        y = rho * x + math.sqrt(1 - rho**2) * torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
        # log p(y_j | x_i) up to terms in y_j alone, which InfoNCE's normalization over i cancels
        s = -(y[None, :, :] - rho * x[:, None, :]).square().sum(-1) / (2 * (1 - rho**2))
        values[b] = math.log(BATCH) + (s.diagonal() - torch.logsumexp(s, dim=0)).mean()
    return float(values.mean()), float(values.std() / math.sqrt(batches))


def _summary(values: list[float]) -> str:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{mean:.3f} +- {se:.3f} (bias {mean - MI:+.3f}; seeds {min(values):.3f} .. {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--steps", type=int, default=_DEFAULTS.steps_per_level, help="steps of stage 1 (the paper: 4000)"
    )
    parser.add_argument("--critics", nargs="+", default=["separable"], choices=["separable", "concat"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mean, se = optimal_critic()
    print(f"truth {MI:.3f} nats; optimal critic InfoNCE at K = {BATCH}: {mean:.3f} +- {se:.3f} (bias {mean - MI:+.3f})")
    for critic in args.critics:
        for name, train in (("mibounds", package_run), ("plain loop", plain_loop)):
            start = time.perf_counter()
            values = []
            for seed in args.seeds:
                values.append(train(critic, seed, args.steps))
                print(f"  {critic:9s} {name:10s} seed {seed}: {values[-1]:.3f}", flush=True)
            print(f"{critic:9s} {name:10s}: {_summary(values)}  [{time.perf_counter() - start:.0f} s]")


if __name__ == "__main__":
    main()
