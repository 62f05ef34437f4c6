"""Run the distributed checks in 2 gloo processes on CPU; the test compares them with one process.

Usage: ``python _gloo_worker.py OUT_DIR``. Each rank writes ``OUT_DIR/rank{r}.pt``; the parent,
with no process group (the local-batch fallback), writes ``OUT_DIR/single.pt`` computed on the
concatenated batch. Everything is float64 so the comparison can be tight.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

from mibounds.representation import InfoNCELoss, MILoss, infonce_loss
from mibounds.representation.distributed import all_gather_with_grad

WORLD = 2
SIZES = (3, 5)  # unequal local batches for the gather check
BATCH = 4  # equal local batches for the loss checks (as DDP assumes)
DIM = 3


def global_data() -> dict[str, Tensor]:
    """The concatenated batch every rank slices from (same seed everywhere)."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(WORLD * BATCH, DIM, generator=g, dtype=torch.float64)
    y = x + 0.5 * torch.randn(WORLD * BATCH, DIM, generator=g, dtype=torch.float64)
    ragged = torch.randn(sum(SIZES), DIM, generator=g, dtype=torch.float64)
    return {"x": x, "y": y, "ragged": ragged}


def encoder() -> nn.Module:
    torch.manual_seed(7)
    return nn.Linear(DIM, DIM).double()


def naive_gather(t: Tensor) -> Tensor:
    """The classic bug: backward keeps only the local slice of the local gradient (no sum)."""
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    parts[dist.get_rank()] = t
    return torch.cat(parts)


def checks(rows: slice | None, data: dict[str, Tensor], ragged_rows: slice | None) -> dict[str, Any]:
    """Losses and gradients on this process's rows (all rows when ``rows`` is None)."""
    out: dict[str, Any] = {}
    sl = rows if rows is not None else slice(None)

    # InfoNCE, symmetric, learnable temperature, queue of past batches.
    loss_fn = InfoNCELoss(
        temperature=0.3, learnable_temperature=True, queue_size=6, embed_dim=DIM, return_readout=True
    ).double()
    for step in range(2):  # the second step uses the queue filled by the first
        x = data["x"][sl].clone().requires_grad_(True)
        y = (data["y"][sl] * (1 + step)).clone().requires_grad_(True)
        loss_fn.zero_grad()
        result = loss_fn(x, y)
        result.loss.backward()
        out[f"infonce_loss_{step}"] = result.loss.detach()
        out[f"infonce_mi_{step}"] = result.mi
        out[f"infonce_k_{step}"] = result.batch_size
        out[f"infonce_grad_x_{step}"] = x.grad
        out[f"infonce_grad_y_{step}"] = y.grad
        out[f"infonce_grad_log_t_{step}"] = loss_fn.log_temperature.grad.clone()
    out["queue_x"] = loss_fn.queue_x.clone()

    # The same in row blocks of 3 (gathered candidates and queue never held as a matrix).
    loss_fn = InfoNCELoss(
        temperature=0.3, learnable_temperature=True, queue_size=6, embed_dim=DIM, block_size=3
    ).double()  # returns the loss tensor (the readout stays in loss_fn.last_readout)
    for step in range(2):
        x = data["x"][sl].clone().requires_grad_(True)
        y = (data["y"][sl] * (1 + step)).clone().requires_grad_(True)
        loss_fn.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        out[f"chunked_loss_{step}"] = loss.detach()
        out[f"chunked_grad_x_{step}"] = x.grad
        out[f"chunked_grad_y_{step}"] = y.grad
        out[f"chunked_grad_log_t_{step}"] = loss_fn.log_temperature.grad.clone()

    # DV on the whole gathered matrix.
    x = data["x"][sl].clone().requires_grad_(True)
    y = data["y"][sl].clone().requires_grad_(True)
    loss = MILoss("dv", temperature=0.5, symmetric=True)(x, y)
    loss.backward()
    out["dv_loss"], out["dv_grad_x"], out["dv_grad_y"] = loss.detach(), x.grad, y.grad

    # A linear encoder under DDP (or plain, in one process) trained with InfoNCE.
    model = encoder()
    if rows is not None:
        model = nn.parallel.DistributedDataParallel(model)
    z = model(data["x"][sl])
    InfoNCELoss(temperature=0.5)(z, data["y"][sl]).backward()
    out["ddp_grads"] = [p.grad.clone() for p in model.parameters()]

    # Gather of unequal batches, with a loss that depends on every row.
    part = data["ragged"][ragged_rows if ragged_rows is not None else slice(None)].clone().requires_grad_(True)
    gathered = all_gather_with_grad(part)
    weights = torch.arange(1.0, gathered.tensor.shape[0] + 1, dtype=torch.float64)[:, None]
    (weights * gathered.tensor.pow(2)).sum().backward()
    out["ragged_gathered"], out["ragged_offset"], out["ragged_grad"] = (
        gathered.tensor.detach(),
        gathered.offset,
        part.grad,
    )

    # Plain dot-product InfoNCE, one direction: the reference for the naive gather below.
    x = data["x"][sl].clone().requires_grad_(True)
    infonce_loss(x, data["y"][sl], temperature=0.5, similarity="dot", symmetric=False).loss.backward()
    out["dot_grad_x"] = x.grad

    if rows is not None:  # the classic bug, to show the check above would catch it
        x = data["x"][sl].clone().requires_grad_(True)
        y = data["y"][sl].clone()
        scores = (naive_gather(x) @ y.T) / 0.5  # [K, B_local], positives at rank * BATCH + j
        cols = torch.arange(y.shape[0])
        loss = -(scores[dist.get_rank() * BATCH + cols, cols] - torch.logsumexp(scores, 0)).mean()
        loss.backward()
        out["naive_grad_x"] = x.grad
    return out


def _worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        start = sum(SIZES[:rank])
        out = checks(rows, global_data(), slice(start, start + SIZES[rank]))
        torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        # The DDP model of `checks` sits in reference cycles: free it (and its reducer) while the
        # process group still exists. Left to interpreter exit, it ended the process with
        # "terminate called without an active exception" (SIGABRT) in about 1 run in 40.
        gc.collect()
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    mp.spawn(_worker, args=(free_port(), out_dir), nprocs=WORLD, join=True)
    torch.save(checks(None, global_data(), None), os.path.join(out_dir, "single.pt"))
