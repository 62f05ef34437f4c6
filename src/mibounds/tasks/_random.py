"""Float64 random draws from an optional generator (torch's global one when None).

Sampling happens on the generator's device, so a seeded CPU generator gives the same numbers
whatever device the caller moves them to.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """Float64 draws from N(0, 1)."""
    return torch.randn(shape, generator=generator, dtype=torch.float64, device=_device(generator))


def uniform(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """Float64 draws from U(0, 1), strictly positive so that their log is finite."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=_device(generator))
    return u.clamp_min(torch.finfo(torch.float64).tiny)


def randint(high: int, n: int, generator: torch.Generator | None) -> Tensor:
    """``n`` int64 draws, uniform on ``0, 1, ..., high - 1``."""
    return torch.randint(high, (n,), generator=generator, device=_device(generator))


def standard_gamma(concentration: float, n: int, generator: torch.Generator | None) -> Tensor:
    """``n`` float64 draws from Gamma(concentration, rate 1).

    Marsaglia & Tsang's squeeze-free rejection method (ACM TOMS 26(3), 2000), vectorized; the
    acceptance rate is above 95 % for concentration >= 1. For concentration a < 1 it draws
    Gamma(a + 1) and multiplies by U^(1/a). Written here because ``torch._standard_gamma`` takes
    no generator, and seeded sampling must be reproducible.
    """
    boost = concentration < 1
    a = concentration + 1.0 if boost else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n, dtype=torch.float64, device=_device(generator))
    filled = 0
    while filled < n:
        m = n - filled
        m_draw = m + m // 8 + 16  # a few extra so that one round usually suffices
        z = standard_normal((m_draw,), generator)
        log_u = uniform((m_draw,), generator).log()
        v = (1.0 + c * z) ** 3
        safe_v = torch.where(v > 0, v, torch.ones_like(v))
        accept = (v > 0) & (log_u < 0.5 * z * z + d - d * safe_v + d * safe_v.log())
        kept = (d * v)[accept][:m]
        out[filled : filled + kept.numel()] = kept
        filled += kept.numel()
    if boost:
        out = out * torch.exp(uniform((n,), generator).log() / concentration)
    return out
