"""Learned critics by name, for configuration files and the command line."""

from __future__ import annotations

from typing import Any

from torch import nn

from mibounds import validation
from mibounds.critics.bilinear import BilinearCritic
from mibounds.critics.concat import ConcatCritic
from mibounds.critics.mixture import MixtureCritic
from mibounds.critics.separable import SeparableCritic

__all__ = ["make", "names"]

_CRITICS: dict[str, type[nn.Module]] = {
    "bilinear": BilinearCritic,
    "concat": ConcatCritic,
    "mixture": MixtureCritic,
    "separable": SeparableCritic,
}


def names() -> list[str]:
    """The names :func:`make` accepts, sorted: ``["bilinear", "concat", "mixture", "separable"]``."""
    return sorted(_CRITICS)


def make(name: str, dim_x: int, dim_y: int, **kwargs: Any) -> nn.Module:
    """Build a learned critic by name.

    Args:
        name: One of :func:`names`.
        dim_x: Features of x.
        dim_y: Features of y.
        **kwargs: Passed to the critic's constructor (e.g. ``hidden_dim``, ``num_layers``).

    Returns:
        The critic, mapping ``x [K, dim_x], y [K, dim_y]`` to ``scores [K, K]``.

    Raises:
        ValueError: For an unknown name, listing the valid ones and the closest match.

    Example:
        >>> make("separable", 20, 20, embed_dim=16).embed_dim
        16
    """
    if name not in _CRITICS:
        raise validation.unknown_name_error("critic", name, names())
    return _CRITICS[name](dim_x, dim_y, **kwargs)
