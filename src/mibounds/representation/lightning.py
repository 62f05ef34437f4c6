r"""PyTorch Lightning: log the MI readout of a LightningModule's loss modules at every step.

The loss modules of :mod:`mibounds.representation.losses` return the loss tensor, so a
``training_step`` returns ``self.loss_fn(z1, z2)`` as it would any loss; each module keeps the
batch's readout (the MI lower bound in nats, its ceiling, K) in ``last_readout``
(:mod:`mibounds.representation.readout`). :class:`MIReadoutLogger` finds every such module in
the LightningModule and logs, after each training batch, ``mi/<name>`` and ``mi_ceiling/<name>``
(``<name>`` the module's attribute path, e.g. ``loss_fn``), and after each validation batch
``val_mi/<name>`` and ``val_mi_ceiling/<name>``, averaged over the epoch. A module that was not
called in a batch is not logged for it.

Under DDP (``Trainer(strategy="ddp", devices=2)``) the losses gather negatives from every process
with :func:`mibounds.representation.all_gather_with_grad`: each process scores its own rows
against the candidates of all processes, and DDP's average of the parameter gradients is the
gradient of one process on the concatenated batch (tested with Lightning's DDP on 2 CPU
processes, float64). Each process's readout is that of its own share; with ``sync_dist=True``
(the default) the logged value is their mean, which for InfoNCE is the readout of the whole
batch (and ``MILoss`` holds the whole batch's value on every process already).

This module needs the ``lightning`` extra (``pip install "mibounds[lightning]"``).

Example:
    >>> import torch
    >>> from lightning.pytorch import LightningModule, Trainer
    >>> from mibounds.representation import InfoNCELoss
    >>> class Contrastive(LightningModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.encoder, self.loss_fn = torch.nn.Linear(4, 8), InfoNCELoss(temperature=0.5)
    ...     def training_step(self, batch, batch_idx):
    ...         (x,) = batch
    ...         return self.loss_fn(self.encoder(x + 0.1 * torch.randn_like(x)), self.encoder(x))
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.1)
    >>> data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=16)
    >>> trainer = Trainer(accelerator="cpu", devices=1, max_steps=2, callbacks=[MIReadoutLogger()], logger=False,
    ...                   enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    >>> trainer.fit(Contrastive(), data)
    >>> sorted(trainer.callback_metrics), round(float(trainer.callback_metrics["mi_ceiling/loss_fn"]), 4)
    (['mi/loss_fn', 'mi_ceiling/loss_fn'], 2.7726)
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from mibounds.representation.readout import MILossResult

__all__ = ["MIReadoutLogger"]


class MIReadoutLogger(Callback):
    """Logs the MI readout and its ceiling of every loss module of the LightningModule.

    A loss module is any submodule with a ``last_readout`` attribute holding an
    :class:`~mibounds.representation.readout.MILossResult` (every loss of
    :mod:`mibounds.representation.losses`, and the per-pair losses of
    :class:`~mibounds.representation.MultiViewContrastive`). See the module docstring for the
    keys and what the value means under several processes.

    Args:
        sync_dist: Average the values over processes (an all-reduce per logged value).
        validation: Also log the validation readouts (``val_mi/<name>``, the epoch's mean).
        prog_bar: Show the training readouts in the progress bar.

    Example:
        >>> MIReadoutLogger(sync_dist=False).sync_dist
        False
    """

    def __init__(self, sync_dist: bool = True, validation: bool = True, prog_bar: bool = False) -> None:
        super().__init__()
        self.sync_dist = bool(sync_dist)
        self.validation = bool(validation)
        self.prog_bar = bool(prog_bar)
        self._logged: dict[str, MILossResult] = {}

    def fresh_readouts(self, pl_module: LightningModule) -> dict[str, MILossResult]:
        """The readouts of ``pl_module``'s loss modules computed since the last call, by module path.

        Args:
            pl_module: The LightningModule.

        Returns:
            ``{name: readout}`` for each loss module called since the last call.
        """
        fresh = {}
        for name, module in pl_module.named_modules():
            readout = getattr(module, "last_readout", None)
            if not name or not isinstance(readout, MILossResult) or self._logged.get(name) is readout:
                continue
            self._logged[name] = readout
            fresh[name] = readout
        return fresh

    def _log(self, pl_module: LightningModule, stage: str) -> None:
        training = stage == "train"
        prefix = "" if training else f"{stage}_"
        for name, readout in self.fresh_readouts(pl_module).items():
            values = {f"{prefix}mi/{name}": readout.mi}
            if readout.ceiling is not None:
                values[f"{prefix}mi_ceiling/{name}"] = readout.mi.new_tensor(readout.ceiling)
            for key, value in values.items():
                pl_module.log(
                    key,
                    value,
                    on_step=training,
                    on_epoch=not training,
                    prog_bar=self.prog_bar and training,
                    sync_dist=self.sync_dist,
                    batch_size=1,  # the epoch's value is the plain mean over its batches
                )

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Log the training readouts of this batch."""
        self._log(pl_module, "train")

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Log the validation readouts of this batch (averaged over the epoch)."""
        if self.validation:
            self._log(pl_module, "val")
