r"""Procedural dSprites and the decoder-free representation experiment of Poole et al. (2019), §5.

**Data.** dSprites-style 64x64 binary images of one white sprite, rendered on the fly from five
factors (no download, nothing stored):

========== ===== =========================================================
factor     sizes values
========== ===== =========================================================
shape      3     square, ellipse, heart
scale      6     0.5 to 1, evenly spaced
orientation 40   0 to 2π (exclusive), evenly spaced, radians
pos_x      32    0 to 1, evenly spaced (left to right)
pos_y      32    0 to 1, evenly spaced (top to bottom)
========== ===== =========================================================

3 · 6 · 40 · 32 · 32 = 737,280 images; :class:`DSprites` indexes them all lazily and
:func:`render` draws any batch of factor combinations at once (vectorized point-in-shape tests).

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

Reference:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML, §5. arXiv:1905.06922. Matthey, Higgins, Hassabis, Lerchner (2017). dSprites:
    Disentanglement testing Sprites dataset. https://github.com/deepmind/dsprites-dataset
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds import bounds
from mibounds.critics import SeparableCritic, StackedConcatCritic
from mibounds._progress import progress_steps
from mibounds.representation.adversarial import reverse_gradient
from mibounds.representation.dim import ConvEncoder
from mibounds.representation.losses import mean_bound

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "SHAPES",
    "DSprites",
    "DSpritesResult",
    "factor_scores",
    "factor_values",
    "neighbours",
    "plot_latent_factors",
    "render",
    "run_dsprites_experiment",
    "sample_factors",
]

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES: tuple[int, ...] = (3, 6, 40, 32, 32)
SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
IMAGE_SIZE = 64
# Sprite size at scale 1, as a fraction of the image side, and the margin that keeps the largest
# rotated sprite inside the frame.
_RADIUS = 0.16
_MARGIN = 0.2


def _check_indices(indices: Tensor) -> Tensor:
    if indices.dim() != 2 or indices.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"factor indices must be [N, 5] (shape, scale, orientation, pos_x, pos_y), got {tuple(indices.shape)}")
    sizes = torch.tensor(FACTOR_SIZES, device=indices.device)
    if bool(((indices < 0) | (indices >= sizes)).any()):
        raise ValueError(f"factor indices must lie in [0, size) with sizes {FACTOR_SIZES}")
    return indices.long()


def factor_values(indices: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """The factor values of factor indices ``[N, 5]``: shape index, scale, orientation (rad), x, y.

    Returns:
        ``[N, 5]`` tensor: shape in {0, 1, 2}, scale in [0.5, 1], orientation in [0, 2π),
        positions in [0, 1].
    """
    indices = _check_indices(indices).to(dtype)
    sizes = torch.tensor(FACTOR_SIZES, dtype=dtype, device=indices.device)
    scale = 0.5 + 0.5 * indices[:, 1] / (sizes[1] - 1)
    orientation = 2 * math.pi * indices[:, 2] / sizes[2]
    return torch.stack([indices[:, 0], scale, orientation,
                        indices[:, 3] / (sizes[3] - 1), indices[:, 4] / (sizes[4] - 1)], dim=1)


def render(indices: Tensor, image_size: int = IMAGE_SIZE, dtype: torch.dtype = torch.float32) -> Tensor:
    """Draw the images of factor indices ``[N, 5]``: ``[N, 1, S, S]`` with values 0 and 1.

    A pixel is on when its centre, moved into the sprite's frame (translated to the sprite's
    position, rotated by minus its orientation, divided by its size), lies inside the unit shape:
    a square of half-side 0.8, an ellipse with semi-axes 1 and 0.5, or the heart curve
    ``(u^2 + v^2 - 1)^3 <= u^2 v^3``.

    Args:
        indices: ``[N, 5]`` integer factor indices (see :data:`FACTOR_SIZES`).
        image_size: Side S of the image.
        dtype: Output dtype.

    Returns:
        ``[N, 1, S, S]`` binary images on the device of ``indices``.
    """
    values = factor_values(indices, dtype=torch.float32)
    n, device = values.shape[0], values.device
    # Only a window around each sprite is evaluated (a sprite spans under 0.43 of the side).
    window = min(image_size, image_size // 2 + 2)
    cx = (_MARGIN + (1 - 2 * _MARGIN) * values[:, 3]) * image_size  # centre, in pixels
    cy = (_MARGIN + (1 - 2 * _MARGIN) * values[:, 4]) * image_size
    left = (cx.round().long() - window // 2).clamp(0, image_size - window)
    top = (cy.round().long() - window // 2).clamp(0, image_size - window)
    steps = torch.arange(window, device=device)
    cols = left[:, None] + steps  # [N, W] pixel columns of the window
    rows = top[:, None] + steps
    du = (cols + 0.5 - cx[:, None])[:, None, :]  # [N, 1, W]
    dv = (rows + 0.5 - cy[:, None])[:, :, None]  # [N, W, 1]
    angle = values[:, 2, None, None]
    cos, sin = torch.cos(angle), torch.sin(angle)
    size = _RADIUS * image_size * values[:, 1, None, None]
    a = (cos * du + sin * dv) / size
    b = (-sin * du + cos * dv) / size
    shape = values[:, 0, None, None]
    a2, b2 = a * a, b * b
    square = torch.maximum(a2, b2) <= 0.64  # |a|, |b| <= 0.8
    ellipse = a2 + 4.0 * b2 <= 1.0  # semi-axes 1 and 0.5
    hu2, hv = 1.3225 * a2, 0.15 - 1.15 * b  # heart curve (u = 1.15 a), upright (v up), centred
    base = hu2 + hv * hv - 1
    heart = base * base * base <= hu2 * hv * hv * hv
    sprite = torch.where(shape == 0, square, torch.where(shape == 1, ellipse, heart))
    # Paste each window into a blank image.
    flat = (rows[:, :, None] * image_size + cols[:, None, :]).reshape(n, -1)
    image = torch.zeros(n, image_size * image_size, dtype=dtype, device=device)
    image.scatter_(1, flat, sprite.reshape(n, -1).to(dtype))
    return image.reshape(n, 1, image_size, image_size)


def sample_factors(n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Tensor:
    """``[n, 5]`` factor indices drawn uniformly (each factor independently)."""
    columns = [torch.randint(size, (n,), generator=generator) for size in FACTOR_SIZES]
    return torch.stack(columns, dim=1).to(device)


def neighbours(indices: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each row with one continuous factor (scale, orientation, x or y) moved by one step.

    The step is +1 or -1 at random; orientation wraps around, the others reflect at their ends.

    Args:
        indices: ``[N, 5]`` factor indices.
        generator: Random source.

    Returns:
        ``[N, 5]`` factor indices.
    """
    indices = _check_indices(indices).clone()
    n = indices.shape[0]
    factor = torch.randint(1, len(FACTOR_SIZES), (n,), generator=generator).to(indices.device)
    step = (2 * torch.randint(2, (n,), generator=generator) - 1).to(indices.device)
    rows = torch.arange(n, device=indices.device)
    sizes = torch.tensor(FACTOR_SIZES, device=indices.device)[factor]
    moved = indices[rows, factor] + step
    wrapped = moved % sizes
    reflected = torch.where((moved < 0) | (moved >= sizes), indices[rows, factor] - step, moved)
    indices[rows, factor] = torch.where(factor == 2, wrapped, reflected)
    return indices


class DSprites(torch.utils.data.Dataset):
    """All 737,280 procedural dSprites images, rendered lazily by index.

    Index ``i`` decodes in mixed radix (shape slowest, pos_y fastest), as in the original
    dataset's ordering. Items are ``(image [1, 64, 64], factor_indices [5])``.

    Example:
        >>> data = DSprites()
        >>> len(data)
        737280
        >>> image, factors = data[12345]
        >>> tuple(image.shape), factors.tolist()
        ((1, 64, 64), [0, 0, 12, 1, 25])
    """

    def __init__(self, image_size: int = IMAGE_SIZE) -> None:
        self.image_size = image_size

    def __len__(self) -> int:
        return math.prod(FACTOR_SIZES)

    def factors(self, index: int | Tensor) -> Tensor:
        """Factor indices ``[..., 5]`` of flat index(es)."""
        index = torch.as_tensor(index, dtype=torch.long)
        if bool(((index < 0) | (index >= len(self))).any()):
            raise IndexError(f"index out of range for {len(self)} images")
        digits = []
        for size in reversed(FACTOR_SIZES):
            digits.append(index % size)
            index = index // size
        return torch.stack(digits[::-1], dim=-1)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        factors = self.factors(index)
        return render(factors[None], self.image_size)[0], factors


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
        raise ValueError(f"{features.shape[0]} rows are too few to fit {features.shape[1]} features and hold out the rest")
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
            history.append({"step": float(step), "mi": float(mi.detach()), "dependency": float(dependency.detach()),
                            "smoothness": float(smoothness.detach())})
    seconds = time.perf_counter() - start
    encoder.eval()
    scores = factor_scores(_encode(encoder, eval_indices, image_size), eval_indices)
    written = None
    if figure_path is not None:
        written = plot_latent_factors(encoder, figure_path, image_size=image_size, seed=seed, scores=scores)
    return DSpritesResult(scores, initial_scores, history, written, seconds, encoder)


def plot_latent_factors(encoder: nn.Module, path: str | Path, *, image_size: int = IMAGE_SIZE, seed: int = 0,
                        scores: dict[str, float] | None = None, num_backgrounds: int = 4) -> Path:
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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("the dSprites figure needs matplotlib: pip install 'mibounds[plot]'") from error
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
    fig, axes = plt.subplots(num_latents, 4, figsize=(12, 2.6 * num_latents), squeeze=False)
    axis_values = {
        "scale": [0.5 + 0.1 * i for i in range(6)],
        "orientation": [360.0 * i / 40 for i in range(40)],
        "shape": list(range(3)),
    }
    for k in range(num_latents):
        image = axes[k, 0].imshow(latents[:, :, k].T.numpy(), origin="upper", cmap="RdBu_r", vmin=-1, vmax=1,
                                  extent=(0, 1, 1, 0))
        axes[k, 0].set(xlabel="pos x", ylabel=f"latent {k}\npos y")
        fig.colorbar(image, ax=axes[k, 0], fraction=0.046)
        for col, name in enumerate(("scale", "orientation", "shape"), start=1):
            mean, std = sweeps[name]
            ax = axes[k, col]
            ax.errorbar(axis_values[name], mean[:, k].numpy(), yerr=std[:, k].numpy(), fmt="o-" if name == "shape" else "-",
                        capsize=2 if name == "shape" else 0)
            ax.set(ylim=(-1.1, 1.1), xlabel=name + (" (deg)" if name == "orientation" else ""))
            if name == "shape":
                ax.set_xticks(range(3), SHAPES)
    if scores is not None:
        fig.suptitle("held-out R$^2$ from the latents: " + ", ".join(f"{n} {v:.2f}" for n, v in scores.items()))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
