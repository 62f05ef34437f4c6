"""Procedural dSprites: factor layout, rendering against a direct reference, neighbours."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds.representation.dsprites import (
    FACTOR_SIZES,
    DSprites,
    factor_values,
    neighbours,
    render,
    sample_factors,
)


def reference_render(indices: torch.Tensor, size: int = 64) -> torch.Tensor:
    """Every pixel of the full image tested one shape at a time (no window), written independently."""
    values = factor_values(indices, dtype=torch.float64)
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    images = []
    for shape, scale, angle, px, py in values.tolist():
        cx, cy = 0.2 + 0.6 * px, 0.2 + 0.6 * py
        du, dv = centres[None, :] - cx, centres[:, None] - cy
        r = 0.16 * scale
        a = (math.cos(angle) * du + math.sin(angle) * dv) / r
        b = (-math.sin(angle) * du + math.cos(angle) * dv) / r
        if shape == 0:
            inside = (a.abs() <= 0.8) & (b.abs() <= 0.8)
        elif shape == 1:
            inside = a**2 + (b / 0.5) ** 2 <= 1
        else:
            u, v = 1.15 * a, 0.15 - 1.15 * b
            inside = (u**2 + v**2 - 1) ** 3 <= u**2 * v**3
        images.append(inside.double())
    return torch.stack(images)[:, None]


def test_rendering_matches_the_full_image_reference() -> None:
    g = torch.Generator().manual_seed(0)
    indices = sample_factors(200, g)
    # Extremes too: largest sprites in the corners, every orientation step of a heart.
    corners = torch.tensor([[s, 5, o, x, y] for s in range(3) for o in (0, 5, 13) for x in (0, 31) for y in (0, 31)])
    indices = torch.cat([indices, corners])
    got, want = render(indices, dtype=torch.float64), reference_render(indices)
    # Pixels whose centre lies within rounding of the boundary may differ (float32 vs float64).
    assert (got != want).sum() <= 1e-4 * want.numel()
    assert set(got.unique().tolist()) <= {0.0, 1.0}
    assert bool((got.flatten(1).sum(1) > 10).all())  # every sprite is visible


def test_factor_layout_and_values() -> None:
    data = DSprites()
    assert len(data) == 3 * 6 * 40 * 32 * 32 == 737_280
    last = data.factors(len(data) - 1)
    assert last.tolist() == [s - 1 for s in FACTOR_SIZES]
    assert data.factors(1).tolist() == [0, 0, 0, 0, 1]  # pos_y varies fastest
    assert data.factors(32).tolist() == [0, 0, 0, 1, 0]
    image, factors = data[123_456]
    torch.testing.assert_close(image, render(factors[None])[0])
    with pytest.raises(IndexError):
        data.factors(len(data))
    values = factor_values(torch.tensor([[2, 5, 10, 31, 0]]))
    torch.testing.assert_close(values, torch.tensor([[2.0, 1.0, math.pi / 2, 1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"\[0, size\)"):
        render(torch.tensor([[3, 0, 0, 0, 0]]))


def test_factors_change_the_image_as_expected() -> None:
    base = torch.tensor([[0, 2, 0, 10, 10]])
    moved = base.clone()
    moved[0, 3] += 10  # to the right
    a, b = render(base)[0, 0], render(moved)[0, 0]
    assert abs(a.sum() - b.sum()) <= 0.15 * a.sum()  # same sprite, moved (sub-pixel rasterization)
    assert b.nonzero()[:, 1].float().mean() > a.nonzero()[:, 1].float().mean() + 10
    bigger = base.clone()
    bigger[0, 1] = 5
    assert render(bigger).sum() > 1.6 * render(base).sum()  # area grows like scale^2: (1 / 0.7)^2 = 2.04
    quarter = base.clone()
    quarter[0, 2] = 10  # a square turned by 90 degrees is the same square
    torch.testing.assert_close(render(quarter), render(base))


def test_neighbours_move_one_continuous_factor_by_one_step() -> None:
    g = torch.Generator().manual_seed(1)
    indices = sample_factors(2000, g)
    indices[:50, 1:] = 0  # at the lower ends
    moved = neighbours(indices, g)
    changed = moved != indices
    assert bool((changed.sum(1) == 1).all()) and not bool(changed[:, 0].any())
    column = changed.int().argmax(1)
    delta = (moved - indices).gather(1, column[:, None]).squeeze(1)
    is_orientation = column == 2
    assert bool((delta[~is_orientation].abs() == 1).all())
    assert bool(torch.isin(delta[is_orientation] % 40, torch.tensor([1, 39])).all())  # wraps around
    assert bool(((moved >= 0) & (moved < torch.tensor(FACTOR_SIZES))).all())
