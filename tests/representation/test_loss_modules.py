"""One battery over every loss module: a loss tensor out, the readout kept, equal to the functional form.

Each case pairs a loss module with its functional form (``infonce_loss`` or ``mi_loss`` with the
same settings). The module returns the 0-d loss tensor (``.backward()`` works), keeps the batch's
``MILossResult`` detached in ``last_readout``, returns that result with ``return_readout=True``,
and matches the functional form in value, readout, ceiling, K and gradients.
"""

from __future__ import annotations

import copy
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from mibounds import representation
from mibounds.representation import (
    DVLoss,
    InfoNCELoss,
    JSLoss,
    MILoss,
    MILossResult,
    NWJLoss,
    ReadoutLoss,
    infonce_loss,
    loss_with_readout,
    mi_loss,
)


@dataclass(frozen=True)
class Case:
    """A loss module (built with ``make(return_readout=...)``) and its functional form."""

    name: str
    make: Callable[..., ReadoutLoss]
    functional: Callable[[Tensor, Tensor, float], MILossResult]  # (x, y, the module's temperature)


def _infonce(**settings: Any) -> Case:
    def make(**kwargs: Any) -> ReadoutLoss:
        return InfoNCELoss(**settings, **kwargs)

    def functional(x: Tensor, y: Tensor, temperature: float) -> MILossResult:
        params = {k: v for k, v in settings.items() if k in ("similarity", "symmetric", "block_size")}
        return infonce_loss(x, y, temperature=temperature, **params)

    label = ",".join(f"{k}={v}" for k, v in settings.items())
    return Case(f"InfoNCELoss({label})", make, functional)


def _family(cls: type[MILoss] | None, bound: str, **settings: Any) -> Case:
    def make(**kwargs: Any) -> ReadoutLoss:
        return MILoss(bound, **settings, **kwargs) if cls is None else cls(**settings, **kwargs)

    def functional(x: Tensor, y: Tensor, temperature: float) -> MILossResult:
        params = {k: v for k, v in settings.items() if k in ("similarity", "symmetric")}
        return mi_loss(x, y, bound, temperature=temperature, **params)

    label = ",".join([repr(bound) if cls is None else "", *(f"{k}={v}" for k, v in settings.items())]).strip(",")
    return Case(f"{'MILoss' if cls is None else cls.__name__}({label})", make, functional)


CASES = [
    _infonce(temperature=0.5),
    _infonce(temperature=0.3, symmetric=False, similarity="dot"),
    _infonce(temperature=0.5, block_size=3),
    _infonce(temperature=0.5, learnable_temperature=True),
    *(_family(None, bound, temperature=0.7) for bound in ("js", "dv", "nwj", "infonce", "smile", "mine")),
    _family(None, "dv", temperature=0.7, symmetric=True, similarity="dot"),
    _family(None, "js", temperature=0.7, learnable_temperature=True),
    _family(JSLoss, "js", temperature=0.5),
    _family(DVLoss, "dv", temperature=0.5),
    _family(NWJLoss, "nwj", temperature=0.5),
]


def batch(dtype: torch.dtype, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(9, 4, generator=g, dtype=dtype)
    return x, x + 0.5 * torch.randn(9, 4, generator=g, dtype=dtype)


def inputs_with_grad(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    return x.clone().requires_grad_(True), y.clone().requires_grad_(True)


def test_the_battery_covers_every_loss_module() -> None:
    exported = {
        obj
        for obj in (getattr(representation, name) for name in representation.__all__)
        if isinstance(obj, type) and issubclass(obj, ReadoutLoss) and obj is not ReadoutLoss
    }
    covered = {type(case.make()) for case in CASES}
    assert exported == covered == {InfoNCELoss, MILoss, JSLoss, DVLoss, NWJLoss}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_loss_tensor_out_with_the_readout_kept(case: Case, dtype: torch.dtype) -> None:
    module = case.make().to(dtype)
    assert module.last_readout is None and module.return_readout is False
    x, y = inputs_with_grad(*batch(dtype))
    loss = module(x, y)
    assert isinstance(loss, Tensor) and loss.dim() == 0 and loss.dtype == dtype and loss.requires_grad
    loss.backward()  # the drop-in use: a tensor to minimize
    assert x.grad is not None and y.grad is not None and bool(torch.isfinite(x.grad).all())
    for parameter in module.parameters():  # a learnable temperature gets its gradient
        assert parameter.grad is not None and bool(torch.isfinite(parameter.grad))
    readout = module.last_readout
    assert isinstance(readout, MILossResult)
    assert not readout.loss.requires_grad and not readout.mi.requires_grad
    assert torch.equal(readout.loss, loss.detach())
    assert readout.batch_size == 9
    if readout.ceiling is not None:
        assert float(readout.mi) <= readout.ceiling + 1e-5


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_module_equals_its_functional_form(case: Case) -> None:
    x, y = batch(torch.float64, seed=1)
    module = case.make().double()
    xm, ym = inputs_with_grad(x, y)
    module(xm, ym).backward()
    xf, yf = inputs_with_grad(x, y)
    # The module stores log(tau) in float32: compare at the temperature it holds.
    want = case.functional(xf, yf, module.temperature.item())
    want.loss.backward()
    got = module.last_readout
    torch.testing.assert_close(got.loss, want.loss.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.mi, want.mi, rtol=1e-12, atol=1e-12)
    assert got.ceiling == want.ceiling and got.batch_size == want.batch_size
    torch.testing.assert_close(xm.grad, xf.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ym.grad, yf.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_return_readout_gives_the_result_with_the_gradient(case: Case) -> None:
    x, y = batch(torch.float64, seed=2)
    plain, opt_in = case.make().double(), case.make(return_readout=True).double()
    loss = plain(*inputs_with_grad(x, y))
    result = opt_in(*inputs_with_grad(x, y))
    assert isinstance(result, MILossResult) and result.loss.requires_grad
    torch.testing.assert_close(result.loss, loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(result.mi, plain.last_readout.mi, rtol=1e-12, atol=1e-12)
    assert opt_in.last_readout is not None and not opt_in.last_readout.loss.requires_grad
    assert "return_readout=True" in repr(opt_in) and "return_readout" not in repr(plain)
    # loss_with_readout reads either kind the same way, the loss carrying the gradient.
    for module in (case.make().double(), case.make(return_readout=True).double()):
        both = loss_with_readout(module, *inputs_with_grad(x, y))
        assert both.loss.requires_grad
        torch.testing.assert_close(both.mi, result.mi, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_call_replaces_the_readout_in_training_and_in_evaluation(case: Case) -> None:
    module = case.make().double()
    x, y = batch(torch.float64, seed=3)
    module(x, y)
    first = module.last_readout
    module.eval()
    with torch.no_grad():
        loss = module(x, y.flip(0))
    assert module.last_readout is not first and torch.equal(module.last_readout.loss, loss)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_state_dict_round_trip_and_copies(case: Case) -> None:
    module = case.make().double()
    x, y = batch(torch.float64, seed=4)
    module(x, y)
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    restored = case.make().double()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert set(restored.state_dict()) == set(module.state_dict())  # the readout is not state
    twin = copy.deepcopy(module)  # MultiViewContrastive copies its template loss per pair
    twin(x, y.flip(0))
    assert twin.last_readout is not module.last_readout


def test_loss_with_readout_names_the_fix_for_a_module_without_a_readout() -> None:
    with pytest.raises(TypeError, match="keeps no last_readout"):
        loss_with_readout(nn.MSELoss(), torch.zeros(2), torch.ones(2))


def test_the_issue_snippet_runs() -> None:
    z1 = torch.randn(16, 8, requires_grad=True)
    z2 = z1 + 0.1 * torch.randn(16, 8)
    loss = InfoNCELoss(temperature=0.1)(z1, z2)
    loss.backward()
    assert z1.grad is not None and math.isfinite(loss.item())
