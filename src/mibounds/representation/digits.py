"""scikit-learn's handwritten digits as tensors, and the two-view augmentation of them.

:func:`load_digit_images` gives the 1,797 8x8 images (shipped with scikit-learn; no download)
and :func:`augment_digits` a random view of each (a shift of up to one pixel, a masked-out patch,
pixel noise, an intensity change). The two-view contrastive experiment on them is
:mod:`mibounds.experiments.digits`.

Needs scikit-learn (the ``examples`` extra).

Example:
    >>> import torch
    >>> from mibounds.representation.digits import augment_digits
    >>> views = augment_digits(torch.zeros(3, 8, 8), torch.Generator().manual_seed(0))
    >>> tuple(views.shape)
    (3, 8, 8)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["augment_digits", "load_digit_images", "require_sklearn"]


def require_sklearn(feature: str) -> None:
    """Raise an ImportError naming ``feature`` and the extra to install if scikit-learn is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{feature} needs scikit-learn: pip install 'mibounds[examples]'") from error


def load_digit_images(dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """scikit-learn's digits as ``images [1797, 8, 8]`` in [0, 1] and ``labels [1797]``.

    Raises:
        ImportError: If scikit-learn (the ``examples`` extra) is missing.
    """
    require_sklearn("the digits example")
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=dtype) / 16.0  # pixel counts 0..16
    return images, torch.as_tensor(digits.target, dtype=torch.long)


def augment_digits(
    images: Tensor,
    generator: torch.Generator | None = None,
    *,
    max_shift: int = 1,
    mask_size: int = 3,
    noise_std: float = 0.1,
) -> Tensor:
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
