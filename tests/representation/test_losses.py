"""Embedding losses: exact agreement with mibounds.bounds on the same scores, queue, temperature."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds import bounds
from mibounds.representation import (
    DVLoss,
    InfoNCELoss,
    JSLoss,
    MILoss,
    NWJLoss,
    infonce_loss,
    mean_bound,
    mi_loss,
    similarity_matrix,
)


def pair(b: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64)
    return x, x + 0.7 * torch.randn(b, d, generator=g, dtype=torch.float64)


def grads(fn, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    fn(x, y).backward()
    return x.grad, y.grad


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    b=st.integers(2, 12),
    d=st.integers(1, 6),
    temperature=st.floats(0.05, 5.0),
    similarity=st.sampled_from(["cosine", "dot"]),
    symmetric=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_infonce_loss_equals_bounds_infonce(b, d, temperature, similarity, symmetric, seed) -> None:
    x, y = pair(b, d, seed)
    loss_fn = InfoNCELoss(temperature=temperature, similarity=similarity, symmetric=symmetric).double()
    loss = loss_fn(x, y)
    result = loss_fn.last_readout
    assert torch.equal(loss.detach(), result.loss)
    tau = float(loss_fn.temperature)  # the module stores log(tau): compare on the same scores

    def reference(x, y):
        return bounds.infonce(similarity_matrix(x, y, similarity) / tau, symmetric=symmetric)

    want = reference(x, y)
    torch.testing.assert_close(result.mi, want.detach())
    torch.testing.assert_close(result.loss.detach(), math.log(b) - want.detach())
    assert result.ceiling == pytest.approx(math.log(b)) and result.batch_size == b
    assert float(result.mi) <= result.ceiling + 1e-12
    # The training gradient is minus the bound's gradient.
    got_x, got_y = grads(loss_fn, x, y)
    want_x, want_y = grads(lambda x, y: -reference(x, y), x, y)
    torch.testing.assert_close(got_x, want_x)
    torch.testing.assert_close(got_y, want_y)


def test_similarity_matrix() -> None:
    x, y = pair(5, 3)
    torch.testing.assert_close(similarity_matrix(x, y, "dot"), x @ y.T)
    cos = F.cosine_similarity(x[:, None, :], y[None, :, :], dim=-1)
    torch.testing.assert_close(similarity_matrix(x, y, "cosine"), cos)
    with pytest.raises(ValueError, match="Did you mean 'cosine'"):
        similarity_matrix(x, y, "cosin")


@pytest.mark.parametrize("bound", ["js", "dv", "nwj", "infonce", "smile"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_mi_loss_equals_the_bound(bound: str, symmetric: bool) -> None:
    x, y = pair(7, 4, seed=3)
    fn = bounds.get(bound).fn

    def reference(x, y):
        scores = similarity_matrix(x, y, "dot") / 2.0
        value = fn(scores)
        return 0.5 * (value + fn(scores.T)) if symmetric else value

    result = mi_loss(x, y, bound, temperature=2.0, similarity="dot", symmetric=symmetric)
    torch.testing.assert_close(result.mi, reference(x, y).detach())
    torch.testing.assert_close(result.loss.detach(), -reference(x, y).detach())
    assert result.ceiling == bounds.get(bound).ceiling_for(7)
    got = grads(lambda x, y: mi_loss(x, y, bound, temperature=2.0, similarity="dot", symmetric=symmetric).loss, x, y)
    want = grads(lambda x, y: -reference(x, y), x, y)
    torch.testing.assert_close(got, want)


def test_family_classes_use_their_bound() -> None:
    x, y = pair(6, 3, seed=5)
    for cls, name in ((JSLoss, "js"), (DVLoss, "dv"), (NWJLoss, "nwj")):
        module = cls(temperature=0.5).double()
        module(x, y)
        torch.testing.assert_close(module.last_readout.mi, mi_loss(x, y, name, temperature=0.5).mi)
        assert module.bound.name == name


def test_mine_keeps_its_moving_average_in_the_module() -> None:
    x, y = pair(6, 3, seed=2)
    module = MILoss("mine", rate=0.5).double()
    module(x, y)
    first = module.bound.log_moving_average.clone()
    module(x, y.flip(0))  # another batch (cosine scores ignore scale)
    assert torch.isfinite(first) and not torch.equal(first, module.bound.log_moving_average)
    with pytest.raises(ValueError, match="moving average"):
        MILoss("mine", symmetric=True)


def test_infonce_with_extra_negatives_is_a_cross_entropy() -> None:
    """Rectangular case, checked against an independent cross-entropy over all candidates."""
    x, y = pair(5, 3, seed=1)
    extra = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    result = infonce_loss(x, y, temperature=0.3, symmetric=False, extra_x=extra)
    logits = similarity_matrix(y, torch.cat([x, extra])) / 0.3  # row j: y_j against all x candidates
    want = F.cross_entropy(logits, torch.arange(5))
    torch.testing.assert_close(result.loss, want)
    assert result.batch_size == 9 and result.ceiling == pytest.approx(math.log(9))
    torch.testing.assert_close(result.mi, math.log(9) - want)


def test_queue_fills_wraps_and_is_frozen_in_eval() -> None:
    x, y = pair(4, 3, seed=4)
    loss_fn = InfoNCELoss(temperature=0.2, queue_size=6, embed_dim=3, return_readout=True).double()
    assert loss_fn(x, y).batch_size == 4  # empty queue
    second = loss_fn(2 * x, y)  # the first batch is now in the queue
    want = infonce_loss(2 * x, y, temperature=0.2, extra_x=x, extra_y=y)
    torch.testing.assert_close(second.loss, want.loss)
    assert second.batch_size == 8
    loss_fn(3 * x, y)  # 12 rows through a queue of 6: it keeps the newest 6
    assert int(loss_fn.queue_count) == 6
    kept = {tuple(r.tolist()) for r in loss_fn.queue_x}
    assert kept == {tuple(r.tolist()) for r in torch.cat([2 * x[2:], 3 * x])}
    loss_fn.eval()
    before = loss_fn.queue_x.clone()
    assert loss_fn(x, y).batch_size == 10
    torch.testing.assert_close(loss_fn.queue_x, before)
    assert "queue_x" in loss_fn.state_dict()


def test_learnable_temperature_receives_gradients_and_moves() -> None:
    x, y = pair(16, 4, seed=6)
    loss_fn = InfoNCELoss(temperature=0.5, learnable_temperature=True).double()
    assert [name for name, _ in loss_fn.named_parameters()] == ["log_temperature"]
    optimizer = torch.optim.SGD(loss_fn.parameters(), lr=0.1)
    before = float(loss_fn.temperature.detach())
    loss_fn(x, y).backward()
    grad = loss_fn.log_temperature.grad
    assert grad is not None and float(grad) != 0.0
    optimizer.step()
    assert float(loss_fn.temperature.detach()) != pytest.approx(before, rel=1e-6)
    # A fixed temperature is a buffer: not trained, but saved.
    fixed = InfoNCELoss(temperature=0.5)
    assert list(fixed.parameters()) == [] and "log_temperature" in fixed.state_dict()


def test_temperature_clamp() -> None:
    loss_fn = InfoNCELoss(temperature=0.05, learnable_temperature=True, min_temperature=0.02)
    with torch.no_grad():
        loss_fn.log_temperature.fill_(math.log(1e-4))
    assert float(loss_fn.temperature.detach()) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="below min_temperature"):
        InfoNCELoss(temperature=0.001)


def test_mean_bound_over_a_stack() -> None:
    g = torch.Generator().manual_seed(0)
    stack = torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64)
    for name in ("infonce", "js", "dv"):
        want = torch.stack([bounds.get(name).fn(s) for s in stack.reshape(-1, 5, 5)]).mean()
        torch.testing.assert_close(mean_bound(stack, name), want)
    want = torch.stack([bounds.infonce(s, symmetric=True) for s in stack.reshape(-1, 5, 5)]).mean()
    torch.testing.assert_close(mean_bound(stack, "infonce", symmetric=True), want)


def test_input_errors() -> None:
    x, y = pair(4, 3)
    with pytest.raises(ValueError, match="same size"):
        infonce_loss(x, y[:3])
    with pytest.raises(ValueError, match=r"\[B, d\]"):
        infonce_loss(x[0], y[0])
    with pytest.raises(ValueError, match="need only scores: .*infonce"):
        MILoss("tuba")
    with pytest.raises(ValueError, match="embed_dim"):
        InfoNCELoss(queue_size=8)
    with pytest.raises(ValueError, match="extra_x must be"):
        infonce_loss(x, y, extra_x=torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="temperature"):
        infonce_loss(x, y, temperature=0.0)
    with pytest.raises(ValueError, match="no parameter clip"):
        mean_bound(torch.zeros(3, 4, 4), "infonce", clip=5.0)
    with pytest.raises(ValueError, match="at least K = 2"):
        mean_bound(torch.zeros(3, 1, 1), "infonce")


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    b=st.integers(1, 12),
    queue=st.integers(0, 9),
    d=st.integers(1, 6),
    temperature=st.floats(0.05, 5.0),
    similarity=st.sampled_from(["cosine", "dot"]),
    symmetric=st.booleans(),
    block_size=st.integers(1, 25),
    seed=st.integers(0, 10_000),
)
def test_chunked_infonce_loss_equals_materialized(
    b, queue, d, temperature, similarity, symmetric, block_size, seed
) -> None:
    """Row blocks (with queue negatives on both sides) give the materialized loss and gradients to 1e-10."""
    x, y = pair(b, d, seed)
    extra_x, extra_y = pair(queue, d, seed + 1) if queue else (None, None)
    log_t = torch.tensor(math.log(temperature), dtype=torch.float64)

    def run(block: int | None) -> list[torch.Tensor]:
        xs, ys, lt = x.clone().requires_grad_(), y.clone().requires_grad_(), log_t.clone().requires_grad_()
        result = infonce_loss(
            xs,
            ys,
            temperature=lt.exp(),
            similarity=similarity,
            symmetric=symmetric,
            extra_x=extra_x,
            extra_y=extra_y,
            block_size=block,
        )
        result.loss.backward()
        assert result.batch_size == b + queue
        return [result.loss.detach(), result.mi, xs.grad, ys.grad, lt.grad]

    for got, want in zip(run(block_size), run(None), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_infonce_module_switches_to_blocks_for_large_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from mibounds.representation import losses

    x, y = pair(40, 5, seed=3)
    materialized = InfoNCELoss(temperature=0.2, queue_size=16, embed_dim=5).double()
    chunked = InfoNCELoss(temperature=0.2, queue_size=16, embed_dim=5, block_size=7).double()
    for step in range(2):  # the second step scores against the queue filled by the first
        want, got = materialized(x * (1 + step), y), chunked(x * (1 + step), y)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(chunked.queue_x, materialized.queue_x)
    calls: list[int] = []
    original = losses._chunked_infonce_loss
    monkeypatch.setattr(losses, "_chunked_infonce_loss", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(losses, "CHUNKED_MIN_ENTRIES", 40 * 40)
    InfoNCELoss(temperature=0.2)(x, y)  # K * B = 1600 entries: blocks
    assert calls
    with pytest.raises(ValueError, match="block_size"):
        InfoNCELoss(block_size=0)


def test_a_bound_label_sets_the_loss_bound_parameter() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(12, 5), torch.randn(12, 5)
    assert MILoss("smile:1").bound.params == {"clip": 1.0}
    assert torch.equal(mi_loss(x, y, "smile:1").mi, mi_loss(x, y, "smile", clip=1.0).mi)
    scores = torch.randn(3, 6, 6)
    assert torch.equal(mean_bound(scores, "smile:1"), mean_bound(scores, "smile", clip=1.0))
    with pytest.raises(ValueError, match="also given as a keyword"):
        MILoss("smile:1", clip=5.0)
