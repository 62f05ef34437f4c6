"""Procedural sprite scenes: motion with bounces, rendering, the state variables."""

from __future__ import annotations

import pytest
import torch

from mibounds.representation.scenes import SpriteScenes


def test_motion_is_constant_velocity_with_reflections() -> None:
    scenes = SpriteScenes(num_sprites=3, image_size=24)
    episodes = scenes.sample(16, 40, torch.Generator().manual_seed(0))
    pos, vel = episodes.positions, episodes.velocities
    limit = torch.tensor([24.0 - s for s in scenes.sprite_sizes])[:, None]
    assert bool((pos >= 0).all()) and bool((pos <= limit).all())
    moved = pos[:, :-1] + vel[:, :-1]
    bounced = (moved < 0) | (moved > limit)
    # Away from the walls a sprite moves by its velocity, which stays the same.
    torch.testing.assert_close(pos[:, 1:][~bounced], moved[~bounced])
    torch.testing.assert_close(vel[:, 1:][~bounced], vel[:, :-1][~bounced])
    # At a wall the velocity flips and the overshoot is reflected.
    torch.testing.assert_close(vel[:, 1:][bounced], -vel[:, :-1][bounced])
    reflected = torch.where(moved < 0, -moved, 2 * limit - moved)
    torch.testing.assert_close(pos[:, 1:][bounced], reflected[bounced])
    assert int(bounced.sum()) > 0  # 40 steps at 0.5 to 2.5 pixels per step meet the walls
    speed = vel.abs()
    assert float(speed.min()) >= 0.5 and float(speed.max()) <= 2.5


def test_rendering_and_state() -> None:
    scenes = SpriteScenes(num_sprites=2, image_size=16, sprite_sizes=(2, 3))
    positions = torch.tensor([[[1.2, 2.0], [10.0, 11.4]]])
    frame = scenes.render(positions)[0, 0]
    assert frame.shape == (16, 16)
    # Sprite 0: a 2x2 square of intensity 1/2 at x = 1, y = 2 (row 2); sprite 1: 3x3 of 1 at x = 10, y = 11.
    assert torch.equal(frame[2:4, 1:3], torch.full((2, 2), 0.5)) and float(frame.sum()) == pytest.approx(2 + 9)
    assert torch.equal(frame[11:14, 10:13], torch.ones(3, 3))
    episodes = scenes.sample(3, 5, torch.Generator().manual_seed(1))
    assert episodes.state_names == ("sprite0_x", "sprite0_y", "sprite1_x", "sprite1_y")
    assert bool((episodes.state >= 0).all()) and bool((episodes.state <= 1).all())
    torch.testing.assert_close(episodes.state[..., 2], episodes.positions[..., 1, 0] / 13)
    # Each frame draws its episode's positions.
    torch.testing.assert_close(episodes.frames[1, 3], scenes.render(episodes.positions[1, 3][None])[0])


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="sprite_sizes"):
        SpriteScenes(num_sprites=2, sprite_sizes=(3,))
    with pytest.raises(ValueError, match="at most 8"):
        SpriteScenes(num_sprites=9)
    with pytest.raises(ValueError, match="min_speed"):
        SpriteScenes(min_speed=3.0, max_speed=1.0)
    with pytest.raises(ValueError, match="positions must be"):
        SpriteScenes().render(torch.zeros(2, 2, 2))
