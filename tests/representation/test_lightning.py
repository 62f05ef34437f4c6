"""The Lightning integration: MIReadoutLogger, and Lightning's DDP on 2 CPU processes equal to one process.

The DDP test runs ``_lightning_worker.py`` twice: under ``Trainer(accelerator="cpu", devices=2,
strategy="ddp")`` with each process fed half of every batch, and in one process fed the
concatenated batches. The negatives every process gathers, the losses and readouts, the
parameter gradients after DDP's average, the trained parameters and the logged readouts must
equal the single process's, in float64 (to 1e-10; they agree to about 1e-15). lightly's gather
(lightly-ai/lightly#1528) returned only the local gradient in its backward and failed exactly this
comparison; ``tests/representation/test_distributed.py`` shows such a gather gives a different
gradient.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip("lightning", reason="the Lightning integration needs the 'lightning' extra")

from lightning.pytorch import LightningModule, Trainer  # noqa: E402

from mibounds.representation import InfoNCELoss, MILoss, MultiViewContrastive  # noqa: E402
from mibounds.representation.lightning import MIReadoutLogger  # noqa: E402

WORKER = Path(__file__).with_name("_lightning_worker.py")
WORLD, BATCH, STEPS = 2, 5, 3


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    out = tmp_path_factory.mktemp("lightning")
    for mode in ("ddp", "single"):
        done = subprocess.run(
            [sys.executable, str(WORKER), str(out), mode], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(out / f"ddp_rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return ranks, torch.load(out / "single_rank0.pt", weights_only=True)


@pytest.mark.processes  # the runs fixture starts Lightning's 2 DDP processes, then one more
def test_lightning_ddp_gathers_every_negative_and_gives_the_single_process_gradients(runs) -> None:
    ranks, single = runs
    assert [r["world_size"] for r in ranks] == [WORLD, WORLD] and single["world_size"] == 1
    assert len(single["records"]) == STEPS and all(len(r["records"]) == STEPS for r in ranks)
    for step, want in enumerate(single["records"]):
        got = [r["records"][step] for r in ranks]
        for out in got:
            close(out["gathered"], want["gathered"])  # both halves, in rank order: all the negatives
            assert out["infonce_k"] == want["infonce_k"] == WORLD * BATCH
            close(out["dv_loss"], want["dv_loss"])  # the square-matrix bound: the whole batch's value
            close(out["dv_mi"], want["dv_mi"])
            for g, w in zip(out["grads"], want["grads"], strict=True):  # after DDP's average
                close(g, w)
        # InfoNCE: each process has its own columns; their mean is the whole batch's loss.
        close(torch.stack([o["infonce_loss"] for o in got]).mean(), want["infonce_loss"])
        close(torch.stack([o["infonce_mi"] for o in got]).mean(), want["infonce_mi"])
    for out in ranks:
        for p, w in zip(out["params"], single["params"], strict=True):
            close(p, w)  # the same model after the same optimizer steps


@pytest.mark.processes  # the runs fixture starts Lightning's 2 DDP processes, then one more
def test_the_logged_readouts_are_the_whole_batch_readouts(runs) -> None:
    ranks, single = runs
    last = single["records"][-1]
    for out in (*ranks, single):
        logged = out["logged"]
        assert set(logged) == {"mi/infonce", "mi_ceiling/infonce", "mi/dv"}  # DV has no ceiling
        torch.testing.assert_close(logged["mi/infonce"], last["infonce_mi"], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(logged["mi/dv"], last["dv_mi"], rtol=1e-6, atol=1e-9)
        assert float(logged["mi_ceiling/infonce"]) == pytest.approx(torch.log(torch.tensor(10.0)).item())


class _TwoLosses(LightningModule):
    """InfoNCE every step, a multi-view model's pair losses, and a DV loss only in validation."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.loss_fn = InfoNCELoss(temperature=0.5)
        self.views = MultiViewContrastive(nn.Linear(3, 4), num_views=2, loss=InfoNCELoss())
        self.held_out = MILoss("dv")

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        (x,) = batch
        return self.loss_fn(self.encoder(x), self.encoder(x.flip(1))) + self.views([x, x.flip(1)]).loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        (x,) = batch
        self.held_out(self.encoder(x), self.encoder(x.flip(1)))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_the_logger_finds_every_loss_module_and_logs_validation_by_epoch() -> None:
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 3)), batch_size=8)
    trainer = Trainer(
        accelerator="cpu",
        max_steps=4,
        callbacks=[MIReadoutLogger(sync_dist=False)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = _TwoLosses()
    trainer.fit(model, data, data)
    assert set(trainer.callback_metrics) == {
        "mi/loss_fn",
        "mi_ceiling/loss_fn",
        "mi/views.losses.0_1",
        "mi_ceiling/views.losses.0_1",
        "val_mi/held_out",  # logged only in validation: held_out never ran in a training step
    }
    torch.testing.assert_close(trainer.callback_metrics["mi/loss_fn"], model.loss_fn.last_readout.mi)


def test_a_readout_is_logged_once() -> None:
    container = nn.ModuleDict({"a": InfoNCELoss(), "b": MILoss("dv"), "plain": nn.Linear(2, 2)})
    logger = MIReadoutLogger()
    assert logger.fresh_readouts(container) == {}  # nothing called yet
    z = torch.randn(6, 4)
    container["a"](z, z)
    assert list(logger.fresh_readouts(container)) == ["a"]
    assert logger.fresh_readouts(container) == {}  # the same readout is not logged again
    container["a"](z, z.flip(0))
    container["b"](z, z)
    assert sorted(logger.fresh_readouts(container)) == ["a", "b"]
