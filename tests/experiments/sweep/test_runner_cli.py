"""The benchmark runner on the command line: mibounds bench sweep and bench report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from mibounds.cli import bench
from mibounds.experiments import make_cells, run_sweep

from .conftest import QUIET, SYNTHETIC, stored_rows, write_module


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mibounds")
    bench.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _main(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.func(args)


def test_cli_sweep_from_flags_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = str(tmp_path / "r.sqlite")
    argv = [
        "bench",
        "sweep",
        "--tasks",
        "a",
        "b",
        "--bounds",
        "nwj",
        "--critics",
        "separable",
        "--n",
        "100",
        "--seeds",
        "0",
        "1",
        "--set",
        "mi=2",
        "--set",
        "bias=0.5",
        "--cell",
        SYNTHETIC,
        "--db",
        db,
        "--no-progress",
    ]
    assert _main(*argv) == 0
    rows = stored_rows(Path(db))
    assert len(rows) == 4 and {r["true_mi"] for r in rows.values()} == {2}
    assert {r["params"]["bias"] for r in rows.values()} == {0.5}
    assert _main(*argv) == 0
    assert "4 done before, 0 to run" in capsys.readouterr().err


def test_cli_sweep_from_a_spec_file_exits_1_when_cells_failed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"seeds": [0, 1], "axes": {"fail": [False, True]}, "cell": SYNTHETIC}))
    db = str(tmp_path / "r.sqlite")
    assert _main("bench", "sweep", "--spec", str(spec), "--db", db, "--no-progress") == 1
    assert "2 cells failed; their tracebacks are in the 'error' column" in capsys.readouterr().err
    assert sorted(r["status"] for r in stored_rows(Path(db)).values()) == ["done", "done", "failed", "failed"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0", "--spec", "x.json"], "pass either --spec or the grid flags, not both"),
        ([], "no grid: give --tasks"),
        (["--seeds", "0", "--set", "max_steps"], "--set takes KEY=VALUE"),
        (["--seeds", "0", "--executor", "ray", "--cell", SYNTHETIC], None),
    ],
)
def test_cli_sweep_user_errors_are_value_errors(
    tmp_path: Path, argv: list[str], message: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if message is None:  # the Ray executor without ray installed: one line naming the extra
        monkeypatch.setitem(sys.modules, "ray", None)
        message = r"pip install 'mibounds\[ray\]'"
    with pytest.raises(ValueError, match=message):
        _main("bench", "sweep", *argv, "--db", str(tmp_path / "r.sqlite"), "--no-progress")
    assert not (tmp_path / "r.sqlite").exists()


def test_cli_resume_hint_is_the_same_command() -> None:
    argv = [
        "bench",
        "sweep",
        "--tasks",
        "gaussian-d20-mi2",
        "--bounds",
        "nwj",
        "infonce",
        "--critics",
        "separable",
        "--n",
        "4096",
        "--seeds",
        "0",
        "1",
        "--set",
        "max_steps=500",
        "--set",
        "device=cpu",
        "--workers",
        "2",
        "--db",
        "my results.sqlite",
        "--retry-failed",
    ]
    args = _parser().parse_args(argv)
    words = __import__("shlex").split(bench._command_line(args))
    assert words[:3] == ["mibounds", "bench", "sweep"]
    assert vars(_parser().parse_args(words[1:])) == vars(args)


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "r.sqlite"
    run_sweep(make_cells(tasks=["a"], seeds=[0, 1]), db, SYNTHETIC, **QUIET)
    assert _main("bench", "report", "--db", str(db), "--out", str(tmp_path / "out"), "--no-figures") == 0
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "out" / "report.md"),
        str(tmp_path / "out" / "report.csv"),
    ]
    with pytest.raises(ValueError, match="no results file at"):
        _main("bench", "report", "--db", str(tmp_path / "missing.sqlite"))


def test_bench_requires_a_subcommand(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["bench"])
    assert exit_info.value.code == 2
    assert "sweep" in capsys.readouterr().err


def test_cli_sweep_runs_a_function_of_ones_own_only_with_allow_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(
        tmp_path,
        "own_cells",
        """
        def cell(seed):
            return {"estimate": float(seed)}
    """,
        monkeypatch,
    )
    db = tmp_path / "r.sqlite"
    argv = ["bench", "sweep", "--seeds", "0", "1", "--cell", "own_cells:cell", "--db", str(db), "--no-progress"]
    with pytest.raises(
        ValueError,
        match=r"'own_cells:cell' is not a registered cell \(estimate, synthetic, accuracy, consistency\).*"
        "pass --allow-import",
    ):
        _main(*argv)
    assert not db.exists() and "own_cells" not in sys.modules  # refused before importing anything
    assert _main(*argv, "--allow-import") == 0
    assert sorted(row["estimate"] for row in stored_rows(db).values()) == [0.0, 1.0]
    # Registered cells run by name or path, without the flag.
    assert (
        _main(
            "bench", "sweep", "--seeds", "0", "--cell", "synthetic", "--db", str(tmp_path / "s.sqlite"), "--no-progress"
        )
        == 0
    )
    assert {row["function"] for row in stored_rows(tmp_path / "s.sqlite").values()} == {SYNTHETIC}
