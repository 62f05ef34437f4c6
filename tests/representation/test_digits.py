"""Digits data and augmentations (the experiment is tested in tests/experiments/test_digits.py)."""

from __future__ import annotations

import torch

from mibounds.representation.digits import augment_digits, load_digit_images


def test_load_digit_images() -> None:
    images, labels = load_digit_images()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_augmentations() -> None:
    images, _ = load_digit_images()
    batch = images[:64]
    g = torch.Generator().manual_seed(0)
    view = augment_digits(batch, g)
    assert view.shape == batch.shape and not torch.equal(view, batch)
    torch.testing.assert_close(augment_digits(batch, torch.Generator().manual_seed(0)), view)  # seeded
    # Intensity only: each image scaled by one factor in [0.7, 1.3].
    scaled = augment_digits(batch, g, max_shift=0, mask_size=0, noise_std=0.0)
    ratio = scaled.flatten(1).sum(1) / batch.flatten(1).sum(1)
    assert bool(((ratio >= 0.7) & (ratio <= 1.3)).all())
    torch.testing.assert_close(scaled, batch * ratio[:, None, None])
    # Shift only (scale divided out): every view is the image moved by at most one pixel.
    one = torch.zeros(1, 8, 8)
    one[0, 4, 4] = 1.0
    moved = augment_digits(one.repeat(200, 1, 1), g, mask_size=0, noise_std=0.0)
    positions = {tuple(m.nonzero()[0].tolist()) for m in moved}
    assert positions == {(4 + dy, 4 + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    # Mask only: a 3x3 patch of a full image is zeroed.
    masked = augment_digits(torch.ones(10, 8, 8), g, max_shift=0, noise_std=0.0)
    zeros = (masked == 0).flatten(1).sum(1)
    assert bool((zeros == 9).all())
