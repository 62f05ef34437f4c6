r"""Encoders that are invertible by construction (RealNVP coupling layers), for which MI cannot move.

Mutual information is invariant under invertible maps of each variable separately, so for
bijections :math:`g_1, g_2`

.. math::
    I(g_1(X_1); g_2(X_2)) = I(X_1; X_2)

for every value of their parameters. Training such encoders with an MI bound (InfoNCE) therefore
changes the *bound* (the critic and the encoders make the information easier or harder to
read), never the MI. Tschannen et al. use this to show that what contrastive training improves
(linear separability of the representation) is not MI itself.

A coupling layer splits the input by a fixed mask into a conditioning part :math:`x_a` (kept) and
a transformed part :math:`x_b`:

.. math::
    y_a = x_a,\qquad y_b = x_b \odot e^{s(x_a)} + t(x_a),
    \qquad x_b = (y_b - t(y_a)) \odot e^{-s(y_a)},

with small networks s and t (``affine=False``: s = 0, the additive, volume-preserving coupling
of NICE). The inverse needs no inverse of s or t, so any network works; s is bounded by a
``tanh`` so that no layer scales by more than :math:`e^{\pm 1}` per coordinate. The last layer of
s and t starts at zero: an untrained encoder is the identity. Layers alternate the mask (even /
odd coordinates), so every coordinate is transformed.

References:
    Tschannen, Djolonga, Rubenstein, Gelly, Lucic (2020). On Mutual Information Maximization for
    Representation Learning. ICLR. arXiv:1907.13625. Dinh, Sohl-Dickstein, Bengio (2017).
    Density estimation using Real NVP. ICLR. arXiv:1605.08803. Dinh, Krueger, Bengio (2015). NICE.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from mibounds.validation import check_int

__all__ = ["CouplingLayer", "InvertibleEncoder"]


class CouplingLayer(nn.Module):
    """One affine (or additive) coupling layer over ``[B, dim]`` vectors; see the module.

    Args:
        dim: Input size (>= 2).
        hidden_dim: Units of the hidden layer of s and t.
        parity: 0 keeps the even coordinates and transforms the odd ones; 1 the other way.
        affine: Affine coupling (RealNVP); False for additive (NICE, volume-preserving).

    Example:
        >>> import torch
        >>> layer = CouplingLayer(6, 16, parity=0)
        >>> x = torch.randn(4, 6, dtype=torch.float64)
        >>> layer = layer.double()
        >>> torch.allclose(layer.inverse(layer(x)), x)
        True
    """

    mask: Tensor

    def __init__(self, dim: int, hidden_dim: int = 64, parity: int = 0, affine: bool = True) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=2)
        hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=1)
        if parity not in (0, 1):
            raise ValueError(f"parity must be 0 or 1 (which coordinates are kept), got {parity}")
        self.parity, self.affine = parity, bool(affine)
        self.register_buffer("mask", torch.arange(self.dim) % 2 == parity)  # True: kept (x_a)
        kept, moved = int(self.mask.sum()), self.dim - int(self.mask.sum())
        outputs = 2 * moved if self.affine else moved
        last = nn.Linear(hidden_dim, outputs)
        nn.init.zeros_(last.weight)  # identity at initialization
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Linear(kept, hidden_dim), nn.ReLU(), last)

    def _shift_and_log_scale(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(kept)
        if not self.affine:
            return out, torch.zeros_like(out)
        shift, raw = out.chunk(2, dim=-1)
        return shift, torch.tanh(raw)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, dim] -> [B, dim]``."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected a [B, dim] = [B, {self.dim}] batch, got shape {tuple(x.shape)}")
        shift, log_scale = self._shift_and_log_scale(x[:, self.mask])
        out = x.clone()
        out[:, ~self.mask] = x[:, ~self.mask] * log_scale.exp() + shift
        return out

    def inverse(self, y: Tensor) -> Tensor:
        """The exact inverse of :meth:`forward`."""
        if y.dim() != 2 or y.shape[1] != self.dim:
            raise ValueError(f"expected a [B, dim] = [B, {self.dim}] batch, got shape {tuple(y.shape)}")
        shift, log_scale = self._shift_and_log_scale(y[:, self.mask])
        out = y.clone()
        out[:, ~self.mask] = (y[:, ~self.mask] - shift) * (-log_scale).exp()
        return out

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``[B]``: :math:`\\log|\\det \\partial y / \\partial x| = \\sum s(x_a)`, finite by construction."""
        return self._shift_and_log_scale(x[:, self.mask])[1].sum(dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, parity={self.parity}, affine={self.affine}"


class InvertibleEncoder(nn.Module):
    """A stack of coupling layers with alternating masks: a bijection of ``R^dim`` with an ``inverse``.

    Args:
        dim: Input (and output) size.
        num_layers: Coupling layers (>= 2, so every coordinate is transformed).
        hidden_dim: Hidden units of each layer's s and t networks.
        affine: Affine couplings (RealNVP) or additive ones (NICE).

    Example:
        >>> import torch
        >>> encoder = InvertibleEncoder(32, num_layers=4).double()
        >>> x = torch.rand(10, 32, dtype=torch.float64)
        >>> torch.equal(encoder(x), x)  # the identity until trained
        True
        >>> bool((encoder.inverse(encoder(x)) - x).abs().max() < 1e-12)
        True
    """

    def __init__(self, dim: int, num_layers: int = 4, hidden_dim: int = 64, affine: bool = True) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=2)
        num_layers = check_int(num_layers, "num_layers", minimum=2, why="so that every coordinate is transformed")
        self.layers = nn.ModuleList(
            CouplingLayer(dim, hidden_dim, parity=i % 2, affine=affine) for i in range(num_layers)
        )

    def couplings(self) -> list[CouplingLayer]:
        """The coupling layers, in the order :meth:`forward` applies them."""
        return [cast(CouplingLayer, layer) for layer in self.layers]

    def forward(self, x: Tensor) -> Tensor:
        """``[B, dim] -> [B, dim]``."""
        for layer in self.couplings():
            x = layer(x)
        return x

    def inverse(self, z: Tensor) -> Tensor:
        """The exact inverse of :meth:`forward` (the layers' inverses in reverse order)."""
        for layer in reversed(self.couplings()):
            z = layer.inverse(z)
        return z

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``[B]``, the log-determinant of the whole stack's Jacobian at ``x``."""
        total = x.new_zeros(x.shape[0])
        for layer in self.couplings():
            total = total + layer.log_abs_det_jacobian(x)
            x = layer(x)
        return total
