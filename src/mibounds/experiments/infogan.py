r"""InfoGAN on procedural dSprites or on digits: how much of the codes the images keep, and what they control.

**Data**: :mod:`mibounds.representation.dsprites`, rendered at a low resolution (32x32 by
default) so that a GAN trains in a few CPU minutes; nothing is downloaded. Or (``data="digits"``)
the training half of scikit-learn's 8x8 digits (:func:`mibounds.experiments.digits.split_digits`).

**Experiment** (:func:`run_infogan_experiment`). An :class:`~mibounds.representation.infogan.InfoGAN`
with one categorical code (K values) and continuous codes on [-1, 1] is trained with Adam on
fresh real images each step. Then, on held-out generated samples (fresh noise and codes, never
a training batch):

- the Barber–Agakov bound on :math:`I(c_\mathrm{cat}; G(z, c))` against its ceiling
  :math:`H(c_\mathrm{cat}) = \log K`, and on :math:`I(c_\mathrm{cont}; G(z, c))` next to
  :math:`h(c_\mathrm{cont}) = m \log 2`, with Monte-Carlo standard errors, for the trained model
  and for the same model at initialization;
- what each continuous code controls: a ridge regressor fitted on *real* rendered images with
  known factors (position x, position y, scale) reads the factors off the generated images, and
  the table gives the correlation of each code with each read-off factor. The regressor's
  held-out :math:`R^2` on real images says how far to trust it.

On digits, with a 10-way categorical code, the codes are instead read back from *real* held-out
digits: Q's most likely category of each image of the held-out half, matched one-to-one to the
digit classes by the assignment that maximizes the agreement (the Hungarian algorithm,
:func:`scipy.optimize.linear_sum_assignment`; scipy comes with scikit-learn), gives the code
accuracy (:func:`matched_accuracy`), next to chance (1/10) and the majority-class rate. Chen et
al. report 5 % error on MNIST this way.

The figure has one row per categorical value (the continuous codes fixed at 0, noise varying
along the row) and one row per continuous code swept from -1 to 1 (the rest fixed).

Example:
    >>> import torch
    >>> from mibounds.experiments.infogan import factor_features
    >>> from mibounds.representation.dsprites import render, sample_factors
    >>> images = render(sample_factors(3, torch.Generator().manual_seed(0)), 32)
    >>> tuple(factor_features(images).shape)  # normalized pixels and the square root of the mass
    (3, 1025)

Reference:
    Chen et al. (2016). InfoGAN. NIPS. arXiv:1606.03657.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mibounds._progress import progress_steps
from mibounds.experiments.digits import DigitsSplit, split_digits
from mibounds.experiments.figures import require_matplotlib, write_figure
from mibounds.representation.digits import require_sklearn
from mibounds.representation.dsprites import factor_values, render, sample_factors
from mibounds.representation.infogan import InfoGAN, InfoGANCodes, InfoGANSample

__all__ = [
    "DATASETS",
    "FACTORS",
    "InfoGANResult",
    "evaluate_mi",
    "factor_features",
    "matched_accuracy",
    "plot_samples",
    "run_infogan_experiment",
]

#: The data InfoGAN trains on.
DATASETS: tuple[str, ...] = ("dsprites", "digits")

#: The dSprites factors the continuous codes are compared with (columns of factor_values).
FACTORS: dict[str, int] = {"pos_x": 3, "pos_y": 4, "scale": 1}


def factor_features(images: Tensor) -> Tensor:
    """``[N, S*S + 1]``: pixels divided by the image's mass, and the square root of the mass.

    The position of a sprite is the centroid of its pixels, a linear function of the normalized
    pixels; its scale grows like the square root of its area: a linear regressor on these
    features reads both.
    """
    flat = images.reshape(images.shape[0], -1).to(torch.float64)
    mass = flat.sum(1, keepdim=True).clamp(min=1e-6)
    return torch.cat([flat / mass, mass.sqrt() / images.shape[-1]], dim=1)


def matched_accuracy(codes: Tensor, labels: Tensor, num_codes: int, num_classes: int) -> float:
    """Accuracy of ``codes [N]`` as predictions of ``labels [N]`` under the best one-to-one matching.

    The matching of code values to classes maximizes the number of agreements (the Hungarian
    algorithm on the ``[num_codes, num_classes]`` contingency table); code values left unmatched
    (more codes than classes) count as errors.

    Example:
        >>> import torch
        >>> matched_accuracy(torch.tensor([2, 2, 0, 1]), torch.tensor([0, 0, 1, 1]), 3, 2)
        0.75
    """
    require_sklearn("the code accuracy (scipy's linear_sum_assignment)")
    from scipy.optimize import linear_sum_assignment

    table = torch.zeros(num_codes, num_classes, dtype=torch.long)
    table.index_put_(
        (codes.long().cpu(), labels.long().cpu()), torch.ones(len(codes), dtype=torch.long), accumulate=True
    )
    rows, cols = linear_sum_assignment(table.numpy(), maximize=True)
    return float(table[rows, cols].sum()) / len(codes)


@dataclass(frozen=True)
class MIReport:
    """The held-out Barber–Agakov bounds of one model (nats) and their standard errors."""

    categorical: float
    categorical_se: float
    continuous: float
    continuous_se: float


@torch.no_grad()
def evaluate_mi(model: InfoGAN, num_samples: int, seed: int) -> MIReport:
    """Both bounds on ``num_samples`` fresh generated samples (in eval mode, batches of 1,024)."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    cat_terms, cont_terms = [], []
    for start in range(0, num_samples, 1024):
        sample = model.codes.sample(min(1024, num_samples - start), g)
        _, q = model.discriminate(model.generate(sample))
        cat_terms.append(-torch.nn.functional.cross_entropy(q.logits, sample.categorical, reduction="none"))
        if model.codes.num_continuous:
            cont_terms.append(q.continuous.log_prob(sample.continuous))
    model.train(was_training)
    cat = torch.cat(cat_terms).double()
    cont = torch.cat(cont_terms).double() if cont_terms else torch.zeros(1, dtype=torch.float64)
    root = math.sqrt(num_samples)
    return MIReport(
        categorical=float(cat.mean()) + model.codes.entropy_categorical,
        categorical_se=float(cat.std() / root),
        continuous=float(cont.mean()) + model.codes.entropy_continuous,
        continuous_se=float(cont.std() / root) if cont_terms else 0.0,
    )


@dataclass
class InfoGANResult:
    """What :func:`run_infogan_experiment` returns.

    Attributes:
        trained: Held-out bounds of the trained model.
        initial: The same for the model at initialization.
        categorical_ceiling: :math:`\\log K` (nats).
        continuous_entropy: :math:`m \\log 2` (nats).
        code_factor_correlation: ``{code name: {factor name: Pearson correlation}}`` of each
            continuous code with each factor read off the generated images.
        regressor_r2: Held-out R^2 of the factor regressor on real images, per factor.
        history: Per logged step: ``step``, ``d_loss``, ``g_loss``, ``mi_categorical``,
            ``mi_continuous`` (training batch bounds, nats).
        figure_path: Where the figure was written, or None.
        seconds: Training wall time.
        model: The trained model.
        code_accuracy: On digits, the matched accuracy of Q's category on held-out real digits
            (:func:`matched_accuracy`); None on dSprites.
        initial_code_accuracy: The same for the model at initialization.
        majority_rate: On digits, the share of the most frequent class in the held-out half.
    """

    trained: MIReport
    initial: MIReport
    categorical_ceiling: float
    continuous_entropy: float
    code_factor_correlation: dict[str, dict[str, float]]
    regressor_r2: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    figure_path: Path | None = None
    seconds: float = 0.0
    model: InfoGAN | None = None
    code_accuracy: float | None = None
    initial_code_accuracy: float | None = None
    majority_rate: float | None = None


def _fit_factor_regressor(image_size: int, num_images: int, seed: int) -> tuple[object, dict[str, float]]:
    """Ridge from :func:`factor_features` of real images to (pos_x, pos_y, scale), and its held-out R^2."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    indices = sample_factors(num_images, torch.Generator().manual_seed(seed))
    features = factor_features(render(indices, image_size)).numpy()
    targets = factor_values(indices, dtype=torch.float64)[:, list(FACTORS.values())].numpy()
    half = num_images // 2
    regressor = Ridge(alpha=1e-3).fit(features[:half], targets[:half])
    predicted = regressor.predict(features[half:])
    r2 = {name: float(r2_score(targets[half:, i], predicted[:, i])) for i, name in enumerate(FACTORS)}
    return regressor, r2


@torch.no_grad()
def _code_factor_correlation(
    model: InfoGAN, regressor: object, num_samples: int, seed: int
) -> dict[str, dict[str, float]]:
    model.eval()
    sample = model.codes.sample(num_samples, torch.Generator().manual_seed(seed))
    factors = torch.as_tensor(regressor.predict(factor_features(model.generate(sample)).numpy()))  # type: ignore[attr-defined]
    model.train()
    table: dict[str, dict[str, float]] = {}
    for k in range(model.codes.num_continuous):
        code = sample.continuous[:, k].double()
        table[f"c{k + 1}"] = {
            name: float(torch.corrcoef(torch.stack([code, factors[:, i]]))[0, 1]) for i, name in enumerate(FACTORS)
        }
    return table


def run_infogan_experiment(
    num_steps: int = 1000,
    batch_size: int = 64,
    noise_dim: int = 16,
    num_categories: int = 3,
    num_continuous: int = 2,
    image_size: int | None = None,
    channels: Sequence[int] = (32, 16),
    hidden_dim: int = 128,
    continuous_weight: float = 0.5,
    learning_rate: float = 5e-4,
    num_eval: int = 4096,
    seed: int = 0,
    figure_path: str | Path | None = None,
    progress: bool = False,
    data: str = "dsprites",
) -> InfoGANResult:
    """Train InfoGAN on procedural dSprites and evaluate its codes on held-out generated samples.

    Each step draws ``batch_size`` real images (fresh factors) and as many generator inputs,
    takes one Adam step of D and Q on :meth:`InfoGAN.discriminator_loss` and one of G on
    :meth:`InfoGAN.generator_loss` (betas 0.5, 0.999, as DCGAN). See the module docstring for the
    evaluation.

    Args:
        num_steps: Steps of each player.
        batch_size: Real images and generated samples per step.
        noise_dim: Size of the noise z.
        num_categories: K of the categorical code.
        num_continuous: Number of continuous codes.
        image_size: Side of the rendered images (default 32; digits are 8x8, the only size allowed).
        channels: The generator's channels (see :class:`InfoGAN`).
        hidden_dim: Units of the discriminator's hidden layer.
        continuous_weight: Weight of the continuous bound in the losses.
        learning_rate: Adam's learning rate (both players).
        num_eval: Held-out generated samples for the bounds and the correlations.
        seed: Seeds the networks, the data and the evaluation samples.
        figure_path: Where to write the figure of samples (needs matplotlib), or None.
        progress: Show a tqdm bar when tqdm is installed.
        data: ``"dsprites"`` or ``"digits"`` (see the module docstring; on digits no factor
            regressor, the code accuracy instead).

    Returns:
        :class:`InfoGANResult`.
    """
    if data not in DATASETS:
        raise ValueError(f"data must be one of {', '.join(DATASETS)}, got {data!r}")
    if data == "digits" and image_size not in (None, 8):
        raise ValueError(f"the digits are 8x8 images; image_size must be 8 (or None), got {image_size}")
    image_size = image_size if image_size is not None else (8 if data == "digits" else 32)
    require_sklearn("the InfoGAN experiment's factor regressor and digits")
    if figure_path is not None:
        require_matplotlib()
    torch.manual_seed(seed)
    data_rng, code_rng = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    codes = InfoGANCodes(noise_dim, num_categories, num_continuous)
    model = InfoGAN(codes, image_size, channels, hidden_dim, continuous_weight)
    eval_seed = seed + 10_000  # evaluation samples never overlap the training draws
    initial = evaluate_mi(model, num_eval, eval_seed)
    split = split_digits(seed) if data == "digits" else None
    initial_code_accuracy = _digits_code_accuracy(model, split) if split is not None else None
    betas = (0.5, 0.999)
    d_optimizer = torch.optim.Adam(model.discriminator_parameters(), lr=learning_rate, betas=betas)
    g_optimizer = torch.optim.Adam(model.generator.parameters(), lr=learning_rate, betas=betas)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for step in progress_steps(num_steps, progress, "InfoGAN"):
        if split is None:
            real = render(sample_factors(batch_size, data_rng), image_size)
        else:
            rows = split.train_idx[torch.randint(len(split.train_idx), (batch_size,), generator=data_rng).numpy()]
            real = split.images[rows][:, None]
        sample = codes.sample(batch_size, code_rng)
        d_loss, _ = model.discriminator_loss(real, sample)
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()
        g_loss, mi = model.generator_loss(sample)
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        if step % 100 == 0 or step == num_steps - 1:
            history.append(
                {
                    "step": float(step),
                    "d_loss": float(d_loss.detach()),
                    "g_loss": float(g_loss.detach()),
                    "mi_categorical": float(mi.categorical),
                    "mi_continuous": float(mi.continuous),
                }
            )
    seconds = time.perf_counter() - start
    trained = evaluate_mi(model, num_eval, eval_seed)
    correlation: dict[str, dict[str, float]] = {}
    r2: dict[str, float] = {}
    if split is None:
        regressor, r2 = _fit_factor_regressor(image_size, num_eval, seed + 20_000)
        correlation = _code_factor_correlation(model, regressor, num_eval, eval_seed + 1)
    title = f"InfoGAN on {'digits' if split is not None else 'procedural dSprites'}"
    written = plot_samples(model, figure_path, seed=seed, title=title) if figure_path is not None else None
    return InfoGANResult(
        trained=trained,
        initial=initial,
        categorical_ceiling=codes.entropy_categorical,
        continuous_entropy=codes.entropy_continuous,
        code_factor_correlation=correlation,
        regressor_r2=r2,
        history=history,
        figure_path=written,
        seconds=seconds,
        model=model,
        code_accuracy=_digits_code_accuracy(model, split) if split is not None else None,
        initial_code_accuracy=initial_code_accuracy,
        majority_rate=float(split.labels[split.test_idx].bincount().max()) / len(split.test_idx)
        if split is not None
        else None,
    )


@torch.no_grad()
def _digits_code_accuracy(model: InfoGAN, split: DigitsSplit) -> float:
    """:func:`matched_accuracy` of Q's most likely category on the held-out real digits (eval mode)."""
    was_training = model.training
    model.eval()
    _, q = model.discriminate(split.images[split.test_idx][:, None])
    model.train(was_training)
    labels = split.labels[split.test_idx]
    return matched_accuracy(q.logits.argmax(1), labels, model.codes.num_categories, int(labels.max()) + 1)


@torch.no_grad()
def plot_samples(
    model: InfoGAN,
    path: str | Path,
    *,
    seed: int = 0,
    num_columns: int = 8,
    title: str = "InfoGAN on procedural dSprites",
) -> Path:
    """Grid of generated images: a row per categorical value, then a row per continuous code sweep.

    Categorical rows: the continuous codes at 0, a different noise in each column. Continuous
    rows: one noise and the first category, the code swept from -1 to 1 across the columns, the
    other continuous codes at 0.

    Raises:
        ImportError: If matplotlib (the ``plot`` extra) is missing.
    """
    require_matplotlib()
    was_training = model.training
    model.eval()
    codes = model.codes
    k, m = codes.num_categories, codes.num_continuous
    g = torch.Generator().manual_seed(seed + 3)
    noise = torch.randn(num_columns, codes.noise_dim, generator=g)
    rows: list[Tensor] = []
    for c in range(k):
        cat = torch.full((num_columns,), c, dtype=torch.long)
        rows.append(model.generate(InfoGANSample(noise, cat, torch.zeros(num_columns, m))))
    sweep = torch.linspace(-1, 1, num_columns)
    fixed = noise[:1].expand(num_columns, -1)
    for j in range(m):
        continuous = torch.zeros(num_columns, m)
        continuous[:, j] = sweep
        rows.append(model.generate(InfoGANSample(fixed, torch.zeros(num_columns, dtype=torch.long), continuous)))
    model.train(was_training)
    labels = [f"category {c}" for c in range(k)] + [f"c{j + 1}: -1 → 1" for j in range(m)]

    def draw(fig: Any) -> None:
        axes = fig.subplots(len(rows), num_columns, squeeze=False)
        for r, images in enumerate(rows):
            for c in range(num_columns):
                ax = axes[r][c]
                ax.imshow(images[c, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[r][0].set_ylabel(labels[r], rotation=0, ha="right", va="center", fontsize=8)
        fig.suptitle(f"{title}: rows per categorical value, then continuous sweeps")

    return write_figure(path, draw, (1.1 * num_columns + 1.2, 1.1 * len(rows)))
