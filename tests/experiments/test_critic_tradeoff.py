"""Separable vs concat critic: the side-by-side tables from a reduced staircase run."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mibounds.experiments import critic_tradeoff as ct
from mibounds.experiments import staircase as st

TINY = st.StaircaseConfig(
    tasks=("gaussian",),
    bounds=("nwj", "infonce", "interpolated:0.5", "tnce"),
    levels=(1.0, 2.0),
    steps_per_level=8,
    batch_size=8,
    dim=3,
    hidden_dim=6,
    embed_dim=3,
    baseline_hidden_dim=6,
    window=4,
)


@pytest.fixture(scope="module")
def run() -> st.StaircaseResult:
    return st.run_staircase(TINY, threads=1, progress=False)


@pytest.fixture(scope="module")
def tradeoff(run: st.StaircaseResult) -> ct.CriticTradeoffResult:
    return ct.critic_tradeoff(run, timing_steps=2)


def test_timing_table_has_both_critics(tradeoff: ct.CriticTradeoffResult) -> None:
    rows = {r["critic"]: r for r in tradeoff.timing.records()}
    assert set(rows) == {"separable", "concat"}
    for row in rows.values():
        for column in ("ms/step, 1 critic", "ms/step, stack of 3", "staircase ms/step (per task)"):
            assert math.isfinite(row[column]) and row[column] > 0
        assert row["ms/step per stacked critic"] == pytest.approx(row["ms/step, stack of 3"] / 3)
    # Parameters of one critic, counted by hand: separable = two MLPs 3 -> 6 -> 6 -> 3,
    # concat = one MLP 6 -> 6 -> 6 -> 1 (weights + biases).
    separable = 2 * ((3 * 6 + 6) + (6 * 6 + 6) + (6 * 3 + 3))
    concat = (6 * 6 + 6) + (6 * 6 + 6) + (6 * 1 + 1)
    assert rows["separable"]["parameters"] == separable and rows["concat"]["parameters"] == concat


def test_error_table_matches_the_stage_statistics(run: st.StaircaseResult, tradeoff: ct.CriticTradeoffResult) -> None:
    errors = {r["bound"]: r for r in tradeoff.errors.records()}
    assert set(errors) == {"nwj", "infonce", "interpolated:0.5"}  # trained bounds only
    for bound, row in errors.items():
        for critic in ("separable", "concat"):
            series = run.series("gaussian", critic, bound).astype(np.float64)
            per_stage = [series[(s + 1) * 8 - 4 : (s + 1) * 8] - level for s, level in enumerate((1.0, 2.0))]
            assert row[f"{critic} MSE"] == pytest.approx(np.mean([np.mean(d**2) for d in per_stage]))
            assert row[f"{critic} bias at I = 1, 2"] == " / ".join(f"{d.mean():.2f}" for d in per_stage)
    markdown = tradeoff.markdown()
    assert "| separable |" in markdown and "| gaussian | nwj |" in markdown


def test_saved_tables(tradeoff: ct.CriticTradeoffResult, tmp_path) -> None:
    written = tradeoff.save(tmp_path)
    assert written["timing_csv"].read_text().splitlines()[0].startswith("critic,parameters,")
    assert len(written["errors_csv"].read_text().splitlines()) == 1 + 3


def test_a_run_without_both_critics_is_refused(run: st.StaircaseResult) -> None:
    separable_only = dataclasses.replace(
        run,
        keys=[k for k in run.keys if k[1] != "concat"],
        values=run.values[[i for i, k in enumerate(run.keys) if k[1] != "concat"]],
    )
    with pytest.raises(ValueError, match="no concat critic"):
        ct.critic_tradeoff(separable_only, timing_steps=1)


def test_cli_compares_a_saved_run(run: st.StaircaseResult, tmp_path) -> None:
    import argparse

    from mibounds.cli import bench

    run.save(tmp_path / "run", figures=False)
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(
        ["bench", "critics", "--from", str(tmp_path / "run"), "--timing-steps", "1", "--out", str(tmp_path / "critics")]
    )
    assert args.func(args) == 0
    assert "| gaussian | nwj |" in (tmp_path / "critics" / "critics.md").read_text()
