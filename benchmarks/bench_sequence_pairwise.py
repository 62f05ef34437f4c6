"""Time the batched pairwise log-partitions E(k, j) of sequence InfoNCE, against references.

The sequence-level contrastive objective needs E(k, j) = [[(phi_k + phi_j) o G]] for every pair of
a batch of K sequences: K(K + 1)/2 forward passes over the graph (E is symmetric). This script
measures, in one run, with ``torch.set_num_threads(threads)``:

- ``pairwise``: ``pairwise_log_partition`` (all pairs batched), forward, and forward + backward
  of ``sequence_infonce``;
- ``batch of K``: ``log_partition`` of the K sequences alone (what a plain supervised batch costs);
- ``pair loop``: ``log_partition`` called once per pair in a Python loop (timed on a few pairs,
  extrapolated to all K(K + 1)/2): what batching saves;
- ``matmul floor``: one dense matmul with the forward recursion's multiply-adds
  (``[K(K + 1)/2 * T, P] @ [P, P]``): the arithmetic the forward cannot avoid; the forward+backward
  floor is twice that (the β recursion of the hand-written backward has the same products).

Times are medians over ``--repeats`` calls after a warm-up. Each frame is one matmul between a
shift-and-exp and a log (about 8 small ops forward, 10 backward); with 2 threads on a machine whose
cores are busy with other work each parallel op waits for a time slice, so the script also prints
the load average. ``--threads 1 2`` measures both counts in the same process, one after the other.

The graph is a bigram graph over ``states - 1`` labels (``states`` states, dense transitions),
estimated from random label sequences; emissions are log-softmax outputs of random scores.

Usage: python benchmarks/bench_sequence_pairwise.py [--batch 32] [--frames 200] [--states 50]
       [--threads 1 2] [--repeats 5] [--loop-pairs 8] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os

import torch
from _timing import median_seconds

from mibounds.sequence import (
    bigram_graph,
    log_partition,
    pairwise_log_partition,
    sequence_infonce,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="K, sequences per batch")
    parser.add_argument("--frames", type=int, default=200, help="T, frames per sequence")
    parser.add_argument("--states", type=int, default=50, help="graph states (bigram over states - 1 labels)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch.set_num_threads, each in turn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-pairs", type=int, default=8, help="pairs timed in the per-pair loop")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    labels = args.states - 1
    graph = bigram_graph([torch.randint(0, labels, (500,), generator=gen) for _ in range(10)], num_labels=labels).to(
        device
    )
    k, frames = args.batch, args.frames
    phi = torch.randn(k, frames, labels, generator=gen).log_softmax(-1).to(device).requires_grad_()
    pairs = k * (k + 1) // 2

    def forward() -> None:
        with torch.no_grad():
            pairwise_log_partition(phi, graph)

    def forward_backward() -> None:
        phi.grad = None
        (-sequence_infonce(phi, graph)).backward()

    def batch_of_k() -> None:
        with torch.no_grad():
            log_partition(phi, graph)

    def pair_loop() -> None:
        with torch.no_grad():
            for a in range(args.loop_pairs):
                log_partition(phi[a : a + 1] + phi[(a + 1) % k : (a + 1) % k + 1], graph)

    n_expanded = labels  # expanded states of a bigram graph: one per label
    left = torch.randn(pairs * frames, n_expanded, generator=gen).to(device)
    right = torch.randn(n_expanded, n_expanded, generator=gen).to(device)
    print(
        f"graph: {graph.num_states} states, {graph.num_arcs} arcs, {labels} labels; K = {k} ({pairs} pairs "
        f"k <= j), T = {frames}; device = {device}"
    )
    for threads in args.threads:
        torch.set_num_threads(threads)
        load_before = os.getloadavg()[0]
        t_fwd = median_seconds(forward, args.repeats, device)
        t_fwd_bwd = median_seconds(forward_backward, args.repeats, device)
        t_batch = median_seconds(batch_of_k, args.repeats, device)
        t_loop = (
            median_seconds(pair_loop, max(1, args.repeats // 2), device) / args.loop_pairs * pairs
            if args.loop_pairs
            else float("nan")
        )
        t_mm = median_seconds(lambda: left @ right, args.repeats, device)

        print(f"\ntorch threads = {torch.get_num_threads()}")
        # Other processes on the machine slow multi-threaded small ops a lot: say how busy it was.
        print(
            f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        rows = [
            ("pairwise forward", t_fwd, "E(k, j) for all pairs, no grad"),
            ("pairwise forward+backward", t_fwd_bwd, "-sequence_infonce(...).backward()"),
            ("batch of K forward", t_batch, "log_partition of the K sequences alone"),
            ("pair loop forward (est.)", t_loop, f"one log_partition call per pair, from {args.loop_pairs} pairs"),
            ("matmul floor", t_mm, f"[{pairs * frames}, {n_expanded}] @ [{n_expanded}, {n_expanded}]"),
        ]
        width = max(len(name) for name, _, _ in rows)
        for name, seconds, what in rows:
            print(f"{name:<{width}}  {1e3 * seconds:10.1f} ms   {what}")
        print(f"pairwise forward / batch of K: {t_fwd / t_batch:.1f}x for {pairs / k:.1f}x the sequences")
        print(f"pair loop / pairwise forward: {t_loop / t_fwd:.1f}x (speed-up of batching the pairs)")
        print(f"pairwise forward / matmul floor: {t_fwd / t_mm:.2f}x")
        print(
            f"pairwise forward+backward / (2 x matmul floor): {t_fwd_bwd / (2 * t_mm):.2f}x "
            "(forward and beta recursion: the same products)"
        )
        print(f"backward / forward: {(t_fwd_bwd - t_fwd) / t_fwd:.1f}x")


if __name__ == "__main__":
    main()
