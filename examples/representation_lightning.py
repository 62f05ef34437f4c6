"""A contrastive encoder trained with PyTorch Lightning's DDP on 2 CPU processes, its MI readout logged.

Two encoders map the two sides of a task whose MI is known (x and y^3 of a correlated Gaussian,
5 dimensions, 2 nats) to embeddings, and InfoNCELoss trains them. The LightningModule's
training_step returns the loss tensor; MIReadoutLogger logs the loss module's readout
(mi/loss_fn, nats) and its ceiling (mi_ceiling/loss_fn = log K) at every step, averaged over the
processes. Under Trainer(accelerator="cpu", devices=2, strategy="ddp") each process holds half of
every batch and InfoNCELoss gathers the other half as negatives, so each y is scored against
K = 2 x batch candidates. Prints the logged readout at some steps (from the CSV log), then the
readout on held-out pairs beside the true MI; the readout is a lower bound, never above log K.

Needs the lightning extra: pip install "mibounds[lightning]".

Run: python examples/representation_lightning.py [--steps 1000] [--batch-size 128] [--out results/lightning]
(28 s on 2 CPU cores; it printed a held-out readout of 1.752 nats of the true 2.000, log K = 5.545).
"""

from __future__ import annotations

import argparse
import csv
import math
import warnings
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from mibounds import tasks
from mibounds.representation import InfoNCELoss
from mibounds.representation.lightning import MIReadoutLogger

PROCESSES = 2
TASK = tasks.Cubic(dim=5, mi=2.0)


def encoder(dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))


class Contrastive(LightningModule):
    """Two encoders and an InfoNCE loss; the loss tensor is what training_step returns."""

    def __init__(self, dim: int, learning_rate: float = 2e-3) -> None:
        super().__init__()
        self.encoder_x, self.encoder_y = encoder(dim), encoder(dim)
        self.loss_fn = InfoNCELoss(temperature=0.2, learnable_temperature=True)
        self.learning_rate = learning_rate

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.loss_fn(self.encoder_x(x), self.encoder_y(y))

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        return self(*batch)

    def validation_step(self, batch: list[Tensor], batch_idx: int) -> None:
        self(*batch)  # the readout is logged by MIReadoutLogger (val_mi/loss_fn)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)


def loader(n: int, seed: int, batch_size: int, shuffle: bool) -> DataLoader:
    x, y = TASK.sample(n, seed=seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, drop_last=True)


def print_training_log(metrics_csv: Path, every: int) -> None:
    with metrics_csv.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("mi/loss_fn")]
    for row in rows:
        step = int(row["step"])
        if step % every == 0 or row is rows[-1]:
            print(
                f"step {step:4d}  readout {float(row['mi/loss_fn']):.3f} nats of "
                f"log K = {float(row['mi_ceiling/loss_fn']):.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128, help="pairs per process and step")
    parser.add_argument("--out", default="results/lightning", help="folder of the CSV log")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core per process
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")  # in-memory tensors
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")  # held-out pairs are scored after training
    torch.manual_seed(0)  # the same initial weights on every process (DDP also broadcasts them)
    model = Contrastive(TASK.dim_x)
    trainer = Trainer(
        accelerator="cpu",
        devices=PROCESSES,
        strategy="ddp",
        max_steps=args.steps,
        callbacks=[MIReadoutLogger()],
        logger=CSVLogger(args.out, name="contrastive"),
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    # Lightning's distributed sampler gives each process its own half of every shuffled batch.
    trainer.fit(model, loader(16_384, seed=0, batch_size=args.batch_size, shuffle=True))
    held_out = trainer.validate(model, loader(2_048, seed=1, batch_size=args.batch_size, shuffle=False), verbose=False)
    if trainer.is_global_zero:  # every process runs this script; one prints
        print_training_log(Path(trainer.logger.log_dir) / "metrics.csv", every=max(1, args.steps // 6))
        k = model.loss_fn.last_readout.batch_size
        print(
            f"held-out readout {held_out[0]['val_mi/loss_fn']:.3f} nats (true MI {TASK.mutual_information:.3f}, "
            f"ceiling log K = {math.log(k):.3f}; K = {k} candidates from {PROCESSES} processes)"
        )


if __name__ == "__main__":
    main()
