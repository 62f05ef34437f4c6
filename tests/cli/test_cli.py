"""The ``mibounds`` command line, in-process (fast) and as a subprocess (two runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from mibounds.cli import main

from ..conftest import default_ctrl_c

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A few steps of training: these tests check the plumbing, not the estimate.
FAST = ["--max-steps", "20", "--seed", "0", "--no-progress"]


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
    assert header == ["name", "kind", "needs", "ceiling", "value", "grad", "K-indep", "low-var", "unnorm", "from"] + [
        "estimate",
        "reference",
    ]
    infonce = next(line for line in out.splitlines() if line.startswith("infonce "))
    assert "lower" in infonce and "log K" in infonce and "van den Oord" in infonce
    # Poole et al.'s Table 1 row for InfoNCE: tractable value and gradient, batch-size dependent,
    # low variance, unnormalized critic.
    assert infonce.split()[5:11] == ["yes", "yes", "no", "yes", "yes", "Table"]  # after "log K"
    dv = next(line for line in out.splitlines() if line.startswith("dv "))
    assert dv.split()[1] == "lower*" and dv.split()[4:9] == ["no", "no", "-", "-", "-"]
    assert "* lower bound in population only" in out
    assert main(["bounds", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["club"]["kind"] == "upper" and rows["club"]["estimate"] is False
    assert rows["nwj"]["ceiling"] == "none" and rows["infonce"]["needs"] == ["scores"]
    assert rows["smile"]["population_only"] and not rows["nwj"]["population_only"]
    assert rows["nwj"]["traits"]["low_variance"] is False and rows["club"]["traits"] is None
    assert rows["tuba"]["traits_in_table_1"] is False and rows["js"]["traits_in_table_1"] is True


def test_tasks_table(capsys):
    assert main(["tasks"]) == 0
    gaussian = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("gaussian "))
    assert "gaussian-d20-mi2" in gaussian and "2.000" in gaussian


def test_estimate_csv_as_json(csv_file, capsys):
    assert main(["estimate", str(csv_file), "--x", "a", "b", "--y", "2:4", "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["x_columns"] == ["a", "b"] and result["y_columns"] == ["c", "d"]
    assert result["ci_low"] <= result["estimate"] <= result["ci_high"]
    assert (
        result["bound"] == "js"
        and result["method"] == "log-ratio"
        and result["steps"] == 20
        and result["random_state"] == 0
    )


def test_estimate_text_output(csv_file, capsys):
    assert main(["estimate", str(csv_file), "--x", "0:2", "--bound", "infonce", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("600 rows; x = [a, b], y = [c, d]")
    assert out[1].startswith("I(X;Y) = ") and "95% CI [" in out[1] and "held-out infonce value at K = " in out[1]
    assert out[2].startswith("at least ") and "with 95% confidence (held-out InfoNCE" in out[2]
    assert "trained with infonce, 5-fold cross-fitted on 600 rows" in out[3]


def test_estimate_conditional_on_z_columns(csv_file, capsys):
    assert main(["estimate", str(csv_file), "--x", "a", "--y", "c", "--z", "b", "d", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("600 rows; x = [a], y = [c], z = [b, d]")
    assert out[1].startswith("I(X;Y|Z) = ") and out[2].startswith("I(X;Y,Z) = ")
    # y = every column left after x and z
    assert main(["estimate", str(csv_file), "--x", "a", "--z", "b", "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["y_columns"] == ["c", "d"] and result["z_columns"] == ["b"] and result["joint"]["n"] == 600


@pytest.fixture
def labelled_csv(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    strong, noise = 2 * y + rng.normal(size=600), rng.normal(size=600)
    path = tmp_path / "labelled.csv"
    rows = "\n".join(
        f"{a:.5f},{b:.5f},{c}" for a, b, c in zip(strong, noise, np.array(["red", "green", "blue"])[y], strict=True)
    )
    path.write_text("strong,noise,label\n" + rows + "\n")
    return path


def test_text_labels_get_the_barber_agakov_estimate(labelled_csv, capsys):
    assert main(["estimate", str(labelled_csv), "--x", "strong", "--y", "label", "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "barber-agakov" and result["critic"] == "classifier q(y|x)"
    assert 0 < result["estimate"] <= result["ceiling"]


def test_the_output_says_which_columns_were_read_as_labels(labelled_csv, capsys):
    assert main(["estimate", str(labelled_csv), "--x", "strong", "--y", "label", *FAST]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .endswith(
            "600 rows; x = [strong], y = [label]; read as class labels: y (label) (--discrete none reads numbers as numbers)"
        )
    )
    assert main(["estimate", str(labelled_csv), "--x", "strong", "--y", "noise", "--json", *FAST]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == []


def test_integer_columns_are_labels_and_warnings_name_flags(tmp_path, capsys):
    # --discrete's help: integers with at most 20 values are labels under auto; the warning that
    # says so names the flag that reads them as numbers, not the library's keyword
    rng = np.random.default_rng(0)
    k = rng.integers(0, 5, 300)
    path = tmp_path / "ints.csv"
    path.write_text("k,f\n" + "".join(f"{a},{a + rng.normal():.3f}\n" for a in k))
    assert main(["estimate", str(path), "--x", "k", "--y", "f", *FAST]) == 0
    out = capsys.readouterr().out
    assert "read as class labels: x (k)" in out.splitlines()[0]
    warning = next(line for line in out.splitlines() if line.startswith("warning: x holds only whole numbers"))
    assert warning.endswith("pass --discrete none to treat them as numbers") and "discrete='none'" not in out


def test_parquet_text_labels_are_read_as_csv_labels_are(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(0)
    colour = np.array(["red", "green", "blue"])[rng.integers(0, 3, 300)]
    pq.write_table(pa.table({"a": rng.normal(size=300), "colour": colour}), tmp_path / "t.parquet")
    for discrete in ("x", "auto"):
        assert main(["estimate", str(tmp_path / "t.parquet"), "--x", "colour", "--discrete", discrete, *FAST]) == 0
        assert "read as class labels: x (colour)" in capsys.readouterr().out.splitlines()[0]


def test_ctrl_c_while_the_parser_is_built_is_an_interruption(monkeypatch, capsys):
    import mibounds.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        status = main(["estimate", "data.csv"])
    except KeyboardInterrupt:  # caught here, or pytest would stop the whole session
        pytest.fail("a Ctrl-C while the parser is built escaped main as a traceback")
    assert status == 130
    assert capsys.readouterr().err.strip() == "mibounds: interrupted"


def test_ctrl_c_that_an_import_turned_into_an_import_error_is_an_interruption(monkeypatch, capsys, default_sigint):
    # An import interrupted inside a C extension can surface as an ImportError that no longer
    # says so (numpy's "Importing the numpy C-extensions failed"): still an interruption.
    import mibounds.cli as cli

    def interrupted_import():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs here
        except KeyboardInterrupt:
            raise ImportError("IMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!") from None
        pytest.fail("SIGINT was not delivered")

    monkeypatch.setattr(cli, "build_parser", interrupted_import)
    status = main(["estimate", "data.csv"])
    assert (status, capsys.readouterr().err.strip()) == (130, "mibounds: interrupted")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


# The command as its console script runs it, after the interpreter has started (a Ctrl-C during
# Python's own start-up, before any of mibounds runs, is Python's to report).
_STARTED = (
    "import os, runpy, sys; os.write(1, b'started\\n'); sys.argv = ['mibounds', *sys.argv[1:]]; "
    "runpy.run_module('mibounds.cli', run_name='__main__', alter_sys=True)"
)


@pytest.mark.processes
@pytest.mark.parametrize("delay", [0.1, 0.2, 0.3, 0.45])
def test_ctrl_c_in_the_first_half_second_is_one_line_and_status_130(delay):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(
        [sys.executable, "-c", _STARTED, "demo", *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        preexec_fn=default_ctrl_c,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "started\n"
        time.sleep(delay)  # importing torch takes longer: the interruption lands in the start-up
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert "Traceback" not in err and err.strip() == "mibounds: interrupted", err
    assert child.returncode == 130


def test_rank_features_sorts_columns_and_groups(labelled_csv, capsys):
    assert main(["rank-features", str(labelled_csv), "--y", "label", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("600 rows; target label (read as class labels); 2 features")
    assert out[3].startswith("strong") and out[4].startswith("noise")
    assert (
        main(["rank-features", str(labelled_csv), "--y", "label", "--group", "both=strong,noise", "--json", *FAST]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in result["scores"]] == ["both"] and result["scores"][0]["columns"] == ["strong", "noise"]


def test_test_independence_text_and_json(csv_file, capsys):
    assert main(["test-independence", str(csv_file), "--x", "0:2", "--permutations", "49", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("600 rows; x = 2 columns, y = 2 columns")
    assert out[1].startswith("p = ") and "(49 permutations; the smallest possible p is 0.02)" in out[1]
    assert "critic trained on 300 rows, tested on 300" in out[2]
    assert out[3].startswith("estimate on the training rows: I(X;Y) = ")
    assert main(["test-independence", str(csv_file), "--x", "a", "b", "--permutations", "9", "--json", *FAST]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_permutations"] == 9 and result["x_columns"] == ["a", "b"] and 0.1 <= result["p_value"] <= 1
    assert result["estimate"]["n"] == 300


def test_demo_prints_the_true_mi_beside_the_estimate(capsys):
    assert main(["demo", "--task", "gaussian-d2-mi0.5", "--samples", "1000", *FAST]) == 0
    out = capsys.readouterr().out
    assert "task gaussian-d2-mi0.5: 1000 samples" in out
    assert "true MI  0.500 nats (closed form)" in out
    assert "estimate " in out and "true MI" in out.splitlines()[2]
    assert "nats with 95% confidence (certified lower bound; below the true MI)" in out.splitlines()[3]


def test_demo_runs_with_the_threads_it_is_given(capsys):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert main(["demo", "--task", "gaussian-d2-mi0.5", "--samples", "400", "--threads", "1", *FAST]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


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
        (
            ["estimate", "{csv}", "--x", "a", "--y", "b", "--z", "b"],
            "columns b are in z and in x or y; give z columns of its own",
        ),
        (["estimate", "{csv}", "--x", "a", "--z", "e"], "unknown column 'e' in pairs.csv."),
        (["estimate", "{csv}", "--x", "a", "--y", "b", "--discrete", "y"], "y holds non-integer numbers"),
        (["rank-features", "{csv}", "--y", "a", "--group", "g"], "--group must look like NAME=COL,COL"),
        (
            ["rank-features", "{csv}", "--y", "a", "--group", "g=zz"],
            "--group names column 'zz', which is not a feature column",
        ),
        (
            ["test-independence", "{csv}", "--x", "a", "--permutations", "0"],
            "num_permutations must be an integer >= 1, got 0",
        ),
        (
            ["test-independence", "{csv}", "--x", "a", "--test-size", "1"],
            "test_size must be a share of the rows strictly between 0 and 1",
        ),
        (
            ["test-independence", "{csv}", "--x", "a", "--bound", "infonse"],
            "unknown bound 'infonse'. Did you mean 'infonce'?",
        ),
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


@pytest.mark.processes
def test_subprocess_demo_and_error():
    # Two real processes (each pays the torch import): a quick demo, and an error without traceback.
    command = [sys.executable, "-m", "mibounds.cli"]
    demo = subprocess.run(
        [*command, "demo", "--task", "gaussian-d2-mi0.5", "--samples", "800", *FAST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "true MI  0.500 nats" in demo.stdout
    error = subprocess.run([*command, "estimate", "nowhere.npz"], capture_output=True, text=True, timeout=120)
    assert error.returncode == 2
    assert error.stderr.strip() == "mibounds: error: no such file: 'nowhere.npz'; check the path"
