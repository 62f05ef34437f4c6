r"""Two-view contrastive learning on scikit-learn's handwritten digits, with a linear probe.

Each 8x8 digit image (1,797 of them, :mod:`mibounds.representation.digits`) is augmented twice
(a shift of up to one pixel, a masked-out patch, pixel noise, an intensity change); an MLP encoder
and a projection head map both views to embeddings, and :class:`InfoNCELoss` trains them to
recognize which views come from the same image. The MI readout ``log K - loss`` lower-bounds the
information the two views' embeddings share, at most ``log K`` for a batch of K.

The representation (the encoder's output, before the projection head) is then scored by a
linear probe: logistic regression from the frozen representation to the digit label, fitted on
one half of the images and evaluated on the other, next to the same architecture at its random
initialization (and the raw pixels, for reference). Labels are used only by the probe.

Needs scikit-learn (the ``examples`` extra).

Example:
    >>> import numpy as np
    >>> from mibounds.experiments.digits import linear_probe_accuracy
    >>> labels = np.array([0, 1] * 20)
    >>> features = np.eye(2)[labels]
    >>> linear_probe_accuracy(features[:20], labels[:20], features[20:], labels[20:])
    1.0

Reference:
    Chen, Kornblith, Norouzi, Hinton (2020). A Simple Framework for Contrastive Learning of Visual
    Representations (SimCLR). ICML. arXiv:2002.05709.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from mibounds._progress import progress_steps
from mibounds.critics.mlp import mlp
from mibounds.representation.digits import augment_digits, load_digit_images, require_sklearn
from mibounds.representation.losses import InfoNCELoss
from mibounds.representation.readout import loss_with_readout

__all__ = [
    "DigitsResult",
    "DigitsSplit",
    "linear_probe_accuracy",
    "probe_encoder",
    "run_digits_experiment",
    "split_digits",
]


def linear_probe_accuracy(
    features_train: np.ndarray, labels_train: np.ndarray, features_test: np.ndarray, labels_test: np.ndarray
) -> float:
    """Test accuracy of a logistic regression on standardized features (scikit-learn).

    Raises:
        ImportError: If scikit-learn is missing.
    """
    require_sklearn("the linear probe")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(features_train, labels_train)
    return float(probe.score(features_test, labels_test))


@dataclass(frozen=True)
class DigitsSplit:
    """The digits split in half, stratified by label (what every digits experiment trains and probes on).

    Attributes:
        images: ``[1797, 8, 8]`` in [0, 1].
        labels: ``[1797]`` long.
        train_idx: Indices of the half the encoder trains on and the probe is fitted on.
        test_idx: Indices of the half the probe is scored on.
    """

    images: torch.Tensor
    labels: torch.Tensor
    train_idx: np.ndarray
    test_idx: np.ndarray


def split_digits(seed: int) -> DigitsSplit:
    """scikit-learn's digits, split in half stratified by label (fixed by ``seed``).

    Raises:
        ImportError: If scikit-learn is missing.
    """
    require_sklearn("the digits example")
    from sklearn.model_selection import train_test_split

    images, labels = load_digit_images()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.5, stratify=labels.numpy(), random_state=seed
    )
    return DigitsSplit(images, labels, train_idx, test_idx)


def probe_encoder(encode: Callable[[torch.Tensor], torch.Tensor] | None, split: DigitsSplit) -> float:
    """Linear-probe test accuracy of ``encode`` (images ``[N, 8, 8]`` to features ``[N, d]``) on ``split``.

    The probe is fitted on the training half's features and labels and scored on the test half;
    ``encode=None`` probes the raw pixels. ``encode`` runs without gradients.
    """

    def features(idx: np.ndarray) -> np.ndarray:
        images = split.images[idx]
        if encode is None:
            return images.flatten(1).numpy()
        with torch.no_grad():
            return encode(images).detach().cpu().numpy()

    labels = split.labels.numpy()
    train, test = split.train_idx, split.test_idx
    return linear_probe_accuracy(features(train), labels[train], features(test), labels[test])


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
    require_sklearn("the digits example")
    from sklearn.model_selection import train_test_split

    device = torch.device(device) if device is not None else torch.device("cpu")
    images, labels = load_digit_images()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.5, stratify=labels.numpy(), random_state=seed
    )
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
        result = loss_with_readout(loss_fn, head(encoder(view_a)), head(encoder(view_b)))
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

    tail = readouts[-max(1, num_steps // 10) :]
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
