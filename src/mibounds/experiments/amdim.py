r"""AMDIM on scikit-learn's digits: two augmented views, multiscale InfoNCE, a linear probe.

Each training step draws a batch of the training half of the digits
(:func:`mibounds.experiments.digits.split_digits`), makes two random views of every image
(:func:`mibounds.representation.digits.augment_digits`: a shift of up to one pixel, a masked
patch, an intensity change, pixel noise), encodes both with one
:class:`~mibounds.representation.amdim.MultiscaleEncoder` (fine 4x4 and coarse 2x2 maps, a global
vector) and takes an Adam step on :class:`~mibounds.representation.amdim.AMDIM`'s loss. The
global vector of the trained encoder, of the same encoder at its random initialization and the
raw pixels are then scored by a linear probe fitted on the training half and evaluated on the
held-out half (:func:`mibounds.experiments.digits.probe_encoder`). Labels are used only by the
probe.

Needs scikit-learn (the ``examples`` extra).

Example:
    >>> from mibounds.experiments.amdim import run_amdim_experiment
    >>> result = run_amdim_experiment(num_steps=2, batch_size=16, seed=0)  # doctest: +SKIP
    >>> 0 <= result.learned_accuracy <= 1  # doctest: +SKIP
    True

Reference:
    Bachman, Hjelm, Buchwalter (2019). Learning Representations by Maximizing Mutual Information
    Across Views. NeurIPS. arXiv:1906.00910.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mibounds._progress import progress_steps
from mibounds.experiments.digits import probe_encoder, split_digits
from mibounds.representation.amdim import AMDIM, MultiscaleEncoder
from mibounds.representation.digits import augment_digits

__all__ = ["AMDIMDigitsResult", "run_amdim_experiment", "seed_spread"]

TERMS: tuple[str, ...] = ("global_fine", "global_coarse", "coarse_coarse")


@dataclass
class AMDIMDigitsResult:
    """What :func:`run_amdim_experiment` returns for one seed.

    Attributes:
        learned_accuracy: Linear-probe test accuracy of the trained encoder's global vector.
        random_accuracy: The same for the encoder at its random initialization.
        pixel_accuracy: The same on the raw pixels (reference; 64-d).
        readouts: ``{term: InfoNCE readout (nats)}`` averaged over the last 10 % of the steps, for
            ``global_fine``, ``global_coarse`` and ``coarse_coarse``.
        ceiling: ``log B`` of those readouts.
        seconds: Training wall time.
    """

    learned_accuracy: float
    random_accuracy: float
    pixel_accuracy: float
    readouts: dict[str, float]
    ceiling: float
    seconds: float = 0.0


def run_amdim_experiment(
    num_steps: int = 1500,
    batch_size: int = 128,
    global_dim: int = 16,
    channels: Sequence[int] = (16, 32, 32),
    embed_dim: int = 64,
    score_penalty: float = 0.05,
    learning_rate: float = 3e-3,
    seed: int = 0,
    progress: bool = False,
) -> AMDIMDigitsResult:
    """Train AMDIM on the digits' training half and probe its global vector (see the module docstring).

    Args:
        num_steps: Adam steps.
        batch_size: Images per step (two views each); the InfoNCE ceiling is log of it.
        global_dim: Size of the global vector (what the probe reads).
        channels: The encoder's convolution widths (see :class:`MultiscaleEncoder`).
        embed_dim: Size of the critic's embeddings.
        score_penalty: Weight of the mean squared score in the loss (see :class:`AMDIM`).
        learning_rate: Adam's learning rate.
        seed: Seeds the split, the networks and the augmentations.
        progress: Show a tqdm bar when tqdm is installed.

    Returns:
        :class:`AMDIMDigitsResult`.
    """
    split = split_digits(seed)
    train_images = split.images[split.train_idx]
    torch.manual_seed(seed)
    encoder = MultiscaleEncoder(1, 8, global_dim, channels)
    amdim = AMDIM(encoder.fine_channels, encoder.coarse_channels, global_dim, embed_dim, score_penalty=score_penalty)
    initial = copy.deepcopy(encoder)
    optimizer = torch.optim.Adam([*encoder.parameters(), *amdim.parameters()], lr=learning_rate)
    g = torch.Generator().manual_seed(seed)
    history: list[list[float]] = []
    start = time.perf_counter()
    for _ in progress_steps(num_steps, progress, "AMDIM"):
        batch = train_images[torch.randint(len(train_images), (batch_size,), generator=g)]
        view_a = augment_digits(batch, g)[:, None]
        view_b = augment_digits(batch, g)[:, None]
        result = amdim(encoder(view_a), encoder(view_b))
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        history.append([float(result.global_fine_mi), float(result.global_coarse_mi), float(result.coarse_coarse_mi)])
    seconds = time.perf_counter() - start
    tail = np.asarray(history[-max(1, num_steps // 10) :])
    encoder.eval()
    initial.eval()
    return AMDIMDigitsResult(
        learned_accuracy=probe_encoder(lambda x: encoder(x[:, None]).global_, split),
        random_accuracy=probe_encoder(lambda x: initial(x[:, None]).global_, split),
        pixel_accuracy=probe_encoder(None, split),
        readouts={name: float(tail[:, k].mean()) for k, name in enumerate(TERMS)},
        ceiling=math.log(batch_size),
        seconds=seconds,
    )


def seed_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of per-seed values."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
