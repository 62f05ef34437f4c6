"""The hand-written backward of the forward recursion equals autograd through it (float64, 1e-10).

The recursion runs in scaled linear space and hands rows whose scores spread beyond the float's
exponent range (or that have no path) to the log-space recursion; both paths are checked here.
"""

from __future__ import annotations

import math

import pytest
import sequence_brute_force as brute
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds.sequence import bigram_graph, pairwise_log_partition
from mibounds.sequence._expanded import expand, forward_scores
from mibounds.sequence._recursion import _LogPartition, frame_spread, log_partition_frames, spread_limit


def _autograd_reference(e: torch.Tensor, expanded, lengths: torch.Tensor) -> torch.Tensor:
    slabs = e.unbind(1)
    return forward_scores(slabs.__getitem__, len(slabs), expanded, lengths)[0]


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 6),
    frames=st.integers(1, 7),
    states=st.integers(2, 4),
    ragged=st.booleans(),
    scale=st.sampled_from([0.5, 3.0, 30.0]),
    forbid=st.booleans(),
)
def test_hand_written_backward_equals_autograd(
    seed: int, batch: int, frames: int, states: int, ragged: bool, scale: float, forbid: bool
) -> None:
    gen = torch.Generator().manual_seed(seed)
    graph = brute.random_graph(gen, num_states=states, num_labels=3, num_arcs=3 * states + 2).to(dtype=torch.float64)
    expanded = expand(graph)
    p = expanded.labels.shape[0]
    e = scale * torch.randn(batch, frames, p, generator=gen, dtype=torch.float64)
    if forbid:  # -inf emissions, as path_score uses them (some sequences may have no path at all)
        e = e.masked_fill(torch.rand(batch, frames, p, generator=gen) < 0.3, -math.inf)
    lengths = torch.randint(1, frames + 1, (batch,), generator=gen) if ragged else torch.full((batch,), frames)
    e.requires_grad_()
    got = log_partition_frames(e, expanded.initial, expanded.transition, expanded.final, lengths)
    want = _autograd_reference(e, expanded, lengths)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    weights = torch.randn(batch, generator=gen, dtype=torch.float64)
    finite = torch.isfinite(want)
    if not bool(finite.any()):
        return
    (grad_got,) = torch.autograd.grad((weights * got)[finite].sum(), e)
    (grad_want,) = torch.autograd.grad((weights * want)[finite].sum(), e)
    grad_want = torch.nan_to_num(grad_want)  # autograd leaves NaN where an unused entry is -inf
    torch.testing.assert_close(grad_got, grad_want, rtol=1e-10, atol=1e-10)


def test_a_sequence_with_no_path_gets_minus_inf_and_zero_gradient() -> None:
    expanded = expand(bigram_graph([torch.tensor([0, 1, 2, 1])], num_labels=3).to(dtype=torch.float64))
    e = torch.randn(2, 4, expanded.labels.shape[0], dtype=torch.float64)
    e[1, 2] = -math.inf  # frame 2 of sequence 1 allows no label
    e.requires_grad_()
    log_z = log_partition_frames(e, expanded.initial, expanded.transition, expanded.final, torch.tensor([4, 4]))
    assert torch.isfinite(log_z[0]) and torch.isneginf(log_z[1])
    (grad,) = torch.autograd.grad(log_z.masked_fill(torch.isneginf(log_z), 0.0).sum(), e)
    assert torch.isfinite(grad).all() and bool((grad[1] == 0).all())
    torch.testing.assert_close(grad[0].sum(-1), torch.ones(4, dtype=torch.float64))  # occupancies


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; this machine has none")
def test_pairwise_on_cuda_equals_cpu() -> None:
    gen = torch.Generator().manual_seed(1)
    graph = brute.random_graph(gen, num_states=4, num_labels=3, num_arcs=11).to(dtype=torch.float64)
    phi = torch.randn(5, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 3, 5, 1, 6])
    want = pairwise_log_partition(phi, graph, lengths)
    (grad_want,) = torch.autograd.grad(want.sum(), phi)
    phi_cuda = phi.detach().cuda().requires_grad_()
    got = pairwise_log_partition(phi_cuda, graph.to("cuda"), lengths.cuda())
    (grad_got,) = torch.autograd.grad(got.sum(), phi_cuda)
    torch.testing.assert_close(got.cpu(), want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad_got.cpu(), grad_want, rtol=1e-10, atol=1e-10)


def _wide_rows(dtype: torch.dtype) -> tuple[torch.Tensor, object]:
    """Emissions [4, 6, P]: rows 0-1 narrow; in rows 2-3 one state per frame lies 100 nats below."""
    gen = torch.Generator().manual_seed(3)
    graph = brute.random_graph(gen, num_states=4, num_labels=3, num_arcs=14).to(dtype=dtype)
    expanded = expand(graph)
    e = torch.randn(4, 6, expanded.labels.shape[0], generator=gen, dtype=torch.float64)
    e[2:, :, 0] -= 100.0  # a spread no float32 exponential of the scaled recursion can hold (limit ~77)
    return e.to(dtype), expanded


def test_rows_spread_beyond_the_float_range_take_the_log_space_recursion() -> None:
    e32, expanded32 = _wide_rows(torch.float32)
    e64, expanded64 = _wide_rows(torch.float64)
    lengths = torch.full((4,), 6)
    weights32 = (expanded32.initial, expanded32.transition, expanded32.final)
    assert bool(
        (frame_spread(e32.transpose(0, 1)) > spread_limit(torch.float32)).tolist() == [False, False, True, True]
    )
    e32.requires_grad_()
    got = log_partition_frames(e32, *weights32, lengths)
    log_space = _LogPartition.apply(e32.detach().transpose(0, 1).contiguous(), *weights32, lengths, False)
    assert torch.equal(got[2:].detach(), log_space[2:])  # the wide rows: the log-space recursion's result
    e64.requires_grad_()
    want = _autograd_reference(e64, expanded64, lengths)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    (grad_got,) = torch.autograd.grad(got.sum(), e32)
    (grad_want,) = torch.autograd.grad(want.sum(), e64)
    torch.testing.assert_close(grad_got.double(), grad_want, rtol=1e-4, atol=1e-5)


def test_pairwise_pairs_with_a_wide_sequence_keep_float32_accuracy() -> None:
    gen = torch.Generator().manual_seed(3)
    graph = brute.random_graph(gen, num_states=4, num_labels=3, num_arcs=14)
    phi32 = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(4))
    phi32[2:, :, 0] -= 100.0
    phi32.requires_grad_()
    phi64 = phi32.detach().double().requires_grad_()
    got = pairwise_log_partition(phi32, graph.to(dtype=torch.float32))
    want = pairwise_log_partition(phi64, graph.to(dtype=torch.float64))
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)
    (grad_got,) = torch.autograd.grad(got.sum(), phi32)
    (grad_want,) = torch.autograd.grad(want.sum(), phi64)
    torch.testing.assert_close(grad_got.double(), grad_want, rtol=1e-4, atol=1e-5)
