"""Multi-process contrastive training on CPU: 2 gloo processes, DDP, negatives from every process.

Each process holds half of every batch; InfoNCELoss gathers the embeddings of both processes
(all_gather_with_grad), so each y is contrasted with all K = 2 x local_batch candidates, and the
DDP-averaged gradients equal those of one process on the whole batch.

Run: python examples/representation_distributed.py [--steps 200]
"""

from __future__ import annotations

import argparse
import gc
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mibounds.representation import InfoNCELoss

WORLD = 2


def worker(rank: int, port: int, steps: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.manual_seed(0)  # the same initial weights on every process (DDP also broadcasts them)
    encoder = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 16)))
    loss_fn = InfoNCELoss(temperature=0.1)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(100 + rank)  # each process draws its own half
    for step in range(steps):
        x = torch.randn(32, 8, generator=data)
        views = (x + 0.3 * torch.randn(x.shape, generator=data), x + 0.3 * torch.randn(x.shape, generator=data))
        loss = loss_fn(encoder(views[0]), encoder(views[1]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result = loss_fn.last_readout  # this process's readout, kept by the loss module
        if rank == 0 and (step % 50 == 0 or step == steps - 1):
            print(
                f"step {step:4d}  rank 0: loss {loss.item():.3f}, readout {float(result.mi):.2f} nats "
                f"of log K = {result.ceiling:.2f} (K = {result.batch_size} candidates from {WORLD} processes)"
            )
    # DDP sits in reference cycles: free it while the process group exists, or gloo may abort the
    # process at exit ("terminate called without an active exception").
    del encoder, optimizer
    gc.collect()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(port, args.steps), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main()
