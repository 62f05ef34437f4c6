r"""The MI staircase of Poole et al. 2019 (their figure 2): every bound trained through rising MI.

A 20-d correlated Gaussian (and its cubic version) steps through 2, 4, 6, 8, 10 nats, 4,000 training
steps each, with a fresh batch of K = 64 pairs every step. Each lower bound trains its own critic
(and baseline, for TUBA and :math:`I_\alpha`) through all the stages with Adam (lr 5e-4); the
structured bounds (TNCE, the upper bounds) use the task's true conditional and need no training.
The output is the per-step estimates, per-stage bias, variance and MSE over the last 500 steps of
each stage, a figure laid out like the paper's, and Markdown/CSV tables.

Speed: at batch 64 a training step is dominated by per-step overhead (kernel launches, Python),
not arithmetic. So all the critics of a run, every (task, bound) pair, are one stacked critic
(:class:`mibounds.critics.StackedSeparableCritic` or :class:`~mibounds.critics.StackedConcatCritic`,
M members, one forward giving ``[M, K, K]``); member m's bound is taken on its slice, the losses
are summed, and one backward and one Adam step train everything. The members share no parameter
and Adam is elementwise, so this is exactly M separate trainings. The baselines are stacked too.
Every task sees the same underlying normal draws at a step (the cubic task is the Gaussian's
samples cubed), and both critics see the same batches: the comparisons are paired.

Example:
    >>> from mibounds.experiments import staircase
    >>> config = staircase.StaircaseConfig(
    ...     tasks=("gaussian",), critics=("separable",), bounds=("infonce", "nwj"), levels=(2.0,),
    ...     steps_per_level=5, hidden_dim=8, embed_dim=4, baseline_hidden_dim=8, window=5)
    >>> result = staircase.run_staircase(config, progress=False)
    >>> result.series("gaussian", "separable", "infonce").shape
    (5,)

The package has one module per concern: :mod:`~mibounds.experiments.staircase.config` (bound
specs and :class:`StaircaseConfig`), :mod:`~mibounds.experiments.staircase.training` (the stacked
training loop and its checkpoints), :mod:`~mibounds.experiments.staircase.result` (the result,
its statistics, tables, figures and files), :mod:`~mibounds.experiments.staircase.figure` (how
the figure is drawn) and :mod:`~mibounds.experiments.staircase.run` (:func:`run_staircase`). Names are imported lazily: importing the configuration does not import
the training loop.

Reference:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML. arXiv:1905.06922, section 4 and figure 2.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS = {
    "CONDITIONAL": "config",
    "DEFAULT_BOUNDS": "config",
    "BoundSpec": "config",
    "StaircaseConfig": "config",
    "HEALTH_CHECK_EVERY": "training",
    "StackRun": "training",
    "nonfinite_members": "training",
    "stacked_critic": "training",
    "train_stack": "training",
    "JobTiming": "result",
    "StaircaseResult": "result",
    "merge_results": "result",
    "stage_statistics": "result",
    "run_staircase": "run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
