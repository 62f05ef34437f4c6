"""Time per training step: M separate critics in a Python loop vs one stacked critic.

The staircase experiment trains one critic per bound (about 15) at batch K = 64, where a small
critic's step is dominated by per-call Python and kernel-launch overhead. This script measures, in
one run, the time per step (forward + backward + Adam) of

- ``loop``: M ``SeparableCritic`` s (resp. ``ConcatCritic`` s), each with its own Adam, stepped one
  after the other (how independent training loops would run);
- ``loop-1opt``: the same M critics, losses summed, one backward and one Adam over all parameters
  (the best a Python loop over critics can do);
- ``stacked``: one ``StackedSeparableCritic(M)`` (resp. ``StackedConcatCritic`` with its default
  ``members_per_pass``: all members at once on a GPU, cache-sized groups on a CPU) and one Adam;
- ``stacked-all`` (concat only): the stacked concat critic forced to ``members_per_pass=M``;

and prints the speed-up of ``stacked`` over the loops. The loss is an InfoNCE-style cross-entropy
per member (the bound's exact form does not change the cost). Variants are timed in interleaved
rounds and the fastest round is kept, so that other load on the machine disturbs them alike.

Usage: python benchmarks/bench_stacked_critic.py [--members 15] [--batch 64] [--dim 20]
       [--device cpu|cuda] [--steps 20] [--concat-steps 3] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from _timing import sync
from torch import Tensor, nn

from mibounds.critics import ConcatCritic, SeparableCritic, StackedConcatCritic, StackedSeparableCritic
from mibounds.experiments.staircase import StaircaseConfig

_DEFAULTS = StaircaseConfig()
LR = _DEFAULTS.learning_rate

Step = Callable[[Tensor, Tensor], None]


def _loss(scores: Tensor) -> Tensor:
    """InfoNCE-style cross-entropy, columns classify their x; ``[..., K, K] -> []`` (summed over members)."""
    diag = torch.diagonal(scores, dim1=-2, dim2=-1)
    return -(diag - torch.logsumexp(scores, dim=-2)).mean(-1).sum()


def _loop_step(critics: list[nn.Module]) -> Step:
    optimizers = [torch.optim.Adam(c.parameters(), lr=LR) for c in critics]

    def step(x: Tensor, y: Tensor) -> None:
        for critic, opt in zip(critics, optimizers, strict=True):
            opt.zero_grad(set_to_none=True)
            _loss(critic(x, y)).backward()
            opt.step()

    return step


def _loop_one_optimizer_step(critics: list[nn.Module]) -> Step:
    opt = torch.optim.Adam([p for c in critics for p in c.parameters()], lr=LR)

    def step(x: Tensor, y: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        sum(_loss(critic(x, y)) for critic in critics).backward()
        opt.step()

    return step


def _stacked_step(stack: nn.Module) -> Step:
    opt = torch.optim.Adam(stack.parameters(), lr=LR)

    def step(x: Tensor, y: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        _loss(stack(x, y)).backward()
        opt.step()

    return step


def _time(
    variants: dict[str, Step], batches: list[tuple[Tensor, Tensor]], steps: int, repeats: int, device: torch.device
) -> dict[str, float]:
    """Seconds per step of each variant: fastest of ``repeats`` interleaved rounds of ``steps`` steps."""
    for step in variants.values():  # warm-up
        for x, y in batches[:2]:
            step(x, y)
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeats):
        for name, step in variants.items():
            sync(device)
            start = time.perf_counter()
            for i in range(steps):
                step(*batches[i % len(batches)])
            sync(device)
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=15)
    parser.add_argument("--batch", type=int, default=_DEFAULTS.batch_size)
    parser.add_argument("--dim", type=int, default=_DEFAULTS.dim)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing round (separable)")
    parser.add_argument("--concat-steps", type=int, default=3, help="steps per timing round (concat)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    m, k, d = args.members, args.batch, args.dim
    gen = torch.Generator().manual_seed(0)
    batches = [
        (torch.randn(k, d, generator=gen).to(device), torch.randn(k, d, generator=gen).to(device)) for _ in range(8)
    ]
    print(
        f"M = {m} critics, K = {k}, d = {d}, device = {device}, torch {torch.__version__}, "
        f"threads = {torch.get_num_threads()}; ms per training step (forward + backward + Adam), "
        f"fastest of {args.repeats} interleaved rounds"
    )

    torch.manual_seed(0)
    separable = [SeparableCritic(d, d).to(device) for _ in range(m)]
    concat = [ConcatCritic(d, d).to(device) for _ in range(m)]
    all_at_once = StackedConcatCritic.from_members(concat)
    all_at_once.members_per_pass = m
    configs = [
        ("separable", separable, {"stacked": StackedSeparableCritic.from_members(separable)}, args.steps),
        (
            "concat",
            concat,
            {"stacked": StackedConcatCritic.from_members(concat), "stacked-all": all_at_once},
            args.concat_steps,
        ),
    ]
    for name, critics, stacks, steps in configs:
        variants = {"loop": _loop_step(critics), "loop-1opt": _loop_one_optimizer_step(critics)}
        variants |= {label: _stacked_step(stack) for label, stack in stacks.items()}
        t = _time(variants, batches, steps, args.repeats, device)
        cells = " | ".join(f"{label} {sec * 1e3:8.2f}" for label, sec in t.items())
        ratios = ", ".join(
            f"{label} x{t['loop'] / t[label]:.2f} / x{t['loop-1opt'] / t[label]:.2f}" for label in stacks
        )
        print(f"{name:>9}: {cells}\n{'':>9}  speed-up over loop / loop-1opt: {ratios}")


if __name__ == "__main__":
    main()
