r"""Deep InfoMax on scikit-learn's digits: global vs local vs both, DV vs JS vs InfoNCE, by linear probe.

Hjelm et al. (2019) compare, by the classification accuracy of probes on the learned
representation, Deep InfoMax's global objective (the whole feature map against the code), its
local objective (every location of the feature map against the code) and both, each with the
Donsker–Varadhan (DV), Jensen–Shannon (JS) and InfoNCE estimators. Their findings: the local
objective gives better representations for classification than the global one, and JS and
InfoNCE train more stably than DV.

Here, per seed: the digits split in half (:func:`mibounds.experiments.digits.split_digits`), a
:class:`~mibounds.representation.dim.ConvEncoder` on the 8x8 images (one 4x4 stride-2
convolution to a 4x4 feature map, then the code), trained without labels by
:class:`~mibounds.representation.dim.DeepInfoMax` (no prior term) on the training half, and a
linear probe (:func:`mibounds.experiments.digits.probe_encoder`) on the code, fitted on the
training half and scored on the held-out half, next to the same encoder at its initialization
(each seed's networks start from the same weights whatever the objective and estimator).
The objectives' weights: ``global`` (alpha 1, beta 0), ``local`` (0, 1), ``both`` (Deep
InfoMax's 0.5, 1).

Needs scikit-learn (the ``examples`` extra).

Example:
    >>> from mibounds.experiments.dim_digits import OBJECTIVES
    >>> OBJECTIVES["both"]
    (0.5, 1.0)

Reference:
    Hjelm, Fedorov, Lavoie-Marchildon, Grewal, Bachman, Trischler, Bengio (2019). Learning deep
    representations by mutual information estimation and maximization. ICLR. arXiv:1808.06670.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mibounds._progress import progress_bar
from mibounds.experiments.digits import probe_encoder, split_digits
from mibounds.experiments.figures import Table
from mibounds.representation.dim import ConvEncoder, DeepInfoMax

__all__ = ["BOUNDS", "OBJECTIVES", "DIMComparison", "DIMDigitsRun", "compare_dim_objectives", "run_dim_digits"]

#: Objective name -> (global_weight, local_weight) of :class:`DeepInfoMax`.
OBJECTIVES: dict[str, tuple[float, float]] = {"global": (1.0, 0.0), "local": (0.0, 1.0), "both": (0.5, 1.0)}
#: The estimators compared, in the order of the table's columns.
BOUNDS: tuple[str, ...] = ("dv", "js", "infonce")


@dataclass(frozen=True)
class DIMDigitsRun:
    """One objective, estimator and seed.

    Attributes:
        accuracy: Linear-probe test accuracy of the trained encoder's code (NaN if training failed).
        random_accuracy: The same for the encoder at its initialization.
        global_mi: The global readout (nats) averaged over the last 10 % of the steps, or None.
        local_mi: The same for the local readout.
        finite: False if a loss became NaN or infinite (training stops there; accuracy is NaN).
        seconds: Training wall time.
    """

    accuracy: float
    random_accuracy: float
    global_mi: float | None
    local_mi: float | None
    finite: bool
    seconds: float


def run_dim_digits(
    objective: str = "local",
    bound: str = "js",
    seed: int = 0,
    num_steps: int = 500,
    batch_size: int = 128,
    code_dim: int = 16,
    channels: int = 64,
    learning_rate: float = 1e-3,
) -> DIMDigitsRun:
    """Train Deep InfoMax with one objective and estimator on the digits and probe its code.

    Args:
        objective: ``"global"``, ``"local"`` or ``"both"`` (:data:`OBJECTIVES`).
        bound: ``"dv"``, ``"js"`` or ``"infonce"`` (any stateless bound of :class:`DeepInfoMax`).
        seed: Seeds the split, the initial weights and the batches.
        num_steps: Adam steps.
        batch_size: Images per step.
        code_dim: Size of the code (what the probe reads).
        channels: Channels of the 4x4 feature map.
        learning_rate: Adam's learning rate.

    Returns:
        :class:`DIMDigitsRun`.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    global_weight, local_weight = OBJECTIVES[objective]
    split = split_digits(seed)
    train_images = split.images[split.train_idx][:, None]
    torch.manual_seed(seed)
    encoder = ConvEncoder(1, 8, code_dim=code_dim, channels=(channels,))
    dim = DeepInfoMax(
        encoder.feature_channels,
        encoder.feature_size,
        code_dim,
        bound=bound,
        global_weight=global_weight,
        local_weight=local_weight,
        embed_dim=64,
        hidden_dim=128,
    )
    initial = copy.deepcopy(encoder)
    optimizer = torch.optim.Adam([*encoder.parameters(), *dim.parameters()], lr=learning_rate)
    g = torch.Generator().manual_seed(seed)
    global_values: list[float] = []
    local_values: list[float] = []
    finite = True
    start = time.perf_counter()
    for _ in range(num_steps):
        batch = train_images[torch.randint(len(train_images), (batch_size,), generator=g)]
        result = dim(*encoder(batch))
        if not torch.isfinite(result.loss):
            finite = False
            break
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        if result.global_mi is not None:
            global_values.append(float(result.global_mi))
        if result.local_mi is not None:
            local_values.append(float(result.local_mi))
    seconds = time.perf_counter() - start
    tail = max(1, num_steps // 10)

    def code(net: ConvEncoder) -> float:
        return probe_encoder(lambda x: net(x[:, None])[1], split)

    accuracy = code(encoder) if finite else math.nan
    return DIMDigitsRun(
        accuracy=accuracy,
        random_accuracy=code(initial),
        global_mi=float(np.mean(global_values[-tail:])) if global_values else None,
        local_mi=float(np.mean(local_values[-tail:])) if local_values else None,
        finite=finite,
        seconds=seconds,
    )


@dataclass
class DIMComparison:
    """What :func:`compare_dim_objectives` returns.

    Attributes:
        runs: ``{(objective, bound): [DIMDigitsRun per seed]}``.
        seeds: The seeds, in the order of each list.
        random_accuracy: The untrained encoder's probe accuracy per seed.
        seconds: Wall time of all the runs.
    """

    runs: dict[tuple[str, str], list[DIMDigitsRun]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    random_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def accuracies(self, objective: str, bound: str) -> np.ndarray:
        """Per-seed probe accuracies of one cell (NaN where training failed)."""
        return np.array([run.accuracy for run in self.runs[(objective, bound)]])

    def table(self) -> Table:
        """A row per objective (and one for the random encoder), a column per estimator: mean ± sd over seeds."""

        def cell(values: np.ndarray) -> str:
            good = values[np.isfinite(values)]
            failed = len(values) - len(good)
            if not len(good):
                return "failed"
            spread = float(good.std(ddof=1)) if len(good) > 1 else 0.0
            text = f"{good.mean():.3f} ± {spread:.3f}"
            return text + (f" ({failed} failed)" if failed else "")

        bounds = sorted({b for _, b in self.runs}, key=lambda b: BOUNDS.index(b) if b in BOUNDS else len(BOUNDS))
        objectives = [o for o in OBJECTIVES if any((o, b) in self.runs for b in bounds)]
        rows = [(o, *(cell(self.accuracies(o, b)) for b in bounds)) for o in objectives]
        random = cell(np.array(self.random_accuracy))
        rows.append(("random encoder", *(random for _ in bounds)))
        return Table(("objective", *bounds), rows)


def compare_dim_objectives(
    seeds: Sequence[int] = (0, 1, 2),
    objectives: Sequence[str] = tuple(OBJECTIVES),
    bounds: Sequence[str] = BOUNDS,
    num_steps: int = 500,
    progress: bool = False,
) -> DIMComparison:
    """Every objective with every estimator on every seed (:func:`run_dim_digits`), for the table."""
    comparison = DIMComparison(seeds=list(seeds))
    start = time.perf_counter()
    jobs = [(o, b) for o in objectives for b in bounds]
    bar = progress_bar(len(jobs) * len(seeds), progress, desc="Deep InfoMax runs")
    for objective, bound in jobs:
        runs = comparison.runs.setdefault((objective, bound), [])
        for seed in seeds:
            runs.append(run_dim_digits(objective, bound, seed, num_steps=num_steps))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    first = comparison.runs[jobs[0]]
    comparison.random_accuracy = [run.random_accuracy for run in first]
    comparison.seconds = time.perf_counter() - start
    return comparison
