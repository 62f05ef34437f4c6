"""Time per training step: M separate critics in a Python loop vs one stacked critic.

The staircase experiment trains one critic per bound (about 15) at batch K = 64, where a small
critic's step is dominated by per-call Python and kernel-launch overhead. This script measures, in
one run, the time per step (forward + backward + Adam) of

- ``loop``: M ``SeparableCritic`` s (resp. ``ConcatCritic`` s), each with its own Adam, stepped one
  after the other (how independent training loops would run);
- ``loop-1opt``: the same M critics, losses summed, one backward and one Adam over all parameters
  (the best a Python loop over critics can do);
- ``stacked``: one ``StackedSeparableCritic(M)`` (resp. ``StackedConcatCritic``) and one Adam;

and prints the speed-up of ``stacked`` over both loops. The loss is an InfoNCE-style cross-entropy
per member (the bound's exact form does not change the cost).

Usage: python benchmarks/bench_stacked_critic.py [--members 15] [--batch 64] [--dim 20]
       [--device cpu|cuda] [--steps 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from mibounds.critics import ConcatCritic, SeparableCritic, StackedConcatCritic, StackedSeparableCritic


def _loss(scores: Tensor) -> Tensor:
    """InfoNCE-style cross-entropy, columns classify their x; ``[..., K, K] -> []`` (summed over members)."""
    diag = torch.diagonal(scores, dim1=-2, dim2=-1)
    return -(diag - torch.logsumexp(scores, dim=-2)).mean(-1).sum()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_per_step(step: Callable[[Tensor, Tensor], None], batches: list[tuple[Tensor, Tensor]],
                   steps: int, repeats: int, device: torch.device) -> float:
    """Median over ``repeats`` of the mean seconds per step over ``steps`` steps (after warm-up)."""
    for x, y in batches[:3]:
        step(x, y)
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for i in range(steps):
            step(*batches[i % len(batches)])
        _sync(device)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def _loop_step(critics: list[nn.Module]) -> Callable[[Tensor, Tensor], None]:
    optimizers = [torch.optim.Adam(c.parameters(), lr=5e-4) for c in critics]

    def step(x: Tensor, y: Tensor) -> None:
        for critic, opt in zip(critics, optimizers, strict=True):
            opt.zero_grad(set_to_none=True)
            _loss(critic(x, y)).backward()
            opt.step()

    return step


def _loop_one_optimizer_step(critics: list[nn.Module]) -> Callable[[Tensor, Tensor], None]:
    opt = torch.optim.Adam([p for c in critics for p in c.parameters()], lr=5e-4)

    def step(x: Tensor, y: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        sum(_loss(critic(x, y)) for critic in critics).backward()
        opt.step()

    return step


def _stacked_step(stack: nn.Module) -> Callable[[Tensor, Tensor], None]:
    opt = torch.optim.Adam(stack.parameters(), lr=5e-4)

    def step(x: Tensor, y: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        _loss(stack(x, y)).backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing repeat (separable)")
    parser.add_argument("--concat-steps", type=int, default=4, help="steps per timing repeat (concat)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    m, k, d = args.members, args.batch, args.dim
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(k, d, generator=gen).to(device), torch.randn(k, d, generator=gen).to(device))
               for _ in range(8)]
    print(f"M = {m} critics, K = {k}, d = {d}, device = {device}, torch {torch.__version__}, "
          f"threads = {torch.get_num_threads()}; time per training step (forward + backward + Adam)")

    torch.manual_seed(0)
    configs = [
        ("separable", lambda: SeparableCritic(d, d), StackedSeparableCritic, args.steps),
        ("concat", lambda: ConcatCritic(d, d), StackedConcatCritic, args.concat_steps),
    ]
    for name, make, stacked_cls, steps in configs:
        critics = [make().to(device) for _ in range(m)]
        stack = stacked_cls.from_members(critics)
        t_loop = _time_per_step(_loop_step(critics), batches, steps, args.repeats, device)
        t_loop1 = _time_per_step(_loop_one_optimizer_step(critics), batches, steps, args.repeats, device)
        t_stack = _time_per_step(_stacked_step(stack), batches, steps, args.repeats, device)
        print(f"{name:>9}: loop {t_loop * 1e3:8.2f} ms | loop-1opt {t_loop1 * 1e3:8.2f} ms | "
              f"stacked {t_stack * 1e3:8.2f} ms | speed-up x{t_loop / t_stack:.2f} over loop, "
              f"x{t_loop1 / t_stack:.2f} over loop-1opt")


if __name__ == "__main__":
    main()
