r"""Two views of a digit, its top and bottom halves: which encoder and which bound give a readable code.

The views are the top and bottom halves (4 x 8 pixels each) of scikit-learn's 8x8 digits, as in
Tschannen et al. (2020); each half has its own encoder, :math:`z_1 = g_1(x_1)`, :math:`z_2 =
g_2(x_2)` (``representation_dim`` each), scored by a bilinear critic :math:`f(x_1, x_2) =
z_1^\top W z_2` in the package's orientation (``scores[i, j] = f(x1_i, x2_j)``, the partition over
the top halves). Training maximizes a lower bound on :math:`I(X_1; X_2)` on the 1,200 training
images; the 597 others are held out. Measured (:func:`train_halves`):

- the held-out **InfoNCE bound** on 512 held-out pairs (ceiling :math:`\log 512`), whatever bound
  trained the encoders, so that runs compare on one scale;
- the held-out value of the training bound itself (:func:`mibounds.bounds.interpolated` with its
  learned baseline, for the :math:`I_\alpha` runs);
- a **linear probe**: the held-out accuracy of a logistic regression predicting the digit from
  :math:`g_1(X_1)` (fit on the training images' codes).

Two studies use it:

- :func:`run_architecture_comparison` (Tschannen et al. 2020, §3.3, "inductive bias of the
  encoder"): a convolutional encoder against an MLP, each stopped at the first held-out
  evaluation where the InfoNCE bound reaches the same target, so their probes compare at a
  matched bound.
- :func:`run_alpha_sweep` (Poole et al. 2019, "bias–variance trade-offs for representation
  learning"): one architecture trained with :math:`I_\alpha` at several α, from TUBA (α = 0, low
  bias, high variance) to InfoNCE on leave-one-out sub-batches (α = 1, capped at log(K - 1)).

Needs scikit-learn (the ``examples`` extra).

Example:
    >>> from mibounds.experiments.digit_halves import train_halves
    >>> run = train_halves("mlp", num_steps=2, evaluate_every=2, seed=0)
    >>> run.steps, len(run.heldout_infonce), all(0 <= a <= 1 for a in run.accuracy)
    ([0, 2], 2, True)

References:
    Tschannen, Djolonga, Rubenstein, Gelly, Lucic (2020). On Mutual Information Maximization for
    Representation Learning. ICLR. arXiv:1907.13625. Poole, Ozair, van den Oord, Alemi, Tucker
    (2019). On Variational Bounds of Mutual Information. ICML. arXiv:1905.06922.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mibounds import bounds
from mibounds.critics.mlp import mlp
from mibounds.experiments.digits import linear_probe_accuracy
from mibounds.representation.digits import augment_digits, load_digit_images
from mibounds.validation import check_int, unknown_name_error

__all__ = [
    "ENCODERS",
    "AlphaSweep",
    "ArchitectureComparison",
    "HalvesRun",
    "digit_halves",
    "halves_encoder",
    "run_alpha_sweep",
    "run_architecture_comparison",
    "train_halves",
]

#: The encoder architectures of :func:`halves_encoder`.
ENCODERS: tuple[str, ...] = ("mlp", "conv")
#: The pairs of views: ``"halves"`` (top, bottom) or ``"augmented"`` (two augmentations of a digit).
VIEWS: tuple[str, ...] = ("halves", "augmented")
TRAIN_IMAGES = 1200
HELDOUT_PAIRS = 512


def digit_halves() -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``top [1797, 1, 4, 8]``, ``bottom [1797, 1, 4, 8]``, ``labels [1797]``, and the fixed split.

    The split (``train [1200]``, ``test [597]`` image indices) is one random permutation with
    seed 0, the same for every run and seed.
    """
    images, labels = load_digit_images()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    return images[:, None, :4], images[:, None, 4:], labels, order[:TRAIN_IMAGES], order[TRAIN_IMAGES:]


def halves_encoder(kind: str, representation_dim: int = 16, image_shape: tuple[int, int] = (4, 8)) -> nn.Module:
    """An encoder of images ``[B, 1, H, W] -> [B, representation_dim]`` (a half: ``(H, W) = (4, 8)``).

    - ``"mlp"``: the H·W pixels through two hidden layers of 256 ReLU units (about 78,000
      weights for a half at ``representation_dim = 16``, 87,000 for a whole digit);
    - ``"conv"``: two 3x3 convolutions (32 channels, then 256 / (H·W / 4): 32 for a half, 16 for
      a whole digit; padding 1, ReLU), a 2x2 max-pool to 256 features, then one hidden layer of
      256 and the output (about 80,000 weights for a half, 75,000 for a whole digit): the
      locality and weight sharing of a ConvNet at about the MLP's size.

    Example:
        >>> import torch
        >>> [tuple(halves_encoder(k)(torch.zeros(3, 1, 4, 8)).shape) for k in ENCODERS]
        [(3, 16), (3, 16)]
    """
    representation_dim = check_int(representation_dim, "representation_dim", minimum=1)
    height, width = image_shape
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), mlp(height * width, 256, representation_dim, num_layers=2))
    if kind == "conv":
        channels = 256 // ((height // 2) * (width // 2))
        return nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            mlp(channels * (height // 2) * (width // 2), 256, representation_dim, num_layers=1),
        )
    raise unknown_name_error("encoder", kind, ENCODERS)


@dataclass
class HalvesRun:
    """One training run of :func:`train_halves`: its curves at the evaluated steps, and where it stopped.

    Attributes:
        steps: The evaluated steps (0 first).
        heldout_infonce: Held-out InfoNCE at each (nats; ceiling log 512).
        heldout_bound: Held-out value of the training bound at each (nats).
        accuracy: Linear-probe accuracy at each.
        reached: Whether the run stopped at the target bound (False: it ran out of steps; always
            False without a target).
    """

    steps: list[int] = field(default_factory=list)
    heldout_infonce: list[float] = field(default_factory=list)
    heldout_bound: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    reached: bool = False


def train_halves(
    encoder: str = "mlp",
    *,
    alpha: float | None = None,
    views: str = "halves",
    num_steps: int = 2000,
    target: float | None = None,
    evaluate_every: int = 50,
    batch_size: int = 128,
    representation_dim: int = 16,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> HalvesRun:
    r"""Train :func:`halves_encoder` ``encoder`` on both halves with a bound, evaluating every ``evaluate_every`` steps.

    Args:
        encoder: One of :data:`ENCODERS`.
        alpha: None trains InfoNCE; a number in [0, 1] trains :math:`I_\alpha`
            (:func:`mibounds.bounds.interpolated`) with a learned baseline :math:`\log a(x_2)`, a
            linear function of :math:`g_2(x_2)`.
        views: ``"halves"``: the top and bottom halves, an encoder each; ``"augmented"``: two
            views of the whole digit by :func:`~mibounds.representation.digits.augment_digits`
            (drawn afresh every step; the held-out pairs drawn once with seed 12345), one
            encoder shared by both (SimCLR's set-up), probed on the unaugmented digits.
        num_steps: Most optimizer steps.
        target: Stop at the first evaluation whose held-out InfoNCE is at least this (nats).
        evaluate_every: Steps between evaluations (and the probe's fits).
        batch_size: Pairs per step (K of the training bound).
        representation_dim: Size of each code.
        learning_rate: Adam's.
        seed: Seeds the networks and the batches (the split is fixed).

    Returns:
        :class:`HalvesRun`.
    """
    if alpha is not None and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (None for InfoNCE), got {alpha}")
    if views not in VIEWS:
        raise unknown_name_error("views", views, VIEWS)
    num_steps = check_int(num_steps, "num_steps", minimum=0)
    evaluate_every = check_int(evaluate_every, "evaluate_every", minimum=1)
    top, bottom, labels, train, test = digit_halves()
    generator = torch.Generator().manual_seed(seed)
    images = torch.cat([top, bottom], dim=2)  # [N, 1, 8, 8]

    def views_of(rows: Tensor, source: torch.Generator = generator) -> tuple[Tensor, Tensor]:
        if views == "halves":
            return top[rows], bottom[rows]
        return augment_digits(images[rows, 0], source)[:, None], augment_digits(images[rows, 0], source)[:, None]

    heldout = views_of(test[:HELDOUT_PAIRS], torch.Generator().manual_seed(12345))
    probed = images if views == "augmented" else top
    torch.manual_seed(seed)
    shape = (int(probed.shape[2]), int(probed.shape[3]))
    g1 = halves_encoder(encoder, representation_dim, shape)
    g2 = g1 if views == "augmented" else halves_encoder(encoder, representation_dim, shape)
    weight = nn.Linear(representation_dim, representation_dim, bias=False)
    baseline = nn.Linear(representation_dim, 1)
    modules = (g1, g2, weight, baseline) if alpha is not None else (g1, g2, weight)
    parameters = {id(p): p for m in modules for p in m.parameters()}  # g2 may be g1
    optimizer = torch.optim.Adam(parameters.values(), lr=learning_rate)

    def objective(x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """The training bound and InfoNCE on the pairs ``(x1_i, x2_i)``."""
        z2 = g2(x2)
        scores = weight(g1(x1)) @ z2.T  # [i, j] = g1(x1_i)^T W^T g2(x2_j): a bilinear critic
        infonce = bounds.infonce(scores)
        if alpha is None:
            return infonce, infonce
        return bounds.interpolated(scores, baseline(z2).squeeze(-1), alpha), infonce

    run = HalvesRun()

    def evaluate(step: int) -> None:
        with torch.no_grad():
            bound, infonce = objective(*heldout)
            codes = g1(probed).double().numpy()
        run.steps.append(step)
        run.heldout_bound.append(float(bound))
        run.heldout_infonce.append(float(infonce))
        y = labels.numpy()
        run.accuracy.append(linear_probe_accuracy(codes[train], y[train], codes[test], y[test]))

    evaluate(0)
    for step in range(1, num_steps + 1):
        batch = train[torch.randint(0, len(train), (batch_size,), generator=generator)]
        loss = -objective(*views_of(batch))[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % evaluate_every == 0 or step == num_steps:
            evaluate(step)
            if target is not None and run.heldout_infonce[-1] >= target:
                run.reached = True
                break
    return run


def _mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class ArchitectureComparison:
    """What :func:`run_architecture_comparison` returns: ``runs[encoder][seed index]`` and the target."""

    target: float
    seeds: tuple[int, ...]
    runs: dict[str, list[HalvesRun]]
    views: str = "halves"

    def final(self, encoder: str, what: str) -> list[float]:
        """Per seed, the last evaluation's ``what`` (``"heldout_infonce"``, ``"accuracy"`` or ``"steps"``)."""
        return [float(getattr(run, what)[-1]) for run in self.runs[encoder]]

    def initial(self, encoder: str, what: str) -> list[float]:
        """Per seed, step 0's ``what`` (the encoder at initialization)."""
        return [float(getattr(run, what)[0]) for run in self.runs[encoder]]

    def rows(self) -> list[tuple[str, str, str, str, str, int]]:
        """Per encoder: steps, held-out InfoNCE, probe at the stop, probe at step 0 (mean ± sd), runs that reached the target."""

        def cell(values: list[float], digits: int) -> str:
            mean, spread = _mean_and_spread(values)
            return f"{mean:.{digits}f} ± {spread:.{digits}f}"

        return [
            (
                encoder,
                cell(self.final(encoder, "steps"), 0),
                cell(self.final(encoder, "heldout_infonce"), 3),
                cell(self.final(encoder, "accuracy"), 3),
                cell(self.initial(encoder, "accuracy"), 3),
                sum(run.reached for run in self.runs[encoder]),
            )
            for encoder in self.runs
        ]


def run_architecture_comparison(
    target: float = 2.2,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    encoders: Sequence[str] = ENCODERS,
    num_steps: int = 3000,
    evaluate_every: int = 25,
    views: str = "halves",
) -> ArchitectureComparison:
    """Each encoder of ``encoders``, trained with InfoNCE per seed until its held-out InfoNCE reaches ``target``.

    Args:
        target: The matched bound (nats; ceiling log 512 = 6.24).
        seeds: One run per seed and encoder.
        encoders: A subset of :data:`ENCODERS`.
        num_steps: Most steps of a run that does not reach the target (reported as not reached).
        evaluate_every: Steps between evaluations: the overshoot past the target is at most this many steps.
        views: ``"halves"`` or ``"augmented"`` (see :func:`train_halves`).

    Returns:
        :class:`ArchitectureComparison`.
    """
    runs = {
        encoder: [
            train_halves(
                encoder, views=views, num_steps=num_steps, target=target, evaluate_every=evaluate_every, seed=seed
            )
            for seed in seeds
        ]
        for encoder in encoders
    }
    return ArchitectureComparison(target, tuple(seeds), runs, views)


@dataclass
class AlphaSweep:
    """What :func:`run_alpha_sweep` returns: ``runs[alpha][seed index]``."""

    seeds: tuple[int, ...]
    runs: dict[float, list[HalvesRun]]

    def final(self, alpha: float, what: str) -> list[float]:
        """Per seed, the last evaluation's ``what`` (a list attribute of :class:`HalvesRun`)."""
        return [float(getattr(run, what)[-1]) for run in self.runs[alpha]]

    def initial_accuracy(self) -> list[float]:
        """Per seed, the probe of the encoder at initialization (the same for every α)."""
        return [run.accuracy[0] for run in next(iter(self.runs.values()))]


def run_alpha_sweep(
    alphas: Sequence[float] = (0.0, 0.01, 0.1, 0.5, 1.0),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    encoder: str = "mlp",
    num_steps: int = 500,
    evaluate_every: int = 250,
    views: str = "halves",
) -> AlphaSweep:
    r"""One encoder architecture trained with :math:`I_\alpha` for each α and seed (``num_steps`` each).

    The seed fixes the initialization and the batches, so the runs of one seed differ only in α;
    ``views`` is ``"halves"`` or ``"augmented"`` (see :func:`train_halves`).
    """
    alphas = tuple(float(a) for a in alphas)
    if any(not math.isfinite(a) for a in alphas):
        raise ValueError(f"alphas must be finite numbers in [0, 1], got {alphas}")
    runs = {
        alpha: [
            train_halves(
                encoder, alpha=alpha, views=views, num_steps=num_steps, evaluate_every=evaluate_every, seed=seed
            )
            for seed in seeds
        ]
        for alpha in alphas
    }
    return AlphaSweep(tuple(seeds), runs)
