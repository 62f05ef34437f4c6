r"""Procedural game-like scenes: a few sprites moving with their own velocities, bouncing off the walls.

A small stand-in for Atari frames with a known state: each episode starts ``num_sprites`` sprites at
random positions with random velocities; every step moves each sprite by its velocity and
reflects it off the walls; every frame is rendered as a ``[1, S, S]`` image. Sprite k is a
filled square of side ``sprite_sizes[k]`` pixels and intensity ``(k + 1) / num_sprites`` (so
sprites are told apart by size and brightness; where they overlap the brighter one shows). The
state variables are the positions (and velocities) of every sprite, the quantities a linear probe
reads from a representation in Anand et al.'s benchmark.

Positions are in pixel units of the sprite's top-left corner, in ``[0, S - size]``; the state
variables of :attr:`SceneEpisodes.state` are scaled to [0, 1].

Example:
    >>> import torch
    >>> from mibounds.representation.scenes import SpriteScenes
    >>> episodes = SpriteScenes().sample(2, 5, torch.Generator().manual_seed(0))
    >>> tuple(episodes.frames.shape), tuple(episodes.state.shape), len(episodes.state_names)
    ((2, 5, 1, 32, 32), (2, 5, 6), 6)

Reference:
    Anand, Racah, Ozair, Bengio, Côté, Hjelm (2019). Unsupervised State Representation Learning
    in Atari. NeurIPS. arXiv:1906.08226.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mibounds.validation import check_int

__all__ = ["SceneEpisodes", "SpriteScenes"]


@dataclass(frozen=True)
class SceneEpisodes:
    """A batch of episodes and their true states.

    Attributes:
        frames: ``[N, T, 1, S, S]`` images in [0, 1].
        positions: ``[N, T, num_sprites, 2]`` (x, y) of each sprite's top-left corner, pixels.
        velocities: ``[N, T, num_sprites, 2]`` the velocity each sprite moves with from frame t
            (after any bounce at t), pixels per step.
        state: ``[N, T, 2 * num_sprites]`` the positions scaled to [0, 1]: the probed variables.
        state_names: ``("sprite0_x", "sprite0_y", "sprite1_x", ...)``, the columns of ``state``.
    """

    frames: Tensor
    positions: Tensor
    velocities: Tensor
    state: Tensor
    state_names: tuple[str, ...]


class SpriteScenes:
    """Episodes of sprites bouncing in a box, rendered as small grayscale frames.

    Args:
        num_sprites: Number of sprites (1 to 8).
        image_size: Side S of the frames.
        sprite_sizes: Side of each sprite in pixels (default 3, 4, 5, ... one per sprite).
        max_speed: Largest velocity component, pixels per step.
        min_speed: Smallest absolute velocity component (every sprite keeps moving on both axes).

    Example:
        >>> scenes = SpriteScenes(num_sprites=2, image_size=16, sprite_sizes=(2, 3))
        >>> episodes = scenes.sample(1, 30, torch.Generator().manual_seed(1))
        >>> bool(episodes.positions.min() >= 0), bool(episodes.positions[..., 0, :].max() <= 14)
        (True, True)
    """

    def __init__(
        self,
        num_sprites: int = 3,
        image_size: int = 32,
        sprite_sizes: Sequence[int] | None = None,
        max_speed: float = 2.5,
        min_speed: float = 0.5,
    ) -> None:
        self.num_sprites = check_int(num_sprites, "num_sprites", minimum=1)
        if self.num_sprites > 8:
            raise ValueError(f"num_sprites must be at most 8 (distinct brightness levels), got {num_sprites}")
        self.image_size = check_int(image_size, "image_size", minimum=8)
        sizes = tuple(range(3, 3 + self.num_sprites)) if sprite_sizes is None else tuple(int(s) for s in sprite_sizes)
        if len(sizes) != self.num_sprites or min(sizes) < 1 or max(sizes) >= self.image_size:
            raise ValueError(
                f"sprite_sizes must give one size in [1, image_size) per sprite ({self.num_sprites}), got {sizes}"
            )
        if not 0 <= min_speed <= max_speed:
            raise ValueError(f"need 0 <= min_speed <= max_speed, got min_speed={min_speed}, max_speed={max_speed}")
        self.sprite_sizes, self.max_speed, self.min_speed = sizes, float(max_speed), float(min_speed)

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the state variables: each sprite's x and y."""
        return tuple(f"sprite{k}_{axis}" for k in range(self.num_sprites) for axis in ("x", "y"))

    def sample(self, num_episodes: int, length: int, generator: torch.Generator | None = None) -> SceneEpisodes:
        """``num_episodes`` episodes of ``length`` frames each."""
        num_episodes = check_int(num_episodes, "num_episodes", minimum=1)
        length = check_int(length, "length", minimum=1)
        n, k = num_episodes, self.num_sprites
        limit = torch.tensor([self.image_size - s for s in self.sprite_sizes], dtype=torch.float32)[:, None]  # [k, 1]
        position = torch.rand(n, k, 2, generator=generator) * limit
        speed = self.min_speed + (self.max_speed - self.min_speed) * torch.rand(n, k, 2, generator=generator)
        sign = 2 * torch.randint(2, (n, k, 2), generator=generator) - 1
        velocity = speed * sign
        positions, velocities = [], []
        for _ in range(length):
            positions.append(position)
            velocities.append(velocity)
            moved = position + velocity
            # Reflect off the walls: a sprite past an edge comes back by as much as it overshot.
            below, above = moved < 0, moved > limit
            moved = torch.where(below, -moved, torch.where(above, 2 * limit - moved, moved))
            velocity = torch.where(below | above, -velocity, velocity)
            position = moved.clamp(min=torch.zeros_like(limit), max=limit)
        pos, vel = torch.stack(positions, dim=1), torch.stack(velocities, dim=1)  # [n, T, k, 2]
        frames = self.render(pos.reshape(n * length, k, 2)).reshape(n, length, 1, self.image_size, self.image_size)
        state = (pos / limit).reshape(n, length, 2 * k)
        return SceneEpisodes(frames, pos, vel, state, self.state_names)

    def render(self, positions: Tensor) -> Tensor:
        """Frames ``[M, 1, S, S]`` of sprites at ``positions [M, num_sprites, 2]`` (pixels, x then y)."""
        if positions.dim() != 3 or tuple(positions.shape[1:]) != (self.num_sprites, 2):
            raise ValueError(f"positions must be [M, {self.num_sprites}, 2], got {tuple(positions.shape)}")
        pixels = torch.arange(self.image_size, dtype=positions.dtype, device=positions.device) + 0.5
        corner = positions.round()
        frame = positions.new_zeros(positions.shape[0], self.image_size, self.image_size)
        for k, size in enumerate(self.sprite_sizes):
            x0, y0 = corner[:, k, 0, None], corner[:, k, 1, None]
            inside_x = (pixels >= x0) & (pixels < x0 + size)  # [M, S]
            inside_y = (pixels >= y0) & (pixels < y0 + size)
            sprite = (inside_y[:, :, None] & inside_x[:, None, :]).to(frame.dtype) * (k + 1) / self.num_sprites
            frame = torch.maximum(frame, sprite)
        return frame[:, None]

    def __repr__(self) -> str:
        return (
            f"SpriteScenes(num_sprites={self.num_sprites}, image_size={self.image_size}, "
            f"sprite_sizes={self.sprite_sizes}, max_speed={self.max_speed}, min_speed={self.min_speed})"
        )
