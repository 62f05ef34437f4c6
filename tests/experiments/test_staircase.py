"""The staircase experiment: a reduced run (few steps, tiny networks) checked end to end.

The full staircase (5 x 4,000 steps, 2 x 256 critics) is not a unit test; it is run with
``mibounds bench staircase`` and its results are in docs/experiments.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mibounds.experiments import staircase as st
from mibounds.experiments.figures import Table
from mibounds.experiments.staircase.figure import ema
from mibounds.experiments.staircase.training import _Batches

K = 16
TINY = dict(
    levels=(2.0, 4.0),
    steps_per_level=12,
    batch_size=K,
    hidden_dim=8,
    embed_dim=4,
    baseline_hidden_dim=8,
    window=6,
    dim=4,
)


@pytest.fixture(scope="module")
def result() -> st.StaircaseResult:
    return st.run_staircase(st.StaircaseConfig(**TINY), threads=1, progress=False)


@pytest.fixture(scope="module")
def saved(result: st.StaircaseResult, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return result.save(tmp_path_factory.mktemp("staircase"))


def test_every_bound_critic_task_and_stage_is_in_the_tables(result: st.StaircaseResult) -> None:
    table = result.stage_table()
    trained = [s.label for s in result.config.specs if s.trained]
    structured = [s.label for s in result.config.specs if not s.trained]
    assert len(trained) == 12 and structured == ["tnce", "rate", "leave_one_out_upper", "club"]
    expected = {
        (t, c, b, stage)
        for t in ("gaussian", "cubic")
        for stage in (1, 2)
        for c, labels in (("separable", trained), ("concat", trained), ("conditional", structured))
        for b in labels
    }
    got = {(r["task"], r["critic"], r["bound"], r["stage"]) for r in table.records()}
    assert got == expected and len(table.rows) == len(expected)
    markdown = result.markdown()
    for label in st.DEFAULT_BOUNDS:
        assert f"| {label} |" in markdown
    assert "I = 2" in markdown and "I = 4" in markdown and "wall-clock" in markdown


def test_stage_statistics_are_taken_over_the_last_window_of_each_stage(result: st.StaircaseResult) -> None:
    cfg = result.config
    series = result.series("cubic", "concat", "nwj")
    row = result.stage_table().where(task="cubic", critic="concat", bound="nwj", stage=2).records()[0]
    last = series[2 * cfg.steps_per_level - cfg.window : 2 * cfg.steps_per_level].astype(np.float64)
    assert row["true_mi"] == 4.0
    assert row["bias"] == pytest.approx(last.mean() - 4.0)
    assert row["variance"] == pytest.approx(last.var(ddof=1))
    assert row["mse"] == pytest.approx(np.mean((last - 4.0) ** 2))


def test_stage_statistics_exact() -> None:
    stats = st.stage_statistics(np.array([1.0, 2.0, 3.0, np.inf]), truth=2.0)
    assert stats == {"mean": 2.0, "bias": 0.0, "variance": 1.0, "mse": pytest.approx(2 / 3), "nonfinite": 1}


def test_infonce_and_tnce_never_exceed_log_k_and_interpolated_stays_under_its_ceiling(
    result: st.StaircaseResult,
) -> None:
    log_k = math.log(K)
    for task in result.config.tasks:
        for critic, label in (("separable", "infonce"), ("concat", "infonce"), ("conditional", "tnce")):
            assert np.all(result.series(task, critic, label) <= log_k + 1e-5)
        for critic in ("separable", "concat"):
            for alpha in (0.01, 0.5, 0.99):
                ceiling = 1 + math.log((K - 1) / alpha)  # the supremum (Poole et al.'s log(K/alpha) is exceeded)
                assert np.all(result.series(task, critic, f"interpolated:{alpha:g}") <= ceiling + 1e-5)


def test_published_behaviour_checks(result: st.StaircaseResult) -> None:
    checks = result.checks()
    ceilings = [r for r in checks.records() if r["check"].startswith("max ")]
    # 2 tasks x 2 critics x (InfoNCE + 3 I_alpha): ceilings hold on every step whatever the training.
    assert len(ceilings) == 16 and all(r["holds"] == "yes" for r in ceilings)
    variance = checks.where(check="variance nwj / infonce at I = 4").records()
    assert len(variance) == 4
    for r in variance:
        nwj = result.stage_table().where(task=r["task"], critic=r["critic"], bound="nwj", stage=2).records()[0]
        nce = result.stage_table().where(task=r["task"], critic=r["critic"], bound="infonce", stage=2).records()[0]
        assert r["observed"] == pytest.approx(nwj["variance"] / nce["variance"])
        assert r["holds"] == ("yes" if r["observed"] > 1 else "no")
    assert "Published behaviour" in result.markdown()


def test_upper_bound_with_the_true_marginal_tracks_the_truth(result: st.StaircaseResult) -> None:
    # The rate with the true marginal is unbiased: its stage means lie within 5 standard errors
    # (from the stage's own spread) of the true MI.
    for row in result.stage_table().where(bound="rate").records():
        se = math.sqrt(row["variance"] / result.config.window)
        assert abs(row["bias"]) <= 5 * se


def test_figures_are_real_pngs_with_the_ceilings_drawn(result: st.StaircaseResult, saved: dict) -> None:
    from matplotlib import image

    for task in result.config.tasks:
        path = saved[f"png_{task}"]
        assert path.stat().st_size > 30_000
        pixels = image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 500 and pixels[..., :3].std() > 0.05
    fig = result.figure("gaussian")
    axes = {ax.get_title(): ax for ax in fig.axes}
    expected = {
        "infonce": math.log(K),
        "tnce": math.log(K),
        "interpolated:0.5": 1 + math.log((K - 1) / 0.5),
        "interpolated:0.01": 1 + math.log((K - 1) / 0.01),
    }
    for title, value in expected.items():
        dashed = [line.get_ydata() for line in axes[title].get_lines() if line.get_linestyle() == "--"]
        assert any(np.allclose(y, value) for y in dashed), title
    assert not any(line.get_linestyle() == "--" for line in axes["nwj"].get_lines())


def test_saved_results_reload_identically(result: st.StaircaseResult, saved: dict) -> None:
    loaded = st.StaircaseResult.load(saved["npz"])
    assert loaded.config == result.config and loaded.keys == result.keys
    np.testing.assert_array_equal(loaded.values, result.values)
    assert loaded.timings == result.timings
    stages = np.genfromtxt(saved["stages_csv"], delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert len(stages) == len(result.stage_table().rows)
    header = saved["estimates_csv"].read_text().splitlines()[0].split(",")
    assert header[:2] == ["step", "true_mi"] and len(header) == 2 + len(result.keys)


def test_results_do_not_depend_on_how_tasks_are_split_into_jobs() -> None:
    # Each task's critics have their own seed, so a task trained alone (as in a worker process)
    # gets the same estimates as when stacked with the other task.
    cfg = st.StaircaseConfig(**{**TINY, "steps_per_level": 4, "bounds": ("infonce", "mine", "interpolated:0.5")})
    specs = cfg.specs
    both = st.train_stack(cfg, "separable", ("gaussian", "cubic"), specs, None)
    alone = st.train_stack(cfg, "separable", ("cubic",), specs, None)
    np.testing.assert_allclose(both.values[1], alone.values[0], rtol=1e-5, atol=1e-5)


def test_an_interrupted_job_resumes_from_its_checkpoint(tmp_path, monkeypatch) -> None:
    cfg = st.StaircaseConfig(**{**TINY, "steps_per_level": 5, "bounds": ("infonce", "mine", "interpolated:0.5")})
    specs, path = cfg.specs, tmp_path / "job.pt"
    uninterrupted = st.train_stack(cfg, "separable", ("gaussian",), specs)
    batch = _Batches.batch

    def interrupt_at_step_7(self: _Batches, step: int, mi: float):  # type: ignore[no-untyped-def]
        if step == 7:
            raise KeyboardInterrupt
        return batch(self, step, mi)

    monkeypatch.setattr(_Batches, "batch", interrupt_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        st.train_stack(cfg, "separable", ("gaussian",), specs, checkpoint=path, checkpoint_every=3)
    assert torch.load(path, weights_only=True)["step"] == 6
    monkeypatch.undo()
    resumed = st.train_stack(cfg, "separable", ("gaussian",), specs, checkpoint=path, checkpoint_every=3)
    np.testing.assert_array_equal(resumed.values, uninterrupted.values)  # networks, Adam, MINE state restored
    finished = st.train_stack(cfg, "separable", ("gaussian",), specs, checkpoint=path)
    np.testing.assert_array_equal(finished.values, uninterrupted.values)
    assert finished.seconds == resumed.seconds  # nothing was trained again
    other = st.train_stack(dataclasses.replace(cfg, seed=1), "separable", ("gaussian",), specs, checkpoint=path)
    assert not np.array_equal(other.values, uninterrupted.values)  # another job's checkpoint is not used


def test_merging_runs_of_each_critic_equals_the_joint_run(result: st.StaircaseResult) -> None:
    cfg = result.config
    parts = [
        st.run_staircase(dataclasses.replace(cfg, critics=(c,)), threads=1, progress=False)
        for c in ("separable", "concat")
    ]
    merged = st.merge_results(parts)
    assert merged.keys == result.keys and merged.config == cfg
    np.testing.assert_allclose(merged.values, result.values, rtol=1e-5, atol=1e-5)
    other_seed = dataclasses.replace(parts[1], config=dataclasses.replace(parts[1].config, seed=1))
    with pytest.raises(ValueError, match="differ in seed"):
        st.merge_results([parts[0], other_seed])


def test_bound_labels() -> None:
    assert st.BoundSpec.parse("smile:5").kwargs == {"clip": 5.0}
    assert st.BoundSpec.parse("smile:inf").kwargs == {"clip": None}
    assert st.BoundSpec.parse("Interpolated:alpha=0.5").label == "interpolated:alpha=0.5"
    assert st.BoundSpec.parse("mine").kwargs == {} and st.BoundSpec.parse("tnce").trained is False
    with pytest.raises(ValueError, match="unknown bound"):
        st.BoundSpec.parse("nwjj")
    with pytest.raises(ValueError, match="has no parameter"):
        st.BoundSpec.parse("nwj:3")
    with pytest.raises(ValueError, match="not a number"):
        st.BoundSpec.parse("smile:big")
    with pytest.raises(ValueError, match="needs .*decoder"):
        st.StaircaseConfig(bounds=("ba",))
    with pytest.raises(ValueError, match="listed twice"):
        st.StaircaseConfig(bounds=("nwj", "nwj"))
    with pytest.raises(ValueError, match="unknown staircase critic"):
        st.StaircaseConfig(critics=("bilinear",))
    with pytest.raises(ValueError, match="batch_size"):
        st.StaircaseConfig(batch_size=1)


def test_ema_matches_the_bias_corrected_weighted_mean() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 50))
    values[0, 7] = np.nan  # skipped
    span = 10.0
    decay = 1 - 2 / (span + 1)
    out = ema(values, span)
    for series, smoothed in zip(values, out, strict=True):
        for t in (0, 6, 7, 8, 49):
            past = series[: t + 1]
            keep = np.isfinite(past)
            n = int(keep.sum())
            weights = decay ** np.arange(n - 1, -1, -1)  # the newest finite value has weight 1
            assert smoothed[t] == pytest.approx(np.sum(weights * past[keep]) / np.sum(weights))


def test_table_markdown_and_filters() -> None:
    table = Table(("a", "b"), [(1, 0.5), (2, float("nan"))], title="T")
    assert table.to_markdown(digits=2) == "**T**\n\n| a | b |\n|---|---|\n| 1 | 0.50 |\n| 2 | nan |\n"
    assert table.where(a=2).column("b")[0] != table.where(a=2).column("b")[0]  # NaN
    with pytest.raises(ValueError, match="columns"):
        Table(("a",), [(1, 2)])
    assert "| p(y\\|x) |" in Table(("c",), [("p(y|x)",)]).to_markdown()


def test_table_csv_round_trip(tmp_path) -> None:
    table = Table(("name", "k", "value"), [("a", 64, 0.1), ("b|c", 8, float("inf"))])
    back = Table.from_csv(table.to_csv(tmp_path / "t.csv"))
    assert back.columns == table.columns and back.rows == table.rows


def test_cli_runs_a_reduced_staircase_and_prints_the_wall_clock(tmp_path, capsys) -> None:
    from mibounds.cli import bench

    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    out = tmp_path / "run"
    args = parser.parse_args(
        [
            "bench",
            "staircase",
            "--tasks",
            "gaussian",
            "--critics",
            "separable",
            "--bounds",
            "infonce",
            "tnce",
            "--levels",
            "1",
            "--steps-per-level",
            "3",
            "--batch-size",
            "8",
            "--hidden-dim",
            "4",
            "--embed-dim",
            "2",
            "--window",
            "3",
            "--workers",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
            "--no-figures",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "staircase wall-clock:" in printed and (out / "staircase.md").exists()
    again = parser.parse_args(["bench", "staircase", "--from", str(out), "--out", str(tmp_path / "re"), "--no-figures"])
    assert again.func(again) == 0
    assert (tmp_path / "re" / "staircase.md").read_text() == (out / "staircase.md").read_text()


def test_any_task_id_with_an_mi_level_steps_through_the_staircase(tmp_path, capsys) -> None:
    from mibounds.cli import bench

    ids = ["asinh(gaussian-d3-mi1)", "cubic-d3-mi1-w2"]
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    argv = ["bench", "staircase", "--tasks", *ids, "--critics", "separable", "--bounds", "infonce", "rate"]
    argv += ["--levels", "1", "3", "--steps-per-level", "3", "--batch-size", "8", "--hidden-dim", "4"]
    argv += ["--embed-dim", "2", "--window", "3", "--workers", "1", "--threads", "1"]
    args = parser.parse_args([*argv, "--out", str(tmp_path / "run"), "--no-figures", "--no-progress"])
    assert args.func(args) == 0
    result = st.StaircaseResult.load(tmp_path / "run")
    assert result.config.tasks == tuple(ids)
    # Each level replaces the id's MI: the rate with the true conditional follows it.
    batches = _Batches(result.config, torch.device("cpu"), torch.float64)
    assert [t.name for t in batches.tasks_at(3.0)] == ["asinh(gaussian-d3-mi3)", "cubic-d3-mi3-w2"]
    for task in ids:
        rows = result.stage_table().where(task=task, bound="rate").records()
        assert [r["true_mi"] for r in rows] == [1.0, 3.0]
        assert all(abs(r["bias"]) < 3.0 for r in rows)
    capsys.readouterr()


def test_staircase_tasks_are_checked_before_training() -> None:
    with pytest.raises(ValueError, match=r"same dimensions; got gaussian: 4 x 4, gaussian-d3-mi1: 3 x 3"):
        st.StaircaseConfig(**{**TINY, "tasks": ("gaussian", "gaussian-d3-mi1")})
    with pytest.raises(ValueError, match=r"task id 'mvn-sparse-dx4-dy4-k2-c0.8' has no MI level"):
        st.StaircaseConfig(**{**TINY, "tasks": ("mvn-sparse-dx4-dy4-k2-c0.8",)})
    with pytest.raises(ValueError, match=r"task family 'student-t' takes no MI level"):
        st.StaircaseConfig(**{**TINY, "tasks": ("student-t",)})
    embedded = st.StaircaseConfig(**{**TINY, "tasks": ("embed-d4(gaussian-d2-mi1)",)})
    assert embedded.task_at("embed-d4(gaussian-d2-mi1)", 5.0).name == "embed-d4(gaussian-d2-mi5)"


@pytest.mark.processes
@pytest.mark.slow
def test_worker_processes_give_the_same_estimates(result: st.StaircaseResult) -> None:
    parallel = st.run_staircase(result.config, workers=2, progress=False)
    assert parallel.keys == result.keys
    np.testing.assert_allclose(parallel.values, result.values, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_short_training_run_learns_the_lowest_stage() -> None:
    # 1,500 steps at 2 nats with the paper's networks: InfoNCE's mean over the last 500 steps gets
    # within 0.25 nats of what the optimal critic log r gives at the same K (its own bias at
    # K = 64 is about -0.2 nats, so "within 0.3 of the truth" would test the bound, not training).
    from mibounds import bounds, tasks

    cfg = st.StaircaseConfig(
        tasks=("gaussian",),
        critics=("separable",),
        bounds=("infonce",),
        levels=(2.0,),
        steps_per_level=1500,
        window=500,
    )
    torch.set_num_threads(1)
    res = st.run_staircase(cfg, progress=False)
    row = res.stage_table().where(bound="infonce").records()[0]
    task = tasks.make("gaussian", dim=cfg.dim, mi=2.0)
    generator = torch.Generator().manual_seed(1)
    optimal = np.mean(
        [bounds.infonce(task.log_ratio(*task.sample(cfg.batch_size, generator=generator))).item() for _ in range(400)]
    )  # standard error about 0.01
    assert 1.7 < optimal < 1.9
    assert optimal - 0.25 < row["mean"] <= optimal + 0.05


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.processes
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux) to find the worker processes")
def test_worker_processes_exit_when_the_staircase_is_killed(tmp_path) -> None:
    # A long run with 2 workers, killed with SIGKILL (nothing can be cleaned up): its workers
    # must not train on as orphans.
    command = [
        sys.executable,
        "-m",
        "mibounds.cli",
        "bench",
        "staircase",
        "--tasks",
        "gaussian",
        "cubic",
        "--critics",
        "separable",
        "--bounds",
        "infonce",
        "--levels",
        "1",
        "--steps-per-level",
        "10000000",
        "--batch-size",
        "8",
        "--hidden-dim",
        "4",
        "--embed-dim",
        "2",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--no-figures",
        "--no-progress",
    ]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.2)
            # the pool's workers, not its resource tracker (which exits with the parent anyway)
            workers = {
                pid
                for pid in _children(parent.pid)
                if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            }
        assert len(workers) == 2, "the staircase did not start its 2 worker processes"
        time.sleep(1.0)  # let the workers get into training
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "worker processes trained on after the parent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in _children(parent.pid) | {pid for pid in workers if _alive(pid)}:
            os.kill(pid, signal.SIGKILL)  # never leave a runaway worker behind, even when the test fails


def test_nonfinite_members_finds_the_member_whose_adam_state_overflowed() -> None:
    from mibounds import critics

    stack = critics.StackedSeparableCritic(3, 2, 2, embed_dim=2, hidden_dim=4, num_layers=1)
    optimizer = torch.optim.Adam(stack.parameters(), lr=1e-3)
    stack(torch.randn(3, 5, 2), torch.randn(3, 5, 2)).sum().backward()
    optimizer.step()
    assert not st.nonfinite_members(optimizer, stack).any()
    first = next(stack.parameters())
    optimizer.state[first]["exp_avg_sq"][1].view(-1)[0] = float("inf")
    assert st.nonfinite_members(optimizer, stack).tolist() == [False, True, False]
    with torch.no_grad():
        first[2].view(-1)[0] = float("nan")
    assert st.nonfinite_members(optimizer, stack).tolist() == [False, True, True]


def test_critics_that_stop_learning_are_reported_and_kept(tmp_path) -> None:
    # A learning rate of 0.5 on the heavy-tailed cubic task: the e^f gradients of NWJ and TUBA
    # overflow Adam's float32 second moment within 100 steps; InfoNCE's (a softmax) cannot.
    cfg = st.StaircaseConfig(
        tasks=("cubic",),
        critics=("separable",),
        bounds=("nwj", "infonce", "tuba"),
        levels=(6.0,),
        steps_per_level=300,
        hidden_dim=16,
        embed_dim=8,
        baseline_hidden_dim=8,
        window=50,
        dim=4,
        learning_rate=0.5,
    )
    result = st.run_staircase(cfg, threads=1, progress=False)
    assert set(result.frozen) == {("cubic", "separable", "nwj"), ("cubic", "separable", "tuba")}
    assert all(step % st.HEALTH_CHECK_EVERY == 0 for step in result.frozen.values())
    assert (
        "Critics that stopped learning" in result.markdown() and "cubic, separable, nwj: from step" in result.markdown()
    )
    result.save(tmp_path / "run", figures=False)
    assert st.StaircaseResult.load(tmp_path / "run").frozen == result.frozen
    # A run resumed from its checkpoint reports the same steps.
    specs = [s for s in cfg.specs if s.trained]
    path = tmp_path / "job.pt"
    st.train_stack(cfg, "separable", ("cubic",), specs, checkpoint=path, checkpoint_every=150)
    resumed = st.train_stack(cfg, "separable", ("cubic",), specs, checkpoint=path)  # loads the finished job
    again = st.train_stack(cfg, "separable", ("cubic",), specs)
    np.testing.assert_array_equal(resumed.frozen, again.frozen)


def test_runs_saved_before_the_num_members_rename_still_load(saved: dict, tmp_path) -> None:
    with np.load(saved["npz"], allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    for timing in meta["timings"]:
        timing["members"] = timing.pop("num_members")
    arrays["meta"] = np.array(json.dumps(meta), dtype=np.str_)
    old = tmp_path / "staircase_estimates.npz"
    np.savez_compressed(old, **arrays)
    loaded = st.StaircaseResult.load(old)
    assert [t.num_members for t in loaded.timings] == [
        t.num_members for t in st.StaircaseResult.load(saved["npz"]).timings
    ]
    assert any(t.num_members > 0 for t in loaded.timings)
