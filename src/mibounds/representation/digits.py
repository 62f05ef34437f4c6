r"""Two-view contrastive learning on scikit-learn's handwritten digits, with a linear probe.

Each 8x8 digit image (1,797 of them, shipped with scikit-learn; no download) is augmented twice
(a shift of up to one pixel, a masked-out patch, pixel noise, an intensity change); an MLP encoder
and a projection head map both views to embeddings, and :class:`InfoNCELoss` trains them to
recognize which views come from the same image. The MI readout ``log K - loss`` lower-bounds the
information the two views' embeddings share, at most ``log K`` for a batch of K.

The representation (the encoder's output, before the projection head) is then scored by a
linear probe: logistic regression from the frozen representation to the digit label, fitted on
one half of the images and evaluated on the other, next to the same architecture at its random
initialization (and the raw pixels, for reference). Labels are used only by the probe.

Needs scikit-learn (the ``examples`` extra).

Reference:
    Chen, Kornblith, Norouzi, Hinton (2020). A Simple Framework for Contrastive Learning of Visual
    Representations (SimCLR). ICML. arXiv:2002.05709.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds.critics.mlp import mlp
from mibounds._progress import progress_steps
from mibounds.representation.losses import InfoNCELoss

__all__ = ["DigitsResult", "augment_digits", "linear_probe_accuracy", "load_digit_images", "run_digits_experiment"]


def _require_sklearn(feature: str) -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{feature} needs scikit-learn: pip install 'mibounds[examples]'") from error


def load_digit_images(dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """scikit-learn's digits as ``images [1797, 8, 8]`` in [0, 1] and ``labels [1797]``.

    Raises:
        ImportError: If scikit-learn (the ``examples`` extra) is missing.
    """
    _require_sklearn("the digits example")
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=dtype) / 16.0  # pixel counts 0..16
    return images, torch.as_tensor(digits.target, dtype=torch.long)


def augment_digits(images: Tensor, generator: torch.Generator | None = None, *, max_shift: int = 1,
                   mask_size: int = 3, noise_std: float = 0.1) -> Tensor:
    """A random view of each image ``[B, 8, 8]``: shift, masked patch, intensity change, noise.

    - shift: by up to ``max_shift`` pixels in each direction (zero padding, then a random crop);
    - mask: a ``mask_size`` x ``mask_size`` patch at a random place is set to 0;
    - intensity: multiplied by a factor drawn uniformly in [0.7, 1.3];
    - noise: Gaussian with standard deviation ``noise_std``.

    Args:
        images: ``[B, H, W]`` in [0, 1].
        generator: Random source.
        max_shift: Largest shift in pixels.
        mask_size: Side of the masked patch (0: no mask).
        noise_std: Pixel noise.

    Returns:
        ``[B, H, W]`` tensor.
    """
    b, h, w = images.shape
    device, dtype = images.device, images.dtype

    def randint(high: int, *shape: int) -> Tensor:
        return torch.randint(high, shape, generator=generator).to(device)

    rows, cols = torch.arange(h, device=device), torch.arange(w, device=device)
    padded = F.pad(images, (max_shift,) * 4)
    dy, dx = randint(2 * max_shift + 1, b), randint(2 * max_shift + 1, b)
    batch = torch.arange(b, device=device)[:, None, None]
    out = padded[batch, (dy[:, None] + rows)[:, :, None], (dx[:, None] + cols)[:, None, :]]
    if mask_size > 0:
        top, left = randint(h - mask_size + 1, b), randint(w - mask_size + 1, b)
        in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + mask_size)
        in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + mask_size)
        out = out.masked_fill(in_rows[:, :, None] & in_cols[:, None, :], 0.0)
    scale = 0.7 + 0.6 * torch.rand(b, 1, 1, generator=generator, dtype=dtype).to(device)
    noise = noise_std * torch.randn(out.shape, generator=generator, dtype=dtype).to(device)
    return out * scale + noise


def linear_probe_accuracy(features_train: np.ndarray, labels_train: np.ndarray, features_test: np.ndarray,
                          labels_test: np.ndarray) -> float:
    """Test accuracy of a logistic regression on standardized features (scikit-learn).

    Raises:
        ImportError: If scikit-learn is missing.
    """
    _require_sklearn("the linear probe")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(features_train, labels_train)
    return float(probe.score(features_test, labels_test))


@dataclass
class DigitsResult:
    """What :func:`run_digits_experiment` returns.

    Attributes:
        learned_accuracy: Linear-probe test accuracy of the trained encoder.
        random_accuracy: The same for the encoder at its random initialization.
        pixel_accuracy: The same on the raw pixels (reference).
        final_mi: InfoNCE readout (nats) averaged over the last 10 % of the steps.
        ceiling: ``log K`` of that readout.
        history: ``(step, mi)`` pairs logged during training.
        seconds: Training wall time.
        encoder: The trained encoder (``[N, 64]`` pixels to ``[N, representation_dim]``).
    """

    learned_accuracy: float
    random_accuracy: float
    pixel_accuracy: float
    final_mi: float
    ceiling: float
    history: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    encoder: nn.Module | None = None


def run_digits_experiment(
    num_steps: int = 2000,
    batch_size: int = 256,
    representation_dim: int = 16,
    hidden_dim: int = 256,
    embed_dim: int = 32,
    temperature: float = 0.1,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> DigitsResult:
    """Train a two-view InfoNCE encoder on the digits and compare linear probes.

    The images are split in half (stratified by label, fixed by ``seed``); the encoder trains on
    the unlabelled first half, the probe fits on the first half's representations and labels and
    reports accuracy on the second half.

    Args:
        num_steps: Optimizer steps.
        batch_size: Images per step (two views each).
        representation_dim: Size of the probed representation.
        hidden_dim: Units of the encoder's two hidden layers.
        embed_dim: Output of the projection head (what the loss sees).
        temperature: InfoNCE temperature (cosine similarity).
        learning_rate: Adam's learning rate.
        seed: Seeds the split, the networks and the augmentations.
        device: Torch device (default CPU).
        progress: Show a tqdm bar when tqdm is installed.

    Returns:
        :class:`DigitsResult`.
    """
    _require_sklearn("the digits example")
    from sklearn.model_selection import train_test_split

    device = torch.device(device) if device is not None else torch.device("cpu")
    images, labels = load_digit_images()
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels.numpy(),
                                           random_state=seed)
    train_images = images[train_idx].to(device)
    torch.manual_seed(seed)
    encoder = mlp(64, hidden_dim, representation_dim, num_layers=2).to(device)
    head = nn.Sequential(nn.ReLU(), nn.Linear(representation_dim, embed_dim)).to(device)
    initial = copy.deepcopy(encoder)
    loss_fn = InfoNCELoss(temperature=temperature, symmetric=True).to(device)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=learning_rate)
    g = torch.Generator().manual_seed(seed)
    history: list[tuple[int, float]] = []
    readouts: list[float] = []
    start = time.perf_counter()
    for step in progress_steps(num_steps, progress, "digits"):
        batch = train_images[torch.randint(len(train_images), (batch_size,), generator=g).to(device)]
        view_a = augment_digits(batch, g).flatten(1)
        view_b = augment_digits(batch, g).flatten(1)
        result = loss_fn(head(encoder(view_a)), head(encoder(view_b)))
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        readouts.append(float(result.mi))
        if step % 100 == 0 or step == num_steps - 1:
            history.append((step, float(result.mi)))
    seconds = time.perf_counter() - start

    def features(net: nn.Module | None, idx: np.ndarray) -> np.ndarray:
        flat = images[idx].flatten(1).to(device)
        if net is None:
            return flat.cpu().numpy()
        with torch.no_grad():
            return net(flat).cpu().numpy()

    y_train, y_test = labels[train_idx].numpy(), labels[test_idx].numpy()

    def probe(net: nn.Module | None) -> float:
        return linear_probe_accuracy(features(net, train_idx), y_train, features(net, test_idx), y_test)

    tail = readouts[-max(1, num_steps // 10):]
    return DigitsResult(
        learned_accuracy=probe(encoder),
        random_accuracy=probe(initial),
        pixel_accuracy=probe(None),
        final_mi=float(np.mean(tail)),
        ceiling=float(np.log(batch_size)),
        history=history,
        seconds=seconds,
        encoder=encoder,
    )
