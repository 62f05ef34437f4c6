r"""Procedural dSprites: 64x64 binary images of one sprite rendered from five factors.

dSprites-style images of one white sprite, rendered on the fly from five factors (no download,
nothing stored):

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
The decoder-free representation experiment of Poole et al. (2019), §5, that trains on them is
:mod:`mibounds.experiments.dsprites`.

Example:
    >>> import torch
    >>> from mibounds.representation.dsprites import render, sample_factors
    >>> images = render(sample_factors(4, torch.Generator().manual_seed(0)))
    >>> tuple(images.shape)
    (4, 1, 64, 64)

Reference:
    Matthey, Higgins, Hassabis, Lerchner (2017). dSprites: Disentanglement testing Sprites
    dataset. https://github.com/deepmind/dsprites-dataset
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "IMAGE_SIZE",
    "SHAPES",
    "DSprites",
    "factor_values",
    "neighbours",
    "render",
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
        raise ValueError(
            f"factor indices must be [N, 5] (shape, scale, orientation, pos_x, pos_y), got {tuple(indices.shape)}"
        )
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
    return torch.stack(
        [indices[:, 0], scale, orientation, indices[:, 3] / (sizes[3] - 1), indices[:, 4] / (sizes[4] - 1)], dim=1
    )


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


def sample_factors(
    n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
) -> Tensor:
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
