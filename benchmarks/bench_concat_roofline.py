"""Concat critic: time per staircase training step beside a matmul roofline measured in the same run.

The concatenated critic scores all K^2 pairs of a batch with an MLP, so its training step is
compute-bound: nearly all of its FLOPs are the hidden layers' matmuls on ``[K^2, H]`` activations.
The roofline is the time of exactly those matmuls, with the same shapes, done as plain dense
``bmm`` calls on random tensors: per layer and per pass of members, the forward product
``[m, N, in] @ [m, in, out]`` and the two backward products (input gradient
``[m, N, out] @ [m, out, in]``, weight gradient ``[m, out, N] @ [m, N, in]``; none for the first
layer's input). The first layer is split as in the critic (``W_x x + W_y y`` on K rows each, not
K^2). What the critic adds above it (activations, the pairwise broadcast, reductions, the bounds,
the baselines, Adam) is the overhead the ratio shows; the target is a ratio within 1.5.

Three timings per run, each the fastest of ``--repeats`` interleaved rounds (other load on the
machine then disturbs them alike):

- ``critic``: the stacked concat critic alone (M members, InfoNCE loss, backward, Adam);
- ``staircase``: one step of the staircase's training loop for one task (every trained bound's
  critic stacked, its baselines, the bounds, Adam): :func:`mibounds.experiments.staircase.train_stack`;
- ``roofline``: the matmuls above.

Usage: python benchmarks/bench_concat_roofline.py [--members 12] [--batch 64] [--dim 20]
       [--hidden 256] [--layers 2] [--steps 3] [--repeats 3] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import torch
from _timing import sync

from mibounds.critics import StackedConcatCritic
from mibounds.experiments import staircase

_DEFAULTS = staircase.StaircaseConfig()


def _matmul_shapes(
    members: int, per_pass: int, k: int, dim: int, hidden: int, layers: int
) -> list[tuple[int, int, int, int, bool]]:
    """(m, N, in, out, input gradient?) of every layer's forward product, per pass of members."""
    shapes = []
    for start in range(0, members, per_pass):
        m = min(per_pass, members - start)
        shapes += [(m, k, dim, hidden, False)] * 2  # W_x x and W_y y on K rows each; x, y are data
        shapes += [(m, k * k, hidden, hidden, True)] * (layers - 1) + [(m, k * k, hidden, 1, True)]
    return shapes


def _roofline_step(
    shapes: list[tuple[int, int, int, int, bool]], device: torch.device
) -> tuple[Callable[[], None], float]:
    """A function doing every matmul of a training step (forward and backward), and their FLOPs."""
    gen = torch.Generator(device=device).manual_seed(0)
    work, flops = [], 0.0
    for m, n, i, o, input_grad in shapes:
        x = torch.randn(m, n, i, device=device, generator=gen)
        w = torch.randn(m, i, o, device=device, generator=gen)
        g = torch.randn(m, n, o, device=device, generator=gen)
        work.append((x, w, g, input_grad))
        flops += 2.0 * m * n * i * o * (3 if input_grad else 2)

    def step() -> None:
        for x, w, g, input_grad in work:
            torch.bmm(x, w)  # forward
            torch.bmm(x.transpose(1, 2), g)  # weight gradient
            if input_grad:
                torch.bmm(g, w.transpose(1, 2))  # input gradient

    return step, flops


def _critic_step(stack: StackedConcatCritic, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(stack.parameters(), lr=_DEFAULTS.learning_rate)

    def step() -> None:
        scores = stack(x, y)
        loss = -(scores.diagonal(dim1=-2, dim2=-1) - torch.logsumexp(scores, dim=-2)).mean(-1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _best(step: Callable[[], None], steps: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--members", type=int, default=12, help="critics in the stack (the staircase trains 12 per task)"
    )
    parser.add_argument("--batch", type=int, default=_DEFAULTS.batch_size)
    parser.add_argument("--dim", type=int, default=_DEFAULTS.dim)
    parser.add_argument("--hidden", type=int, default=_DEFAULTS.hidden_dim)
    parser.add_argument("--layers", type=int, default=_DEFAULTS.num_layers)
    parser.add_argument("--steps", type=int, default=3, help="steps per timing round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, like the staircase's workers)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    m, k, d, h = args.members, args.batch, args.dim, args.hidden

    config = staircase.StaircaseConfig(
        tasks=("gaussian",),
        critics=("concat",),
        levels=(2.0,),
        batch_size=k,
        dim=d,
        hidden_dim=h,
        num_layers=args.layers,
        steps_per_level=args.steps,
        window=args.steps,
        device=args.device,
    )
    trained = [s for s in config.specs if s.trained][:m]
    config = dataclasses.replace(config, bounds=tuple(s.label for s in trained))
    stack = staircase.stacked_critic(config, "concat", m, d, d).to(device)
    per_pass = stack.members_per_pass or m
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(k, d, generator=gen).to(device), torch.randn(k, d, generator=gen).to(device)

    critic = _critic_step(stack, x, y)
    roofline, flops = _roofline_step(_matmul_shapes(m, per_pass, k, d, h, args.layers), device)

    def staircase_step() -> None:
        staircase.train_stack(config, "concat", config.tasks, trained, None)

    critic(), roofline()  # warm-up
    best = {"critic": float("inf"), "staircase": float("inf"), "roofline": float("inf")}
    for _ in range(args.repeats):
        best["critic"] = min(best["critic"], _best(critic, args.steps, device))
        best["roofline"] = min(best["roofline"], _best(roofline, args.steps, device))
        start = time.perf_counter()
        staircase_step()  # args.steps training steps (+ setup: networks, optimizer)
        best["staircase"] = min(best["staircase"], (time.perf_counter() - start) / args.steps)

    print(
        f"concat critic: M = {m} members ({per_pass} per pass), K = {k}, d = {d}, H = {h}, {args.layers} hidden "
        f"layers, device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}"
    )
    print(f"matmul FLOPs per training step: {flops / 1e9:.2f} GFLOP (forward + backward)")
    roof = best["roofline"]
    print(f"  roofline (same matmuls as dense bmm): {roof * 1e3:8.1f} ms/step  ({flops / roof / 1e9:5.1f} GFLOP/s)")
    for name in ("critic", "staircase"):
        print(
            f"  {name:<9} training step:           {best[name] * 1e3:8.1f} ms/step  "
            f"ratio to roofline {best[name] / roof:4.2f}  (target <= 1.5)"
        )


if __name__ == "__main__":
    main()
