"""Train one LightningModule for a few steps, under Lightning's DDP on 2 CPU processes or in one.

Usage: ``python _lightning_worker.py OUT_DIR ddp|single``. ``ddp``: ``Trainer(accelerator="cpu",
devices=2, strategy="ddp")``, each process fed its own half of every batch (rank 0 the first
half); ``single``: one process fed the concatenated batches. Each process writes
``OUT_DIR/{mode}_rank{r}.pt``: per step the embeddings gathered as negatives, the losses and
readouts of its loss modules, the parameter gradients after backward (after DDP's average), and
at the end the parameters and the metrics MIReadoutLogger logged. Everything is float64.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from mibounds.representation import InfoNCELoss, MILoss, all_gather_with_grad
from mibounds.representation.lightning import MIReadoutLogger

WORLD, BATCH, DIM, STEPS = 2, 5, 3, 3


def global_batches() -> tuple[Tensor, Tensor]:
    """``STEPS`` batches of ``WORLD * BATCH`` pairs, one after the other (same seed everywhere)."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(STEPS * WORLD * BATCH, DIM, generator=g, dtype=torch.float64)
    return x, x + 0.5 * torch.randn(x.shape, generator=g, dtype=torch.float64)


def rows_of(rank: int | None) -> Tensor:
    """The rows process ``rank`` sees, step after step (all rows when ``rank`` is None)."""
    steps = torch.arange(STEPS)[:, None] * WORLD * BATCH
    if rank is None:
        return (steps + torch.arange(WORLD * BATCH)).flatten()
    return (steps + rank * BATCH + torch.arange(BATCH)).flatten()


class Probe(LightningModule):
    """An encoder trained with symmetric InfoNCE (learnable temperature) plus half a DV term."""

    def __init__(self, distributed: bool) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.encoder = nn.Sequential(nn.Linear(DIM, 4), nn.Tanh(), nn.Linear(4, DIM))
        self.infonce = InfoNCELoss(temperature=0.3, learnable_temperature=True)
        self.dv = MILoss("dv", temperature=0.5, symmetric=True)
        self.distributed = distributed
        self.records: list[dict[str, Any]] = []

    def train_dataloader(self) -> DataLoader:
        x, y = global_batches()
        rank = self.global_rank if self.distributed else None  # known once the processes are set up
        rows = rows_of(rank)
        size = BATCH if self.distributed else WORLD * BATCH
        return DataLoader(TensorDataset(x[rows], y[rows]), batch_size=size, shuffle=False)

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        zx, zy = self.encoder(x), self.encoder(y)
        loss = self.infonce(zx, zy) + 0.5 * self.dv(zx, zy)
        infonce, dv = self.infonce.last_readout, self.dv.last_readout
        self.records.append(
            {
                "gathered": all_gather_with_grad(zx.detach()).tensor,  # the negatives every process sees
                "infonce_loss": infonce.loss,
                "infonce_mi": infonce.mi,
                "infonce_k": infonce.batch_size,
                "dv_loss": dv.loss,
                "dv_mi": dv.mi,
            }
        )
        return loss

    def on_after_backward(self) -> None:
        self.records[-1]["grads"] = [p.grad.detach().clone() for p in self.parameters()]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


def main(out_dir: Path, mode: str) -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    distributed = mode == "ddp"
    trainer = Trainer(
        accelerator="cpu",
        devices=WORLD if distributed else 1,
        strategy="ddp" if distributed else "auto",
        precision="64-true",
        max_steps=STEPS,
        callbacks=[MIReadoutLogger()],
        logger=False,
        use_distributed_sampler=False,  # each process reads its own half of every batch
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Probe(distributed)
    trainer.fit(model)
    torch.save(
        {
            "records": model.records,
            "params": [p.detach().clone() for p in model.parameters()],
            "logged": {k: v.detach().clone() for k, v in trainer.callback_metrics.items()},
            "world_size": trainer.world_size,
        },
        out_dir / f"{mode}_rank{trainer.global_rank}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
