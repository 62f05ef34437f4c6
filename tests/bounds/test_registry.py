"""The registry's metadata and the modules: a module returns exactly what its function returns."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds import bounds

SCORE_BOUNDS = bounds.names(score_based=True)


def test_names_cover_the_literature_table() -> None:
    expected = {
        "tuba",
        "nwj",
        "dv",
        "mine",
        "infonce",
        "js",
        "smile",
        "interpolated",
        "ba",
        "uba",
        "tnce",
        "rate",
        "leave_one_out_upper",
        "club",
    }
    assert set(bounds.names()) == expected
    assert set(bounds.names(kind="upper")) == {"rate", "leave_one_out_upper", "club"}
    assert set(bounds.names(score_based=False)) == {"ba", "uba", "tnce", "rate", "leave_one_out_upper", "club"}


@pytest.mark.parametrize("name", bounds.names())
def test_every_entry_is_complete(name: str) -> None:
    info = bounds.get(name)
    assert info.name == name and callable(info.fn)
    assert info.kind in ("lower", "upper")
    assert info.needs and info.reference and info.summary
    assert 1980 <= info.year <= 2030


def test_ceilings() -> None:
    assert bounds.get("infonce").ceiling_for(64) == pytest.approx(math.log(64))
    assert bounds.get("tnce").ceiling_for(64) == pytest.approx(math.log(64))
    assert bounds.get("interpolated").ceiling_for(64, alpha=0.01) == pytest.approx(1 + math.log(63 / 0.01))
    assert bounds.get("interpolated").ceiling_for(64, alpha=0.0) is None
    assert bounds.get("nwj").ceiling_for(64) is None


# Poole et al. 2019, Table 1, as the seed text prints it: L, grad L, batch-size independence,
# variance, normalization (True: check mark, False: cross, None: dash).
TABLE_1 = {
    "ba": (False, True, True, True, False),
    "dv": (False, False, None, None, None),
    "nwj": (True, True, True, False, True),
    "mine": (False, True, True, False, True),
    "infonce": (True, True, False, True, True),
    "js": (True, True, True, False, True),
    "interpolated": (True, True, False, True, True),
}


@pytest.mark.parametrize("name", bounds.names())
def test_table_1_columns(name: str) -> None:
    info = bounds.get(name)
    if info.kind == "upper":
        assert info.traits is None and not info.population_only
        return
    traits = info.traits
    assert traits is not None
    row = tuple(getattr(traits, field) for field, _ in bounds.Traits.COLUMNS)
    if name in TABLE_1:
        assert traits.in_table_1 and row == TABLE_1[name]
    else:
        assert not traits.in_table_1 and "not in Table 1" in traits.source
    # Lower bounds in population only: their batch estimate of log E_q e^f is biased low.
    assert info.population_only == (name in ("dv", "mine", "smile"))


def test_lookup_is_forgiving_and_errors_are_helpful() -> None:
    assert bounds.get("InfoNCE").name == "infonce"
    assert bounds.get("leave-one-out-upper").name == "leave_one_out_upper"
    with pytest.raises(ValueError, match=r"unknown bound 'infonse'\. Did you mean 'infonce'\?.*Valid bounds: .*nwj"):
        bounds.get("infonse")
    with pytest.raises(ValueError, match=r"bound 'smile' has no parameter 'alpha'; its parameters: clip"):
        bounds.Bound("smile", alpha=0.5)
    with pytest.raises(ValueError, match=r"bound 'club' needs log_conditional.*call mibounds.bounds.club"):
        bounds.Bound("club")
    with pytest.raises(ValueError, match=r"needs log_baseline"):
        bounds.Bound("tuba")(torch.zeros(3, 3))


MODULE_CASES = [
    (bounds.TUBA(), lambda s, la: bounds.tuba(s, la)),
    (bounds.NWJ(), lambda s, la: bounds.nwj(s)),
    (bounds.DV(), lambda s, la: bounds.dv(s)),
    (bounds.JS(), lambda s, la: bounds.js(s)),
    (bounds.InfoNCE(), lambda s, la: bounds.infonce(s)),
    (bounds.InfoNCE(symmetric=True), lambda s, la: bounds.infonce(s, symmetric=True)),
    (bounds.SMILE(clip=1.0), lambda s, la: bounds.smile(s, clip=1.0)),
    (bounds.SMILE(clip=None), lambda s, la: bounds.smile(s, clip=None)),
    (bounds.Interpolated(alpha=0.3), lambda s, la: bounds.interpolated(s, la, 0.3)),
] + [(bounds.make(name), None) for name in SCORE_BOUNDS if name != "mine"]


@pytest.mark.parametrize(
    ("module", "function"), MODULE_CASES, ids=lambda c: repr(c) if isinstance(c, torch.nn.Module) else ""
)
def test_modules_return_exactly_what_functions_return(module: bounds.Bound, function) -> None:
    generator = torch.Generator().manual_seed(0)
    s = torch.randn(6, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    la = torch.randn(6, generator=generator, dtype=torch.float64)
    if function is None:  # registry defaults: call the registered function with them
        function = lambda t, b: module.info.fn(t, *([b] if module.needs_baseline else []), **module.info.params)  # noqa: E731
    baseline = la if module.needs_baseline else None
    out_module, out_function = module(s, baseline), function(s, la)
    assert torch.equal(out_module, out_function)
    (g_module,) = torch.autograd.grad(out_module, s)
    (g_function,) = torch.autograd.grad(out_function, s)
    assert torch.equal(g_module, g_function)


def test_mine_module_keeps_a_moving_average() -> None:
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(5, 5, generator=generator, dtype=torch.float64) for _ in range(3)]
    module = bounds.MINE(rate=0.25)
    log_m = None
    for s in batches:
        batch_log_m = float(bounds.dv(torch.zeros_like(s)) - bounds.dv(s) + s.diagonal().mean())  # log mean_off e^S
        log_m = batch_log_m if log_m is None else math.log(0.75 * math.exp(log_m) + 0.25 * math.exp(batch_log_m))
        out = module(s.clone().requires_grad_(True))
        assert float(module.log_moving_average) == pytest.approx(log_m, rel=1e-12)
        assert float(out.detach()) == pytest.approx(float(bounds.dv(s)), rel=1e-12)
    s = batches[0].clone().requires_grad_(True)
    (g_module,) = torch.autograd.grad(module(s), s)
    assert float(module.log_moving_average) != pytest.approx(log_m, rel=1e-12)  # updated again
    (g_function,) = torch.autograd.grad(bounds.mine(s, module.log_moving_average), s)
    assert torch.equal(g_module, g_function)
    # Evaluation leaves the state alone.
    module.eval()
    before = module.log_moving_average.clone()
    module(batches[1])
    assert torch.equal(module.log_moving_average, before)
    # The state is saved with the module.
    assert "log_moving_average" in module.state_dict()


def test_one_label_syntax_names_a_bound_with_its_parameter() -> None:
    assert bounds.parse("smile:5")[1] == {"clip": 5.0}
    assert bounds.parse("SMILE:inf")[1] == {"clip": None}
    assert bounds.parse("interpolated:alpha=0.9") == (bounds.get("interpolated"), {"alpha": 0.9})
    assert bounds.parse("mine:0.1")[1] == {"rate": 0.1}
    assert bounds.parse("nwj") == (bounds.get("nwj"), {})
    assert bounds.make("smile:1").params == {"clip": 1.0}
    assert bounds.make("mine:0.2").params == {"rate": 0.2}
    assert bounds.Bound("interpolated:0.9").params == {"alpha": 0.9}
    with pytest.raises(ValueError, match="also given as a keyword"):
        bounds.make("smile:1", clip=2.0)
    with pytest.raises(ValueError, match="has no parameter"):
        bounds.parse("nwj:3")
    with pytest.raises(ValueError, match="is not a number"):
        bounds.parse("smile:five")
