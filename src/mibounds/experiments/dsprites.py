r"""The decoder-free representation experiment of Poole et al. (2019), §5, on procedural dSprites.

**Data**: :mod:`mibounds.representation.dsprites` (737,280 images of five factors, rendered on
the fly).

**Experiment** (:func:`run_dsprites_experiment`). A convolutional encoder maps an image to a
bounded latent :math:`\mu(x) \in (-1, 1)^L` and a noisy code :math:`z = \mu(x) + \sigma\epsilon`;
the noise caps what each latent can carry, so the encoder must spend its capacity. Three terms,
as in the paper:

1. *MI maximization*: :math:`\hat I_\mathrm{JS}(X; Z)` (:func:`mibounds.bounds.js`) with a learned
   concat critic on :math:`(\mu(x_i), z_j)`, which loses nothing since Z depends on X only
   through :math:`\mu(X)`; the encoder is never asked to reconstruct (decoder-free).
2. *Dependency penalty*: :math:`\sum_k \hat I_\mathrm{JS}(z_k; z_{-k})`, each latent against
   the others, estimated by critics that maximize it while the encoder minimizes it (gradient
   reversal), pushing toward statistically independent latents.
3. *Smoothness*: the mean squared change of each latent between an image and a neighbour that
   differs by one step of one continuous factor (as consecutive frames of a moving sprite do),
   relative to the latent's variance over the batch.

The figure shows, for every latent, its mean activation over the (x, y) position grid and its
mean against each other factor; the factor scores are the held-out :math:`R^2` of a quadratic
regression of each factor on the latents (orientation through its cosine and sine, shape through
its one-hot code), next to those of the same encoder at initialization.

Example:
    >>> import torch
    >>> from mibounds.experiments.dsprites import factor_scores
    >>> from mibounds.representation.dsprites import factor_values, sample_factors
    >>> indices = sample_factors(400, torch.Generator().manual_seed(0))
    >>> latents = factor_values(indices, dtype=torch.float64)[:, 3:]  # the true positions
    >>> scores = factor_scores(latents, indices)
    >>> round(scores["pos_x"], 6), round(scores["pos_y"], 6)
    (1.0, 1.0)

Reference:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML, §5. arXiv:1905.06922. Matthey, Higgins, Hassabis, Lerchner (2017). dSprites:
    Disentanglement testing Sprites dataset. https://github.com/deepmind/dsprites-dataset
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds import bounds
from mibounds._progress import progress_steps
from mibounds.critics import SeparableCritic, StackedConcatCritic
from mibounds.experiments.figures import require_matplotlib, write_figure
from mibounds.representation.adversarial import reverse_gradient
from mibounds.representation.dim import ConvEncoder
from mibounds.representation.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    SHAPES,
    factor_values,
    neighbours,
    render,
    sample_factors,
)
from mibounds.representation.losses import mean_bound

__all__ = ["DSpritesResult", "factor_scores", "plot_latent_factors", "run_dsprites_experiment"]


def _quadratic_features(latents: Tensor) -> Tensor:
    """``[N, L] -> [N, 1 + L + L(L+1)/2]``: constant, linear and all degree-2 monomials."""
    n, dim = latents.shape
    rows, cols = torch.triu_indices(dim, dim, device=latents.device)
    return torch.cat([latents.new_ones(n, 1), latents, latents[:, rows] * latents[:, cols]], dim=1)


def _factor_targets(indices: Tensor) -> dict[str, Tensor]:
    values = factor_values(indices, dtype=torch.float64)
    return {
        "shape": F.one_hot(indices[:, 0].long(), len(SHAPES)).to(torch.float64),
        "scale": values[:, 1:2],
        "orientation": torch.stack([values[:, 2].cos(), values[:, 2].sin()], dim=1),
        "pos_x": values[:, 3:4],
        "pos_y": values[:, 4:5],
    }


def factor_scores(latents: Tensor, indices: Tensor, train_fraction: float = 0.5) -> dict[str, float]:
    r"""Per-factor held-out :math:`R^2` of a quadratic least-squares regression on the latents.

    Each factor is regressed on the constant, linear and degree-2 terms of the latents, fitted on
    the first ``train_fraction`` of the rows and scored on the rest:
    :math:`R^2 = 1 - \sum (t - \hat t)^2 / \sum (t - \bar t)^2` (1: the latents determine the
    factor; about 0 or below: they carry nothing usable). Orientation is scored through
    ``(cos θ, sin θ)`` and shape through its one-hot code, their columns' R^2 averaged.

    Args:
        latents: ``[N, L]``.
        indices: ``[N, 5]`` factor indices of the same images.
        train_fraction: Fraction of rows used for fitting.

    Returns:
        ``{factor name: R^2}``.
    """
    if latents.dim() != 2 or latents.shape[0] != indices.shape[0]:
        raise ValueError(f"latents must be [N, L] with N = {indices.shape[0]} rows, got {tuple(latents.shape)}")
    features = _quadratic_features(latents.detach().to(torch.float64).cpu())
    n_fit = int(train_fraction * features.shape[0])
    if not features.shape[1] < n_fit < features.shape[0]:
        raise ValueError(
            f"{features.shape[0]} rows are too few to fit {features.shape[1]} features and hold out the rest"
        )
    scores: dict[str, float] = {}
    for name, target in _factor_targets(indices.cpu()).items():
        coef = torch.linalg.lstsq(features[:n_fit], target[:n_fit]).solution
        residual = target[n_fit:] - features[n_fit:] @ coef
        spread = target[n_fit:] - target[n_fit:].mean(0)
        scores[name] = float((1 - residual.pow(2).sum(0) / spread.pow(2).sum(0)).mean())
    return scores


class _LatentEncoder(nn.Module):
    """Image to a bounded latent mean ``mu(x)`` in (-1, 1)^L: average-pool to ``input_size``, a
    small conv net, batch normalization, tanh. Pooling 64 to 32 pixels keeps the sprites legible at a quarter of the cost."""

    def __init__(self, latent_dim: int, image_size: int, input_size: int, channels: Sequence[int]) -> None:
        super().__init__()
        if image_size % input_size:
            raise ValueError(f"image_size {image_size} must be a multiple of input_size {input_size}")
        self.pool = image_size // input_size
        self.body = ConvEncoder(1, input_size, code_dim=latent_dim, channels=channels)
        # Standardize before the tanh: sparse binary images give tiny initial outputs otherwise,
        # and the MI term then takes many steps to get off the ground.
        self.norm = nn.BatchNorm1d(latent_dim)

    def forward(self, images: Tensor) -> Tensor:
        if self.pool > 1:
            images = F.avg_pool2d(images, self.pool)
        return torch.tanh(self.norm(self.body(images)[1]))


@dataclass
class DSpritesResult:
    """What :func:`run_dsprites_experiment` returns.

    Attributes:
        factor_scores: Held-out R^2 per factor for the trained encoder (see :func:`factor_scores`).
        initial_factor_scores: The same for the encoder at initialization.
        history: Per logged step: ``step``, ``mi`` (the JS-trained MI readout, nats),
            ``dependency`` (sum over latents of the dependency estimate, nats), ``smoothness``.
        figure_path: Where the figure was written, or None.
        seconds: Training wall time.
        encoder: The trained encoder (images ``[N, 1, S, S]`` to latents ``[N, L]``).
    """

    factor_scores: dict[str, float]
    initial_factor_scores: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    figure_path: Path | None = None
    seconds: float = 0.0
    encoder: nn.Module | None = None


@torch.no_grad()
def _encode(encoder: nn.Module, indices: Tensor, image_size: int, chunk: int = 1024) -> Tensor:
    return torch.cat([encoder(render(part, image_size)) for part in indices.split(chunk)])


def run_dsprites_experiment(
    num_steps: int = 1000,
    batch_size: int = 128,
    latent_dim: int = 2,
    noise_std: float = 0.2,
    dependency_weight: float = 1.0,
    smoothness_weight: float = 10.0,
    learning_rate: float = 1e-3,
    image_size: int = IMAGE_SIZE,
    input_size: int = 32,
    channels: Sequence[int] = (16, 32),
    num_eval: int = 4096,
    seed: int = 0,
    figure_path: str | Path | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> DSpritesResult:
    r"""Train a decoder-free encoder on procedural dSprites (Poole et al. 2019, §5).

    Each step draws ``batch_size`` factor combinations and one neighbour of each, renders both,
    and minimizes

    .. math::
        -\hat I_\mathrm{JS}(X; Z) + \lambda_\mathrm{dep} \sum_k \hat I_\mathrm{JS}(z_k; z_{-k})
        + \lambda_\mathrm{smooth}\, \frac1L\sum_k \frac{\mathbb{E}(\mu_k(x) - \mu_k(x'))^2}{\mathrm{Var}\,\mu_k}

    with :math:`z = \mu(x) + \sigma\epsilon` (see the module docstring; the dependency critics
    maximize their bound through gradient reversal). Then the latents of ``num_eval`` fresh
    images give the factor scores, next to those of the encoder at initialization, and the
    figure (if ``figure_path``) shows how each latent tracks the factors.

    Args:
        num_steps: Optimizer steps.
        batch_size: Images per step (and as many neighbours).
        latent_dim: L.
        noise_std: :math:`\sigma` of the code's noise.
        dependency_weight: :math:`\lambda_\mathrm{dep}`.
        smoothness_weight: :math:`\lambda_\mathrm{smooth}`.
        learning_rate: Adam's learning rate (encoder and critics).
        image_size: Side of the rendered images.
        input_size: Side the encoder sees after average pooling (a divisor of ``image_size``).
        channels: The encoder's convolution channels.
        num_eval: Held-out images for the factor scores (half fit, half scored).
        seed: Seeds the networks and the data.
        figure_path: Where to write the figure (needs matplotlib), or None.
        device: Torch device (default CPU).
        progress: Show a tqdm bar when tqdm is installed.

    Returns:
        :class:`DSpritesResult`.
    """
    if latent_dim < 2:
        raise ValueError(f"latent_dim must be >= 2 (the dependency term compares latents), got {latent_dim}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed)
    encoder = _LatentEncoder(latent_dim, image_size, input_size, channels).to(device)
    # The optimal critic of a Gaussian channel, log N(z; mu, s^2) - log p(z), is a function of z
    # plus an inner product of features of mu and z: a separable critic can represent it.
    mi_critic = SeparableCritic(latent_dim, latent_dim, embed_dim=16, hidden_dim=64).to(device)
    dependency_critics = StackedConcatCritic(latent_dim, 1, latent_dim - 1, hidden_dim=32).to(device)
    others = torch.tensor([[j for j in range(latent_dim) if j != k] for k in range(latent_dim)], device=device)

    eval_indices = sample_factors(num_eval, torch.Generator().manual_seed(seed + 1), device)
    encoder.eval()  # evaluation must not update the batch-norm statistics
    initial_scores = factor_scores(_encode(encoder, eval_indices, image_size), eval_indices)
    encoder.train()

    params = [*encoder.parameters(), *mi_critic.parameters(), *dependency_critics.parameters()]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for step in progress_steps(num_steps, progress, "dSprites"):
        indices = sample_factors(batch_size, data_rng, device)
        images = render(torch.cat([indices, neighbours(indices, data_rng)]), image_size)
        mu_both = encoder(images)
        mu, mu_next = mu_both[:batch_size], mu_both[batch_size:]
        z = mu + noise_std * torch.randn(mu.shape, generator=data_rng).to(device)
        # 1. I(X; Z) through mu(X) (Z depends on X only through it): JS-trained, NWJ readout.
        mi = bounds.js(mi_critic(mu, z))
        # 2. Each latent against the others: scores [L, B, B] of (z_k, z_-k). The loss below
        # subtracts the estimate, so the critics raise it; the reversal makes the encoder lower it.
        z_adv = reverse_gradient(z)
        dep_scores = dependency_critics(z_adv.T[:, :, None], z_adv[:, others].transpose(0, 1))
        dependency = latent_dim * mean_bound(dep_scores, "js")
        # 3. Neighbouring images (one factor step apart) should have nearby latents, relative to
        # each latent's spread over the batch (so that shrinking the latents cannot satisfy it).
        smoothness = ((mu - mu_next).pow(2).mean(0) / (mu.var(0) + 1e-4)).mean()
        loss = -mi - dependency_weight * dependency + smoothness_weight * smoothness
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == num_steps - 1:
            history.append(
                {
                    "step": float(step),
                    "mi": float(mi.detach()),
                    "dependency": float(dependency.detach()),
                    "smoothness": float(smoothness.detach()),
                }
            )
    seconds = time.perf_counter() - start
    encoder.eval()
    scores = factor_scores(_encode(encoder, eval_indices, image_size), eval_indices)
    written = None
    if figure_path is not None:
        written = plot_latent_factors(encoder, figure_path, image_size=image_size, seed=seed, scores=scores)
    return DSpritesResult(scores, initial_scores, history, written, seconds, encoder)


def plot_latent_factors(
    encoder: nn.Module,
    path: str | Path,
    *,
    image_size: int = IMAGE_SIZE,
    seed: int = 0,
    scores: dict[str, float] | None = None,
    num_backgrounds: int = 4,
) -> Path:
    """Figure of how each latent tracks the true factors (Poole et al. 2019, Fig. 6 style).

    One row per latent: its mean activation over the 32 x 32 grid of positions (averaged over
    ``num_backgrounds`` random shape/scale/orientation combinations), then its mean (± one
    standard deviation) against scale, orientation and shape, each averaged over random values of
    the other factors.

    Args:
        encoder: Images ``[N, 1, S, S]`` to latents ``[N, L]``.
        path: Output file (its suffix picks the format, e.g. ``.png``).
        image_size: Side of the rendered images.
        seed: For the random backgrounds.
        scores: Factor scores to print in the title.
        num_backgrounds: Random combinations of the other factors per grid point.

    Returns:
        The path written.

    Raises:
        ImportError: If matplotlib (the ``plot`` extra) is missing.
    """
    require_matplotlib()  # before the encoding work, not after it
    device = next(encoder.parameters()).device
    g = torch.Generator().manual_seed(seed + 2)
    base = sample_factors(num_backgrounds, g, device)
    # Position grid: every (x, y) for each background.
    xs, ys = torch.meshgrid(torch.arange(32, device=device), torch.arange(32, device=device), indexing="ij")
    grid = base[:, None, :].repeat(1, 1024, 1)
    grid[:, :, 3], grid[:, :, 4] = xs.reshape(-1), ys.reshape(-1)
    latents = _encode(encoder, grid.reshape(-1, 5), image_size).reshape(num_backgrounds, 32, 32, -1).mean(0).cpu()
    num_latents = latents.shape[-1]
    sweeps = {}
    for factor in (1, 2, 0):
        background = sample_factors(64, g, device)
        rows = background[None, :, :].repeat(FACTOR_SIZES[factor], 1, 1)
        rows[:, :, factor] = torch.arange(FACTOR_SIZES[factor], device=device)[:, None]
        values = _encode(encoder, rows.reshape(-1, 5), image_size).reshape(FACTOR_SIZES[factor], 64, -1).cpu()
        sweeps[FACTOR_NAMES[factor]] = (values.mean(1), values.std(1))

    def draw(fig: Any) -> None:
        axes = fig.subplots(num_latents, 4, squeeze=False)
        axis_values = {
            "scale": [0.5 + 0.1 * i for i in range(6)],
            "orientation": [360.0 * i / 40 for i in range(40)],
            "shape": list(range(3)),
        }
        for k in range(num_latents):
            image = axes[k, 0].imshow(
                latents[:, :, k].T.numpy(), origin="upper", cmap="RdBu_r", vmin=-1, vmax=1, extent=(0, 1, 1, 0)
            )
            axes[k, 0].set(xlabel="pos x", ylabel=f"latent {k}\npos y")
            axes[k, 0].grid(False)  # a heat map: no grid over it
            fig.colorbar(image, ax=axes[k, 0], fraction=0.046)
            for col, name in enumerate(("scale", "orientation", "shape"), start=1):
                mean, std = sweeps[name]
                ax = axes[k, col]
                ax.errorbar(
                    axis_values[name],
                    mean[:, k].numpy(),
                    yerr=std[:, k].numpy(),
                    fmt="o-" if name == "shape" else "-",
                    capsize=2 if name == "shape" else 0,
                )
                ax.set(ylim=(-1.1, 1.1), xlabel=name + (" (deg)" if name == "orientation" else ""))
                if name == "shape":
                    ax.set_xticks(range(3), SHAPES)
        if scores is not None:
            fig.suptitle("held-out R$^2$ from the latents: " + ", ".join(f"{n} {v:.2f}" for n, v in scores.items()))
        fig.tight_layout()

    return write_figure(path, draw, (12, 2.6 * num_latents))
