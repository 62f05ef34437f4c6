"""Chunked bounds of separable critics equal the materialized bounds, value and gradient (float64)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibounds import bounds
from mibounds.bounds import chunked

Pair = tuple[Callable[..., torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]

# (chunked function on embeddings, the same bound on the materialized score matrix)
PAIRS: dict[str, Pair] = {
    "infonce": (bounds.infonce_embeddings, bounds.infonce),
    "infonce_symmetric": (
        lambda g, h, **kw: bounds.infonce_embeddings(g, h, symmetric=True, **kw),
        lambda s: bounds.infonce(s, symmetric=True),
    ),
    "dv": (bounds.dv_embeddings, bounds.dv),
    "nwj": (bounds.nwj_embeddings, bounds.nwj),
    "js": (bounds.js_embeddings, bounds.js),
    "smile": (bounds.smile_embeddings, bounds.smile),
    "smile_clip1": (
        lambda g, h, **kw: bounds.smile_embeddings(g, h, clip=1.0, **kw),
        lambda s: bounds.smile(s, clip=1.0),
    ),
    "smile_unclipped": (
        lambda g, h, **kw: bounds.smile_embeddings(g, h, clip=None, **kw),
        lambda s: bounds.smile(s, clip=None),
    ),
}


def _embeddings(
    seed: int, k: int, d: int, scale: float = 1.0, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    g = scale * torch.randn(k, d, generator=gen, dtype=torch.float64)
    h = 0.5 * g + scale * torch.randn(k, d, generator=gen, dtype=torch.float64)  # correlated pairs
    return g.to(device).requires_grad_(), h.to(device).requires_grad_()


def _value_and_grads(fn: Callable[[], torch.Tensor], inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    value = fn()
    return [value.detach(), *torch.autograd.grad(value, inputs)]


def _assert_equal(name: str, g: torch.Tensor, h: torch.Tensor, temperature: float, block_size: int | None) -> None:
    chunked, materialized = PAIRS[name]
    tau = torch.tensor(temperature, dtype=torch.float64, device=g.device, requires_grad=True)
    got = _value_and_grads(lambda: chunked(g, h, temperature=tau, block_size=block_size), (g, h, tau))
    want = _value_and_grads(lambda: materialized(g @ h.T / tau), (g, h, tau))
    for part, a, b in zip(("value", "grad g", "grad h", "grad temperature"), got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=lambda m, part=part: f"{name} {part}: {m}")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(2, 40),
    d=st.integers(1, 9),
    temperature=st.floats(0.05, 5.0),
    block_size=st.one_of(st.none(), st.integers(1, 50)),
    name=st.sampled_from(sorted(PAIRS)),
)
def test_chunked_equals_materialized_value_and_gradient(
    seed: int, k: int, d: int, temperature: float, block_size: int | None, name: str
) -> None:
    g, h = _embeddings(seed, k, d)
    _assert_equal(name, g, h, temperature, block_size)


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("block_size", [1, 3, 7, None])
def test_every_bound_and_block_edge(name: str, block_size: int | None) -> None:
    g, h = _embeddings(0, 7, 4, scale=2.0)  # block sizes that divide 7, do not, and exceed it
    _assert_equal(name, g, h, 0.3, block_size)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 30), block_size=st.integers(1, 31))
def test_all_pairs_statistics_equal_the_materialized_reductions(seed: int, k: int, block_size: int) -> None:
    g, h = _embeddings(seed, k, 3)
    stats = bounds.all_pairs_embeddings(g, h, temperature=0.5, block_size=block_size)
    scores = (g @ h.T / 0.5).detach()
    off = scores.masked_fill(torch.eye(k, dtype=torch.bool), -math.inf)
    torch.testing.assert_close(
        stats.column_log_partition, torch.logsumexp(off, 0) - math.log(k - 1), rtol=1e-10, atol=1e-10
    )
    for value, want in (
        (stats.dv, bounds.dv(scores)),
        (stats.nwj, bounds.nwj(scores)),
        (stats.infonce, bounds.infonce(scores)),
    ):
        torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-10)
    assert not stats.log_partition.requires_grad


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_values_without_gradient_equal_materialized(name: str) -> None:
    g, h = _embeddings(1, 50, 8)
    chunked, materialized = PAIRS[name]
    with torch.no_grad():
        value = chunked(g, h, temperature=0.5, block_size=8)
        want = materialized(g @ h.T / 0.5)
    assert not value.requires_grad
    torch.testing.assert_close(value, want, rtol=1e-10, atol=1e-10)


def test_float32_runs() -> None:
    g, h = _embeddings(1, 50, 8)
    g32, h32 = g.detach().float(), h.detach().float()
    assert bounds.dv_embeddings(g32, h32, block_size=8).dtype == torch.float32


def test_bad_inputs_raise_actionable_errors() -> None:
    g, h = _embeddings(2, 4, 3)
    with pytest.raises(ValueError, match="paired embeddings"):
        bounds.infonce_embeddings(g, h[:3])
    with pytest.raises(ValueError, match="block_size"):
        bounds.infonce_embeddings(g, h, block_size=0)
    with pytest.raises(ValueError, match="temperature"):
        bounds.dv_embeddings(g, h, temperature=-1.0)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        bounds.nwj_embeddings(g[:1], h[:1])


@pytest.mark.parametrize("block_size", [None, 1, 3])
def test_infonce_partition_with_extra_negatives_equals_the_materialized_one(block_size: int | None) -> None:
    a, _ = _embeddings(3, 7, 4)  # 7 x candidates: 5 paired rows and 2 extra negatives
    _, h = _embeddings(4, 5, 4)
    got = _value_and_grads(lambda: chunked.infonce_partition(a, h, block_size=block_size), (a, h))
    want = _value_and_grads(lambda: torch.logsumexp(a @ h.T, dim=0).mean(), (a, h))
    for x, y in zip(got, want, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)
    square = a[:5]
    both = chunked.infonce_partition(square, h, symmetric=True, block_size=block_size)
    s = square @ h.T
    torch.testing.assert_close(both, (torch.logsumexp(s, 0).mean() + torch.logsumexp(s, 1).mean()) / 2)
    with pytest.raises(ValueError, match="symmetric=True needs as many rows"):
        chunked.infonce_partition(a, h, symmetric=True)
    with pytest.raises(ValueError, match="same width"):
        chunked.infonce_partition(a, h[:, :3])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; this machine has none")
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_chunked_on_cuda_equals_materialized(name: str) -> None:
    g, h = _embeddings(3, 300, 16, device="cuda")
    _assert_equal(name, g, h, 0.2, 64)
    stats = bounds.all_pairs_embeddings(g, h, block_size=64)
    assert stats.log_partition.device.type == "cuda"


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    for module in ("mibounds.bounds.chunked", "mibounds.bounds._blocked"):
        assert doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS).failed == 0


def test_softplus_is_exact_in_float64_above_torchs_threshold():
    # torch's softplus returns x above 20 (its gradient then exactly 1); float64 resolves e^-25.
    from mibounds.bounds._reductions import softplus

    x = torch.tensor([25.0, 30.0], dtype=torch.float64, requires_grad=True)
    value = softplus(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    torch.testing.assert_close(value, torch.log1p(torch.exp(x.detach())), rtol=2e-16, atol=0)  # 1 ulp
    torch.testing.assert_close(grad, torch.sigmoid(x.detach()), rtol=0, atol=2.3e-16)  # 2 ulps at 1
    assert (grad < 1).all()
