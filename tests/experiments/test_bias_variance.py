"""Bias and variance with the optimal critic: closed-form facts checked on repeated batches.

Tolerances are 5 standard errors of the mean, computed from the repeated batches themselves.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mibounds.experiments import bias_variance as bv
from mibounds.experiments.staircase import BoundSpec

K = 16
SMALL = dict(
    dim=4,
    repeats=300,
    mi_grid=(0.0, 1.5, 4.0),
    batch_size=K,
    k_grid=(4, 32),
    fixed_mi=2.0,
    alphas=(0.01, 0.5, 1.0),
    alpha_mi=(1.0, 4.0),
)


@pytest.fixture(scope="module")
def config() -> bv.BiasVarianceConfig:
    return bv.BiasVarianceConfig(**SMALL)


@pytest.fixture(scope="module")
def values(config: bv.BiasVarianceConfig) -> dict[str, np.ndarray]:
    """Per bound label, estimates on the same 300 batches of K = 16 pairs at 4 nats."""
    specs = [BoundSpec.parse(label) for label in config.bounds]
    return dict(zip(config.bounds, bv.estimates(config, specs, 4.0, K, seed=1), strict=True))


@pytest.fixture(scope="module")
def result(config: bv.BiasVarianceConfig) -> bv.BiasVarianceResult:
    # Fewer batches: this run checks the tables' structure and trends far larger than their noise.
    return bv.run_bias_variance(dataclasses.replace(config, repeats=100))


def _within(values: np.ndarray, truth: float) -> bool:
    se = values.std(ddof=1) / math.sqrt(values.size)
    return abs(values.mean() - truth) <= 5 * se


def test_unbiased_bounds_with_their_optimal_critic(values: dict[str, np.ndarray]) -> None:
    # NWJ at its optimum 1 + log r, and the rate with the true marginal, are unbiased.
    assert _within(values["nwj"], 4.0)
    assert _within(values["rate"], 4.0)


def test_bounds_that_coincide_at_the_optimum(values: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(values["tuba"], values["nwj"], rtol=1e-9)
    np.testing.assert_allclose(values["js"], values["nwj"], rtol=1e-9)
    np.testing.assert_allclose(values["mine"], values["dv"], rtol=1e-12)
    np.testing.assert_allclose(values["smile:inf"], values["dv"], rtol=1e-12)
    np.testing.assert_allclose(values["tnce"], values["infonce"], rtol=1e-9)


def test_orderings_on_every_batch(values: dict[str, np.ndarray]) -> None:
    log_k = math.log(K)
    assert np.all(values["infonce"] <= log_k + 1e-12)  # so its bias here is at most log 16 - 4 < 0
    assert np.all(values["dv"] >= values["nwj"] - 1e-12)  # log u <= u / e on the same scores
    for alpha in (0.01, 0.5, 0.99):
        assert np.all(values[f"interpolated:{alpha:g}"] <= 1 + math.log(K / alpha))
    # Upper bounds hold in expectation: their means are not below the truth by more than 5 SE.
    for label in ("leave_one_out_upper", "club"):
        v = values[label]
        assert v.mean() >= 4.0 - 5 * v.std(ddof=1) / math.sqrt(v.size)


def test_tables_have_every_bound_and_point(result: bv.BiasVarianceResult, config: bv.BiasVarianceConfig) -> None:
    table = result.table
    assert len(table.where(sweep="mi").rows) == len(config.bounds) * len(config.mi_grid)
    assert len(table.where(sweep="k").rows) == len(config.bounds) * len(config.k_grid)
    assert len(table.where(sweep="alpha").rows) == len(config.alphas) * len(config.alpha_mi)
    for record in table.records():
        assert record["mse"] == pytest.approx(
            record["bias"] ** 2 + record["variance"] * (record["repeats"] - 1) / record["repeats"], rel=1e-9, abs=1e-12
        )
    # At zero MI log r = 0: every score-based bound is exactly 0 on every batch.
    for record in table.where(sweep="mi", true_mi=0.0).records():
        if BoundSpec.parse(record["bound"]).trained:
            assert abs(record["mean"]) < 1e-12 and record["variance"] < 1e-20
    # InfoNCE's bias shrinks as K grows (log K ceiling), NWJ's variance too.
    k_rows = {(r["bound"], r["k"]): r for r in table.where(sweep="k").records()}
    assert k_rows[("infonce", 32)]["bias"] > k_rows[("infonce", 4)]["bias"]
    assert k_rows[("nwj", 32)]["variance"] < k_rows[("nwj", 4)]["variance"]
    markdown = result.markdown()
    for label in config.bounds:
        assert f"| {label} |" in markdown
    assert "α = 0.5" in markdown


def test_critic_of_each_bound_is_documented() -> None:
    assert bv.optimal_critic("nwj") == "1 + log r"
    assert bv.optimal_critic("tuba") == "log r, log a(y) = 0"
    assert bv.optimal_critic("infonce") == "log r"
    assert bv.optimal_critic("club") == "log p(y|x)"
    assert bv.optimal_critic("rate") == "log p(y|x), true log p(y)"


def test_figures_are_written(result: bv.BiasVarianceResult, tmp_path) -> None:
    from matplotlib import image

    written = result.save(tmp_path)
    for name in ("png", "png_alpha"):
        assert written[name].stat().st_size > 20_000
        pixels = image.imread(written[name])
        assert pixels[..., :3].std() > 0.05
    assert (tmp_path / "bias_variance.csv").read_text().startswith("sweep,bound,critic,true_mi,k,alpha")
    reloaded = bv.load_result(tmp_path)
    assert reloaded.config == result.config and reloaded.markdown() == result.markdown()
    assert "| tnce | log p(y\\|x) |" in result.markdown()  # the | of the critic is escaped in its cell


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="decoder"):
        bv.BiasVarianceConfig(bounds=("ba",))
    with pytest.raises(ValueError, match="repeats"):
        bv.BiasVarianceConfig(repeats=1)
    with pytest.raises(ValueError, match="alphas"):
        bv.BiasVarianceConfig(alphas=(1.5,))


def test_cli_writes_the_tables(tmp_path, capsys) -> None:
    import argparse

    from mibounds.cli import bench

    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "bench",
            "bias-variance",
            "--dim",
            "3",
            "--bounds",
            "nwj",
            "infonce",
            "--mi",
            "1",
            "--batch-size",
            "8",
            "--batch-sizes",
            "4",
            "--fixed-mi",
            "1",
            "--alphas",
            "0.5",
            "--alpha-mi",
            "1",
            "--repeats",
            "20",
            "--out",
            str(tmp_path),
            "--no-figures",
        ]
    )
    assert args.func(args) == 0
    assert "| nwj | 1 + log r |" in (tmp_path / "bias_variance.md").read_text()
    assert "wall-clock" in capsys.readouterr().out
