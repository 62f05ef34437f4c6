"""Stacked critics: each member is an ordinary critic, independent of the others."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mibounds.critics import (
    ConcatCritic,
    MixtureCritic,
    SeparableCritic,
    StackedConcatCritic,
    StackedLinear,
    StackedMixtureCritic,
    StackedSeparableCritic,
)

M, K, DX, DY = 4, 5, 3, 2


def _stack(kind: str, dtype: torch.dtype = torch.float64, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "separable":
        stack = StackedSeparableCritic(M, DX, DY, embed_dim=6, hidden_dim=8)
    elif kind == "mixture":
        stack = StackedMixtureCritic(M, DX, DY, num_components=3, embed_dim=2, hidden_dim=8)
    else:
        # "concat-3": members evaluated in passes of 3 (uneven: 3 + 1), all else equal.
        stack = StackedConcatCritic(M, DX, DY, hidden_dim=8, members_per_pass=3 if kind == "concat-3" else None)
    return stack.to(dtype)


def _inputs(shared: bool | str, dtype: torch.dtype = torch.float64, seed: int = 0):
    """Shared ``[K, d]`` batches, per-member ``[M, K, d]`` ones, or ``"mixed"`` (x shared, y per member)."""
    gen = torch.Generator().manual_seed(seed)
    lead_x = () if shared else (M,)
    lead_y = () if shared is True else (M,)
    return (
        torch.randn(*lead_x, K, DX, generator=gen, dtype=dtype),
        torch.randn(*lead_y, K, DY, generator=gen, dtype=dtype),
    )


KINDS = ["separable", "mixture", "concat", "concat-3"]
_UNSTACKED = {"separable": SeparableCritic, "mixture": MixtureCritic}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shared", [True, False, "mixed"])
def test_member_equals_unstacked_critic(kind: str, shared: bool | str) -> None:
    stack = _stack(kind)
    x, y = _inputs(shared)
    scores = stack(x, y)
    assert scores.shape == (M, K, K)
    for m in range(M):
        member = stack.member(m)
        assert type(member) is _UNSTACKED.get(kind, ConcatCritic)
        xm = x if x.dim() == 2 else x[m]
        ym = y if y.dim() == 2 else y[m]
        torch.testing.assert_close(scores[m], member(xm, ym), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["separable", "concat"])
def test_from_members_round_trips(kind: str) -> None:
    torch.manual_seed(3)
    make = (lambda: SeparableCritic(DX, DY, 6, 8)) if kind == "separable" else (lambda: ConcatCritic(DX, DY, 8))
    critics = [make().double() for _ in range(M)]
    stack = (StackedSeparableCritic if kind == "separable" else StackedConcatCritic).from_members(critics)
    x, y = _inputs(True)
    for m, critic in enumerate(critics):
        torch.testing.assert_close(stack(x, y)[m], critic(x, y), rtol=0, atol=1e-12)
        for a, b in zip(stack.member(m).parameters(), critic.parameters(), strict=True):
            assert torch.equal(a, b)


def test_from_members_rejects_mixed_architectures() -> None:
    with pytest.raises(ValueError, match="critic 1 has architecture .* stack only critics built with the same"):
        StackedSeparableCritic.from_members([SeparableCritic(DX, DY, 6, 8), SeparableCritic(DX, DY, 6, 9)])
    with pytest.raises(TypeError, match="stacks ConcatCritics, got a SeparableCritic"):
        StackedConcatCritic.from_members([SeparableCritic(DX, DY)])
    with pytest.raises(ValueError, match="at least one"):
        StackedConcatCritic.from_members([])


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_of_one_member_touches_only_that_member(kind: str) -> None:
    stack = _stack(kind)
    x, y = _inputs(shared=True)
    m = 2
    (stack(x, y)[m] * torch.randn(K, K, dtype=torch.float64)).sum().backward()
    for name, p in stack.named_parameters():
        assert p.shape[0] == M, name
        others = torch.cat([p.grad[:m].flatten(), p.grad[m + 1 :].flatten()])
        assert torch.equal(others, torch.zeros_like(others)), name
        assert p.grad[m].abs().sum() > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_one_adam_step_on_the_stack_equals_separate_steps(kind: str) -> None:
    # Adam is elementwise, so the summed loss must move each member as if it trained alone.
    stack = _stack(kind)
    members = [stack.member(m) for m in range(M)]
    x, y = _inputs(shared=True)
    loss_weights = torch.randn(M, K, K, dtype=torch.float64)
    opt = torch.optim.Adam(stack.parameters(), lr=1e-2)
    (stack(x, y) * loss_weights).sum().backward()
    opt.step()
    for m, member in enumerate(members):
        opt_m = torch.optim.Adam(member.parameters(), lr=1e-2)
        (member(x, y) * loss_weights[m]).sum().backward()
        opt_m.step()
        for a, b in zip(stack.member(m).parameters(), member.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_members_are_initialized_independently() -> None:
    stack = _stack("separable")
    w = stack.g[0].weight
    assert not torch.equal(w[0], w[1])


@pytest.mark.parametrize("in_features", [3, 256])
def test_init_distribution_matches_nn_linear(in_features: int) -> None:
    # nn.Linear draws weight and bias from U(-b, b), b = 1/sqrt(in). Check the support, and the
    # sample variance against b^2/3 within 5 standard errors: for U(-b, b) the variance of the
    # sample variance is (mu4 - sigma^4)/n = (b^4/5 - b^4/9)/n = 4 b^4 / (45 n).
    torch.manual_seed(0)
    layer = StackedLinear(15, in_features, 64)
    bound = 1 / math.sqrt(in_features)
    for p in (layer.weight, layer.bias):
        n = p.numel()
        assert p.abs().max() <= bound
        se = math.sqrt(4 * bound**4 / (45 * n))
        assert abs(p.detach().var().item() - bound**2 / 3) < 5 * se
    # The reference layer has the same support (guards against a change of PyTorch's default).
    ref = nn.Linear(in_features, 64)
    assert ref.weight.abs().max() <= bound and ref.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_follows_dtype_and_rejects_bad_shapes(kind: str) -> None:
    stack = _stack(kind, dtype=torch.float32)
    x, y = _inputs(True, dtype=torch.float32)
    assert stack(x, y).dtype == torch.float32
    with pytest.raises(ValueError, match=r"x has shape \(3, 5, 3\) and y has shape \(5, 2\); a stack of M = 4"):
        stack(x.expand(3, K, DX), y)
    with pytest.raises(ValueError, match=r"different batch sizes K"):
        stack(x, y[:-1])
    with pytest.raises(ValueError, match=r"built for dim_y = 2"):
        stack(x, torch.randn(K, 7))
    with pytest.raises(TypeError, match="call critic.double"):
        stack(x.double(), y.double())


def test_members_per_pass_does_not_change_the_scores() -> None:
    stack = _stack("concat")
    x, y = _inputs(shared=False)
    whole = stack(x, y)
    for step in (1, 3, M, 10, None):
        stack.members_per_pass = step
        torch.testing.assert_close(stack(x, y), whole, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="members_per_pass must be an integer >= 1, got 0"):
        StackedConcatCritic(M, DX, DY, members_per_pass=0)


def test_automatic_members_per_pass_keeps_cpu_passes_cache_sized() -> None:
    stack = StackedConcatCritic(15, DX, DY, hidden_dim=256)
    x = torch.zeros(64, DX)
    # One member's hidden activation at K = 64, H = 256, float32 is 4 MB: one member per pass.
    assert stack._auto_members_per_pass(x, 64) == 1
    # At K = 16 it is 256 KB: four members fit in a 1 MB pass.
    assert stack._auto_members_per_pass(x, 16) == 4
    assert stack._auto_members_per_pass(x, 2) == 15


def test_member_index_out_of_range() -> None:
    with pytest.raises(IndexError, match="member 4 is out of range for a stack of 4"):
        _stack("concat").member(4)
