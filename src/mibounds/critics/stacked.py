"""Stacks of M independent critics evaluated in one pass (batched linear layers).

Training one critic per bound (the staircase trains about 15 at batch 64) is dominated by
per-step Python and kernel-launch overhead when each critic runs on its own. A stack keeps the
parameters of M critics in tensors with a leading member axis ``M`` and runs every layer as one
batched matmul, so a step costs about as many kernels as a single critic. Members stay
independent: member m's scores depend only on member m's parameters, so a sum of per-member
losses trains each member exactly as if it were alone (with an optimizer that is elementwise per
parameter, e.g. Adam).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import torch
from torch import Tensor, nn

from mibounds.critics._checks import check_dtype, check_size, check_stacked_pair
from mibounds.critics.concat import ConcatCritic, pairwise_first_layer
from mibounds.critics.mixture import MixtureCritic, mixture_scores
from mibounds.critics.mlp import activation_layer
from mibounds.critics.separable import SeparableCritic

__all__ = [
    "StackedConcatCritic",
    "StackedLinear",
    "StackedMixtureCritic",
    "StackedSeparableCritic",
    "stacked_linear",
    "stacked_mlp",
]


def stacked_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """M independent affine maps: ``out[m] = x[m] @ weight[m] + bias[m]``.

    Args:
        x: ``[N, in]`` (shared by every member) or ``[M, N, in]``.
        weight: ``[M, in, out]``, i.e. each member's ``nn.Linear`` weight transposed.
        bias: ``[M, out]``.

    Returns:
        ``[M, N, out]``.
    """
    if x.dim() == 2:
        x = x.expand(weight.shape[0], *x.shape)
    return torch.baddbmm(bias.unsqueeze(1), x, weight)


class StackedLinear(nn.Module):
    """M independent linear layers: ``out[m] = x[m] @ weight[m] + bias[m]``.

    Each member is initialized like ``nn.Linear(in_features, out_features)``: weight and bias
    ``~ U(-1/sqrt(in_features), 1/sqrt(in_features))`` independently. The weight is stored
    ``[M, in, out]``, transposed relative to ``nn.Linear``, so that the forward pass is a plain
    batched matmul and the weight gradient comes out in the parameter's own layout (no transposing
    copy per step).

    Args:
        num_members: M.
        in_features: Input features.
        out_features: Output features.

    Shapes:
        ``x`` ``[N, in]`` (shared by every member) or ``[M, N, in]`` -> ``[M, N, out]``.
        ``weight`` ``[M, in, out]``, ``bias`` ``[M, out]``.

    Example:
        >>> import torch
        >>> StackedLinear(3, 20, 8)(torch.randn(64, 20)).shape
        torch.Size([3, 64, 8])
    """

    def __init__(self, num_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.num_members = check_size(num_members, "num_members")
        self.in_features = check_size(in_features, "in_features")
        self.out_features = check_size(out_features, "out_features")
        self.weight = nn.Parameter(torch.empty(num_members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_members, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's kaiming_uniform_(a=sqrt(5)) reduces to U(+-1/sqrt(fan_in)); calling it on the
        # 3-d tensor would compute another fan_in, so the bound is written out.
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, in]`` or ``[M, N, in]`` -> ``[M, N, out]`` (see :func:`stacked_linear`)."""
        return stacked_linear(x, self.weight, self.bias)

    def member(self, m: int) -> nn.Linear:
        """An independent ``nn.Linear`` holding a copy of member ``m``'s weights (m in [0, M))."""
        if not -self.num_members <= m < self.num_members:
            raise IndexError(f"member {m} is out of range for a stack of {self.num_members} members")
        layer = nn.Linear(self.in_features, self.out_features, device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.weight[m].T)
            layer.bias.copy_(self.bias[m])
        return layer

    def load_member(self, m: int, layer: nn.Linear) -> None:
        """Copy an ``nn.Linear``'s weights into member ``m``."""
        with torch.no_grad():
            self.weight[m].copy_(layer.weight.T)
            self.bias[m].copy_(layer.bias)

    def extra_repr(self) -> str:
        return f"num_members={self.num_members}, in_features={self.in_features}, out_features={self.out_features}"


def stacked_mlp(
    num_members: int, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, activation: str = "relu"
) -> nn.Sequential:
    """M independent copies of :func:`mibounds.critics.mlp`, layer for layer (same indices).

    Returns:
        ``nn.Sequential`` mapping ``[N, in_dim]`` or ``[M, N, in_dim]`` to ``[M, N, out_dim]``.
    """
    check_size(num_layers, "num_layers", minimum=0)
    activation_layer(activation)  # validate the name even when num_layers == 0
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_layers):
        layers += [StackedLinear(num_members, width, hidden_dim), activation_layer(activation)]
        width = hidden_dim
    layers.append(StackedLinear(num_members, width, out_dim))
    return nn.Sequential(*layers)


def _copy_member(stack: nn.Sequential, m: int, net: nn.Sequential) -> None:
    """Put copies of member ``m``'s layers of a :func:`stacked_mlp` into the matching :func:`mlp`."""
    for i, stacked in enumerate(stack):
        if isinstance(stacked, StackedLinear):
            net[i] = stacked.member(m)


def _load_member(stack: nn.Sequential, m: int, net: nn.Sequential) -> None:
    """Copy an unstacked :func:`mlp` into member ``m`` of the matching :func:`stacked_mlp`."""
    for stacked, layer in zip(stack, net, strict=True):
        if isinstance(stacked, StackedLinear):
            stacked.load_member(m, cast(nn.Linear, layer))


_S = TypeVar("_S", bound="_StackedCritic")

# Largest hidden activation [members, K^2, H] one CPU pass of StackedConcatCritic makes: about
# what stays in a core's cache (measured: larger groups of members are slower on CPU).
_CPU_PASS_BYTES = 2**20


class _StackedCritic(nn.Module):
    """What every stack shares: export a member, stack existing critics.

    Subclasses name the unstacked class, its constructor arguments (also attributes of both) and
    the MLPs that the stack mirrors layer for layer (``stacked_mlp`` here, ``mlp`` there).
    """

    _unstacked: type[nn.Module]
    _architecture: tuple[str, ...]
    _networks: tuple[str, ...]
    num_members: int

    @classmethod
    def _architecture_of(cls, critic: nn.Module) -> dict[str, object]:
        return {a: getattr(critic, a) for a in cls._architecture}

    def member(self, m: int) -> nn.Module:
        """An independent unstacked critic holding a copy of member ``m``'s weights."""
        critic = self._unstacked(**self._architecture_of(self))
        weight = next(self.parameters())
        critic.to(device=weight.device, dtype=weight.dtype)
        for net in self._networks:
            _copy_member(getattr(self, net), m, getattr(critic, net))
        return critic

    @classmethod
    def from_members(cls: type[_S], critics: Sequence[nn.Module]) -> _S:
        """Stack existing critics of one architecture (their weights are copied)."""
        kind = cls._unstacked.__name__
        if len(critics) == 0:
            raise ValueError(f"from_members needs at least one {kind}, got an empty sequence")
        for c in critics:
            if type(c) is not cls._unstacked:
                raise TypeError(f"from_members stacks {kind}s, got a {type(c).__name__}")
        first = cls._architecture_of(critics[0])
        for m, c in enumerate(critics):
            if (arch := cls._architecture_of(c)) != first:
                raise ValueError(
                    f"critic {m} has architecture {arch} but critic 0 has {first}; "
                    "stack only critics built with the same sizes and activation"
                )
        stack = cls(len(critics), **first)
        weight = next(critics[0].parameters())
        stack.to(device=weight.device, dtype=weight.dtype)
        for m, critic in enumerate(critics):
            for net in cls._networks:
                _load_member(getattr(stack, net), m, getattr(critic, net))
        return stack

    def extra_repr(self) -> str:
        return f"num_members={self.num_members}, " + ", ".join(
            f"{k}={v}" for k, v in self._architecture_of(self).items()
        )


class StackedSeparableCritic(_StackedCritic):
    """M independent :class:`SeparableCritic` s in one module.

    ``scores[m, i, j] = g_m(x_i) . h_m(y_j)``; member m is initialized like a fresh
    ``SeparableCritic``, :meth:`member` exports it as one and :meth:`from_members` stacks
    existing ones.

    Args:
        num_members: M.
        dim_x, dim_y, embed_dim, hidden_dim, num_layers, activation: as for ``SeparableCritic``.

    Example:
        >>> import torch
        >>> stack = StackedSeparableCritic(15, dim_x=20, dim_y=20)
        >>> stack(torch.randn(64, 20), torch.randn(64, 20)).shape
        torch.Size([15, 64, 64])
    """

    _unstacked = SeparableCritic
    _architecture = ("dim_x", "dim_y", "embed_dim", "hidden_dim", "num_layers", "activation")
    _networks = ("g", "h")

    def __init__(
        self,
        num_members: int,
        dim_x: int,
        dim_y: int,
        embed_dim: int = 32,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.num_members = check_size(num_members, "num_members")
        self.dim_x, self.dim_y = dim_x, dim_y
        self.embed_dim, self.hidden_dim, self.num_layers = embed_dim, hidden_dim, num_layers
        self.activation = activation
        self.g = stacked_mlp(num_members, dim_x, hidden_dim, embed_dim, num_layers, activation)
        self.h = stacked_mlp(num_members, dim_y, hidden_dim, embed_dim, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j`` with every member.

        Args:
            x: ``[K, dim_x]`` shared by every member, or ``[M, K, dim_x]``.
            y: ``[K, dim_y]`` or ``[M, K, dim_y]``.

        Returns:
            ``scores`` ``[M, K, K]``; ``scores[m]`` is member m's ``[K, K]`` score matrix.
        """
        check_stacked_pair(x, y, self.num_members, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return self.g(x) @ self.h(y).transpose(-1, -2)


class StackedMixtureCritic(_StackedCritic):
    """M independent :class:`~mibounds.critics.MixtureCritic` s in one module.

    ``scores[m, i, j] = log mean_c exp(g_mc(x_i) . h_mc(y_j))``; member m is initialized like a
    fresh ``MixtureCritic``, :meth:`member` exports it as one and :meth:`from_members` stacks
    existing ones.

    Args:
        num_members: M.
        dim_x, dim_y, num_components, embed_dim, hidden_dim, num_layers, activation: as for
            ``MixtureCritic``.

    Example:
        >>> import torch
        >>> stack = StackedMixtureCritic(5, dim_x=20, dim_y=20, num_components=4, embed_dim=8)
        >>> stack(torch.randn(64, 20), torch.randn(64, 20)).shape
        torch.Size([5, 64, 64])
    """

    _unstacked = MixtureCritic
    _architecture = ("dim_x", "dim_y", "num_components", "embed_dim", "hidden_dim", "num_layers", "activation")
    _networks = ("g", "h")

    def __init__(
        self,
        num_members: int,
        dim_x: int,
        dim_y: int,
        num_components: int = 4,
        embed_dim: int = 32,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.num_members = check_size(num_members, "num_members")
        self.num_components = check_size(num_components, "num_components")
        self.dim_x, self.dim_y = dim_x, dim_y
        self.embed_dim, self.hidden_dim, self.num_layers = embed_dim, hidden_dim, num_layers
        self.activation = activation
        width = num_components * embed_dim
        self.g = stacked_mlp(num_members, dim_x, hidden_dim, width, num_layers, activation)
        self.h = stacked_mlp(num_members, dim_y, hidden_dim, width, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j`` with every member.

        Args:
            x: ``[K, dim_x]`` shared by every member, or ``[M, K, dim_x]``.
            y: ``[K, dim_y]`` or ``[M, K, dim_y]``.

        Returns:
            ``scores`` ``[M, K, K]``; ``scores[m]`` is member m's ``[K, K]`` score matrix.
        """
        check_stacked_pair(x, y, self.num_members, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        return mixture_scores(self.g(x), self.h(y), self.num_components)


class StackedConcatCritic(_StackedCritic):
    """M independent :class:`ConcatCritic` s in one module.

    ``scores[m, i, j] = f_m([x_i, y_j])``, with the first layer split as in ``ConcatCritic``;
    member m is initialized like a fresh ``ConcatCritic``, :meth:`member` exports it as one and
    :meth:`from_members` stacks existing ones.

    The hidden activations are ``[M, K^2, H]`` (63 MB at M = 15, K = 64, H = 256, float32). A GPU
    evaluates all members at once. On a CPU tensors that large fall out of the cache and every
    elementwise pass goes to memory, so by default (``members_per_pass=None``) the members run in
    groups whose hidden activation stays within about 1 MB (one member at a time at K = 64,
    H = 256), which is faster there (see ``benchmarks/bench_stacked_critic.py``). The result is
    the same either way, and it is still one module and one optimizer.

    Args:
        num_members: M.
        dim_x, dim_y, hidden_dim, num_layers, activation: as for ``ConcatCritic``.
        members_per_pass: Members evaluated per batched pass; ``None`` chooses (all M on a GPU,
            cache-sized groups on a CPU). An attribute that may be changed later.

    Example:
        >>> import torch
        >>> stack = StackedConcatCritic(15, dim_x=20, dim_y=20, hidden_dim=32)
        >>> stack(torch.randn(8, 20), torch.randn(8, 20)).shape
        torch.Size([15, 8, 8])
    """

    _unstacked = ConcatCritic
    _architecture = ("dim_x", "dim_y", "hidden_dim", "num_layers", "activation")
    _networks = ("net",)

    def __init__(
        self,
        num_members: int,
        dim_x: int,
        dim_y: int,
        hidden_dim: int = 256,
        num_layers: int = 2,
        activation: str = "relu",
        members_per_pass: int | None = None,
    ) -> None:
        super().__init__()
        self.num_members = check_size(num_members, "num_members")
        self.dim_x, self.dim_y = dim_x, dim_y
        self.hidden_dim, self.num_layers, self.activation = hidden_dim, num_layers, activation
        self.members_per_pass = None if members_per_pass is None else check_size(members_per_pass, "members_per_pass")
        self.net = stacked_mlp(num_members, dim_x + dim_y, hidden_dim, 1, num_layers, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score every ``x_i`` against every ``y_j`` with every member.

        Args:
            x: ``[K, dim_x]`` shared by every member, or ``[M, K, dim_x]``.
            y: ``[K, dim_y]`` or ``[M, K, dim_y]``.

        Returns:
            ``scores`` ``[M, K, K]``; ``scores[m]`` is member m's ``[K, K]`` score matrix.
        """
        k = check_stacked_pair(x, y, self.num_members, self.dim_x, self.dim_y)
        check_dtype(self, ("x", x), ("y", y))
        step = self.members_per_pass or self._auto_members_per_pass(x, k)
        # Split each parameter once (its backward is one concatenation) rather than slicing it
        # per pass (each slice's backward would fill a full-size gradient).
        layers: list[Any] = [
            list(zip(layer.weight.split(step), layer.bias.split(step), strict=True))
            if isinstance(layer, StackedLinear)
            else layer
            for layer in self.net
        ]
        n_passes = len(layers[0])
        xs = x.split(step) if x.dim() == 3 else [x] * n_passes
        ys = y.split(step) if y.dim() == 3 else [y] * n_passes
        parts = [
            self._scores(xs[p], ys[p], [lay[p] if isinstance(lay, list) else lay for lay in layers], k)
            for p in range(n_passes)
        ]
        return parts[0] if n_passes == 1 else torch.cat(parts)

    def _auto_members_per_pass(self, x: Tensor, k: int) -> int:
        if x.device.type != "cpu":
            return self.num_members
        member_bytes = k * k * self.hidden_dim * x.element_size()
        return max(1, min(self.num_members, _CPU_PASS_BYTES // member_bytes))

    @staticmethod
    def _scores(x: Tensor, y: Tensor, layers: list[tuple[Tensor, Tensor] | nn.Module], k: int) -> Tensor:
        """Scores ``[m, K, K]`` of a group of m members: ``layers`` holds their ``(weight, bias)``
        for each linear layer (``[m, in, out]``, ``[m, out]``) and the activation modules."""
        weight, bias = cast(tuple[Tensor, Tensor], layers[0])
        hidden = pairwise_first_layer(x, y, weight.transpose(1, 2), bias)  # [m, K, K, H]
        hidden = hidden.reshape(hidden.shape[0], k * k, -1)
        for layer in layers[1:]:
            hidden = stacked_linear(hidden, *layer) if isinstance(layer, tuple) else layer(hidden)
        return hidden.view(-1, k, k)
