"""Reports from a results file: statistics per setting, Markdown, CSV and the PNG figure."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

from mibounds.experiments import make_cells, run_sweep, summarize, write_report
from mibounds.experiments.sweep.report import STAT_COLUMNS

SYNTHETIC = "mibounds.experiments.sweep.cells:synthetic_cell"
QUIET = {"progress": False, "verbose": False}


def _row(
    seed: int,
    estimate: float | None,
    status: str = "done",
    bound: str = "nwj",
    true_mi: float = 1.0,
    ci: tuple[float, float] | None = None,
    seconds: float = 2.0,
    **params,
) -> dict:
    params = {"task": "gaussian-d2-mi1", "bound": bound, "critic": "separable", "n": 64, "seed": seed, **params}
    low, high = ci if ci is not None else (None, None)
    return {
        **params,
        "params": params,
        "status": status,
        "estimate": estimate,
        "true_mi": true_mi,
        "ci_low": low,
        "ci_high": high,
        "seconds": seconds,
    }


def test_summary_statistics_by_hand() -> None:
    rows = [
        _row(0, 1.0, ci=(0.5, 1.5)),
        _row(1, 1.2, ci=(1.1, 1.3)),
        _row(2, 1.4, ci=(0.9, 1.9), seconds=5.0),
        _row(3, None, status="failed", seconds=100.0),
        _row(0, 3.0, bound="dv", true_mi=2.0),
    ]
    keys, groups = summarize(rows)
    assert keys == ["task", "bound", "critic", "n"]
    nwj, dv = groups
    assert (nwj["bound"], nwj["seeds"], nwj["failed"]) == ("nwj", 3, 1)
    assert nwj["estimate"] == pytest.approx(1.2) and nwj["true_mi"] == 1.0
    assert nwj["bias"] == pytest.approx(0.2)
    assert nwj["std"] == pytest.approx(0.2)  # deviations -0.2, 0, 0.2; ddof = 1: sqrt(0.08 / 2)
    assert nwj["rmse"] == pytest.approx(math.sqrt((0.0 + 0.04 + 0.16) / 3))
    assert nwj["coverage"] == pytest.approx(2 / 3)  # [1.1, 1.3] misses 1.0
    assert nwj["seconds"] == pytest.approx(3.0)  # failed cells' time left out
    assert (dv["seeds"], dv["std"], dv["coverage"], dv["bias"]) == (1, None, None, 1.0)


def test_summary_keys_are_the_parameters_that_vary() -> None:
    rows = [_row(s, 1.0, alpha=a, steps=10) for s in range(2) for a in (0.1, 0.5)]
    keys, groups = summarize(rows)
    assert keys == ["task", "bound", "critic", "n", "alpha"]  # steps never varies; seed is the replicate
    assert [g["alpha"] for g in groups] == [0.1, 0.5] and [g["seeds"] for g in groups] == [2, 2]


def test_coverage_and_bias_of_the_synthetic_cell(tmp_path: Path) -> None:
    # 400 seeds of an unbiased synthetic estimate: its 95% interval's coverage has a binomial
    # standard error sqrt(0.95 * 0.05 / 400) = 0.011, and the mean estimate a standard error of
    # (noise / sqrt(n)) / sqrt(400); both are checked within 5 standard errors. With bias 0.3 the
    # mean moves by 0.3 and the RMSE is sqrt(bias^2 + std^2).
    seeds, n = 400, 100
    cells = make_cells(
        tasks=["a"], bounds=["nwj"], critics=["separable"], n=[n], seeds=range(seeds), axes={"bias": [0.0, 0.3]}, mi=2.0
    )
    db = tmp_path / "r.sqlite"
    run_sweep(cells, db, SYNTHETIC, **QUIET)
    files = write_report(db, tmp_path / "report", figure=False)
    with files.csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert files.figure is None and len(rows) == 2
    unbiased, biased = sorted(rows, key=lambda r: float(r["estimate"]))
    stderr_mean = (1.0 / math.sqrt(n)) / math.sqrt(seeds)
    assert abs(float(unbiased["estimate"]) - 2.0) < 5 * stderr_mean
    assert abs(float(unbiased["coverage"]) - 0.95) < 5 * math.sqrt(0.95 * 0.05 / seeds)
    assert abs(float(biased["bias"]) - 0.3) < 5 * stderr_mean
    assert float(biased["coverage"]) < 0.5  # intervals of width 0.39 around a point 0.3 off
    std = float(biased["std"])
    assert float(biased["rmse"]) == pytest.approx(math.sqrt(float(biased["bias"]) ** 2 + std**2 * (seeds - 1) / seeds))
    assert abs(std - 1.0 / math.sqrt(n)) < 5 * (1.0 / math.sqrt(n)) / math.sqrt(2 * (seeds - 1))


def test_write_report_tables_and_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the figure needs the 'plot' extra")
    from matplotlib.image import imread

    cells = make_cells(
        tasks=["gaussian-d20-mi2", "gaussian-d20-mi6"],
        bounds=["nwj", "infonce"],
        critics=["separable"],
        n=[100, 1000],
        seeds=range(3),
        axes={"fail": [False, True]},
    )
    db = tmp_path / "r.sqlite"
    run_sweep(cells, db, SYNTHETIC, **QUIET)
    files = write_report(db, tmp_path / "out")
    keys = ["task", "bound", "critic", "n", "fail"]

    with files.csv.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == keys + list(STAT_COLUMNS)
        rows = list(reader)
    assert len(rows) == 2 * 2 * 2 * 2
    ok = [r for r in rows if r["fail"] == "False"]
    failed = [r for r in rows if r["fail"] == "True"]
    assert {(r["seeds"], r["failed"], r["true_mi"]) for r in ok} == {("3", "0", "1.0")}  # synthetic truth: 1 nat
    assert {(r["seeds"], r["failed"], r["estimate"]) for r in failed} == {("0", "3", "")}

    lines = files.markdown.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| task |"))
    assert lines[header] == "| " + " | ".join(keys + list(STAT_COLUMNS)) + " |"
    assert len([line for line in lines[header + 2 :] if line.startswith("| gaussian-")]) == 16
    assert "48 cells (24 done, 24 failed)" in files.markdown.read_text()

    assert files.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(files.figure)
    height, width = image.shape[:2]
    assert width > 600 and height > 300  # two panels side by side
    # Non-trivial: many distinct colours (lines, markers, text), and not mostly blank.
    colours = {tuple(pixel) for pixel in (image.reshape(-1, image.shape[-1])[::7] * 255).round().astype(int).tolist()}
    assert len(colours) > 50
    assert (image[..., :3] < 0.9).any(axis=-1).mean() > 0.02


def test_report_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="no results file at"):
        write_report(tmp_path / "missing.sqlite", tmp_path / "out")
    db = tmp_path / "r.sqlite"
    run_sweep([], db, SYNTHETIC, **QUIET)
    with pytest.raises(ValueError, match="holds no cells yet"):
        write_report(db, tmp_path / "out")
    run_sweep(make_cells(seeds=[0, 1]), db, SYNTHETIC, **QUIET)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    with pytest.raises(ImportError, match=r"pip install 'mibounds\[plot\]'"):
        write_report(db, tmp_path / "out")
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "out" / "report.csv").exists()
