"""The ``mibounds`` command line, in-process (fast) and as a subprocess (two runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from mibounds.cli import main

# A few steps of training: these tests check the plumbing, not the estimate.
FAST = ["--max-steps", "20", "--seed", "0", "--quiet"]


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    y = x + rng.normal(size=(600, 2))
    path = tmp_path / "pairs.csv"
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in np.hstack([x, y]))
    path.write_text("a,b,c,d\n" + rows + "\n")
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_bounds_table(capsys):
    assert main(["bounds"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["name", "kind", "needs", "ceiling", "estimate", "reference"]
    infonce = next(line for line in out.splitlines() if line.startswith("infonce "))
    assert "lower" in infonce and "log K" in infonce and "van den Oord" in infonce
    assert main(["bounds", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["club"]["kind"] == "upper" and rows["club"]["estimate"] is False
    assert rows["nwj"]["ceiling"] == "none" and rows["infonce"]["needs"] == ["scores"]


def test_tasks_table(capsys):
    assert main(["tasks"]) == 0
    gaussian = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("gaussian "))
    assert "gaussian-d20-mi2" in gaussian and "2.000" in gaussian


def test_estimate_csv_as_json(csv_file, capsys):
    assert main(["estimate", str(csv_file), "--x", "a", "b", "--y", "2:4", "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["x_columns"] == ["a", "b"] and result["y_columns"] == ["c", "d"]
    assert result["ci_low"] <= result["estimate"] <= result["ci_high"]
    assert result["bound"] == "js" and result["method"] == "log-ratio" and result["steps"] == 20 and result["random_state"] == 0


def test_estimate_text_output(csv_file, capsys):
    assert main(["estimate", str(csv_file), "--x", "0:2", "--bound", "infonce", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("600 rows; x = [a, b], y = [c, d]")
    assert out[1].startswith("I(X;Y) = ") and "95% CI [" in out[1] and "held-out infonce value at K = " in out[1]
    assert out[2].startswith("at least ") and "with 95% confidence (held-out InfoNCE" in out[2]
    assert "trained with infonce, 5-fold cross-fitted on 600 rows" in out[3]


def test_demo_prints_the_true_mi_beside_the_estimate(capsys):
    assert main(["demo", "--task", "gaussian-d2-mi0.5", "--samples", "1000", *FAST]) == 0
    out = capsys.readouterr().out
    assert "task gaussian-d2-mi0.5: 1000 samples" in out
    assert "true MI  0.500 nats (closed form)" in out
    assert "estimate " in out and "true MI" in out.splitlines()[2]
    assert "nats with 95% confidence (certified lower bound; below the true MI)" in out.splitlines()[3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "{csv}", "--x", "a", "--bound", "infonse"], "unknown bound 'infonse'. Did you mean 'infonce'?"),
        (["estimate", "{csv}", "--x", "a", "--critic", "conact"], "unknown critic 'conact'. Did you mean 'concat'?"),
        (["estimate", "{csv}", "--x", "speed"], "unknown column 'speed' in pairs.csv."),
        (["estimate", "{csv}"], "pairs.csv has 4 columns; say which are x and which are y"),
        (["estimate", "{csv}", "--x", "a", "--batch-size", "500"], "batch_size 500 is larger than a fold"),
        (["estimate", "missing.csv"], "no such file: 'missing.csv'"),
        (["estimate", "{csv}", "--frobnicate"], "unrecognized arguments: --frobnicate; see 'mibounds --help'"),
        (["demo", "--task", "gausian"], "unknown task 'gausian'. Did you mean 'gaussian'?"),
    ],
)
def test_user_errors_are_one_line_with_status_2(argv, message, csv_file, capsys):
    argv = [a.replace("{csv}", str(csv_file)) for a in argv]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert line.startswith("mibounds: error: ") and message in line


def test_debug_shows_the_traceback(csv_file):
    with pytest.raises(ValueError, match="unknown column"):
        main(["estimate", str(csv_file), "--x", "speed", "--debug"])


def test_help_and_version_return_0(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_console_script_entry_point():
    (script,) = metadata.entry_points(group="console_scripts", name="mibounds")
    assert script.value == "mibounds.cli:main"


def test_subprocess_demo_and_error():
    # Two real processes (each pays the torch import): a quick demo, and an error without traceback.
    command = [sys.executable, "-m", "mibounds.cli"]
    demo = subprocess.run(
        [*command, "demo", "--task", "gaussian-d2-mi0.5", "--samples", "800", *FAST],
        capture_output=True, text=True, timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "true MI  0.500 nats" in demo.stdout
    error = subprocess.run([*command, "estimate", "nowhere.npz"], capture_output=True, text=True, timeout=120)
    assert error.returncode == 2
    assert error.stderr.strip() == "mibounds: error: no such file: 'nowhere.npz'; check the path"
