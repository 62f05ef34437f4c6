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


# -- bad input that must be refused in one line, with status 2, writing nothing ---------------------

SYNTHETIC = "mibounds.experiments.sweep.cells:synthetic_cell"


def _snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _results_file(path, seeds=(0, 1)) -> None:
    from mibounds.experiments import make_cells, run_sweep

    run_sweep(make_cells(seeds=list(seeds)), path, SYNTHETIC, progress=False, verbose=False)


def _held(tmp_path) -> None:  # a results file that a running sweep (the parent process) holds
    import os
    import socket
    import sqlite3

    _results_file(tmp_path / "r.sqlite")
    connection = sqlite3.connect(tmp_path / "r.sqlite")
    connection.execute(
        "INSERT INTO sweep_lock VALUES (1, ?, ?, '2024-01-01T00:00:00+00:00')", (os.getppid(), socket.gethostname())
    )
    connection.commit()
    connection.close()


def _foreign(tmp_path, table: str) -> None:
    import sqlite3

    connection = sqlite3.connect(tmp_path / "r.sqlite")
    connection.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, colour TEXT)")
    connection.execute(f"INSERT INTO {table} VALUES (1, 'red')")
    connection.commit()
    connection.close()


def _damaged(tmp_path) -> None:  # garbage after the first page
    db = tmp_path / "r.sqlite"
    _results_file(db, seeds=range(200))
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = bytes((i * 131 + 7) % 251 for i in range(len(data) - page))
    db.write_bytes(bytes(data))


def _spec(tmp_path) -> None:  # the exploit to refuse: a spec file that names os.system
    (tmp_path / "sweep.json").write_text(
        json.dumps({"cell": "os:system", "fixed": {"command": f"id > {tmp_path / 'pwned'}"}})
    )


def _csv(name: str, text: str, encoding: str = "utf-8"):
    def write(tmp_path) -> None:
        (tmp_path / name).write_bytes(text.encode(encoding))

    return write


def _rows_csv(n: int):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(n, 2))
    return _csv("few.csv", "a,b\n" + "".join(f"{u:.4f},{v:.4f}\n" for u, v in rows))


def _stray_csv(cell: str, name: str = "stray.csv"):
    """600 rows of two independent floats rounded to one decimal, one cell of column a replaced."""
    rng = np.random.default_rng(0)
    rows = [[f"{v:.1f}" for v in row] for row in rng.normal(size=(600, 2))]
    rows[16][0] = cell
    return _csv(name, "a,b\n" + "".join(",".join(r) + "\n" for r in rows))


def _duplicate_parquet(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = [pa.array([0.5, 1.5, 2.5]), pa.array([1.0, 2.0, 3.0]), pa.array([3.5, 4.5, 5.5])]
    pq.write_table(pa.Table.from_arrays(columns, names=["a", "a", "b"]), tmp_path / "dup.parquet")


def _huge_npy_bytes() -> bytes:
    import struct

    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 2), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # NumPy pads the header to 64 bytes
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + bytes(64)


def _huge_npy(tmp_path) -> None:
    (tmp_path / "huge.npy").write_bytes(_huge_npy_bytes())


def _huge_npz(tmp_path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("x.npy", _huge_npy_bytes())
        archive.writestr("y.npy", _huge_npy_bytes())


def _no_matplotlib(monkeypatch) -> None:
    import sys

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # as if matplotlib were not installed


_SWEEP = ["bench", "sweep", "--seeds", "0", "1", "--cell", SYNTHETIC, "--db", "{tmp}/r.sqlite", "--no-progress"]
_FAST_ESTIMATE = ["--max-steps", "5", "--no-progress"]

BAD_INPUT = [
    # item 4: a second sweep on a file in use
    ("held", _held, _SWEEP, "is in use by another sweep (process "),
    # item 5: another program's database, with and without a 'cells' table
    (
        "foreign-cells",
        lambda t: _foreign(t, "cells"),
        _SWEEP,
        "is an SQLite database of another program (tables: cells",
    ),
    (
        "foreign-other",
        lambda t: _foreign(t, "invoices"),
        _SWEEP,
        "is an SQLite database of another program (tables: invoices",
    ),
    (
        "foreign-report",
        lambda t: _foreign(t, "cells"),
        ["bench", "report", "--db", "{tmp}/r.sqlite", "--out", "{tmp}/out"],
        "is an SQLite database of another program",
    ),
    # item 6: a spec file (or --cell) naming a function outside the registered cells
    (
        "spec-exploit",
        _spec,
        ["bench", "sweep", "--spec", "{tmp}/sweep.json", "--db", "{tmp}/r.sqlite"],
        "cell function 'os:system' is not a registered cell",
    ),
    (
        "cell-flag",
        None,
        ["bench", "sweep", "--seeds", "0", "--cell", "os:system", "--db", "{tmp}/r.sqlite"],
        "pass --allow-import",
    ),
    # item 7: parameter names
    ("set-Seed", None, [*_SWEEP, "--set", "Seed=1"], "cell parameters 'seed' and 'Seed' differ only in case"),
    ("set-SECONDS", None, [*_SWEEP, "--set", "SECONDS=1"], "'SECONDS' has the name of a results column"),
    ("set-sql", None, [*_SWEEP, "--set", 'x" CHECK(0) COLLATE "binary=1'], "is not a Python identifier"),
    # item 8: damaged files, huge fields and headers
    ("damaged-sweep", _damaged, _SWEEP, "is damaged (database disk image is malformed)"),
    ("damaged-report", _damaged, ["bench", "report", "--db", "{tmp}/r.sqlite", "--out", "{tmp}/out"], "is damaged"),
    (
        "csv-field",
        _csv("big.csv", "a,b\n1.5," + "x" * 200_000 + "\n3,4\n"),  # a: numbers (not whole), b: labels
        ["estimate", "{tmp}/big.csv", "--discrete", "none", *_FAST_ESTIMATE],
        "column 'b' of big.csv is not numeric (line 2: 'xxxxxxxxxxxxxxxxxxxx...' (200000 characters))",
    ),
    (
        "one-class",
        _csv("one.csv", "a,b\n" + "".join(f"{i * 0.37:.2f},same\n" for i in range(60))),
        ["estimate", "{tmp}/one.csv", "--x", "a", "--y", "b", *_FAST_ESTIMATE],
        "y has a single class ('same')",
    ),
    (
        "csv-field-label",
        _csv("big.csv", "a,b\n1.5," + "x" * 200_000 + "\n3,4\n"),  # a: numbers (not whole), b: labels
        ["estimate", "{tmp}/big.csv", *_FAST_ESTIMATE],
        "column 'b' of big.csv holds 1 number and 1 other cell (line 2: 'xxxxxxxxxxxxxxxxxxxx...' (200000 characters))",
    ),
    (
        "npy-header",
        _huge_npy,
        ["estimate", "{tmp}/huge.npy", "--x", "0", *_FAST_ESTIMATE],
        "huge.npy claims an array of shape (1099511627776, 2) (16.0 TiB) but holds only 64 bytes of data",
    ),
    (
        "npz-header",
        _huge_npz,
        ["estimate", "{tmp}/huge.npz", *_FAST_ESTIMATE],
        "array 'x' of huge.npz claims an array of shape (1099511627776, 2) (16.0 TiB) but holds only 64 bytes",
    ),
    # item 9: messages that name the problem and one fix that works
    ("one-row", _rows_csv(1), ["estimate", "{tmp}/few.csv", *_FAST_ESTIMATE], "pass at least 40 rows"),
    ("twenty-rows", _rows_csv(20), ["estimate", "{tmp}/few.csv", *_FAST_ESTIMATE], "pass at least 40 rows"),
    (
        "latin-1",
        _csv("latin.csv", "a,b\n1,2\n\xe9,5\n", "latin-1"),
        ["estimate", "{tmp}/latin.csv", *_FAST_ESTIMATE],
        "latin.csv is not UTF-8 text (byte 0xe9 on line 3); save it as UTF-8",
    ),
    (
        "semicolons",
        _csv("semi.csv", "a;b\n1;2\n3;4\n"),
        ["estimate", "{tmp}/semi.csv", *_FAST_ESTIMATE],
        "semi.csv seems to be separated by ';', not commas (its first line is 'a;b'); save it with commas between fields",
    ),
    # a stray cell in a numeric column is named, never read as labels; the fix in the command's words
    (
        "stray-text",
        _stray_csv("?"),
        ["estimate", "{tmp}/stray.csv", *_FAST_ESTIMATE],
        "column 'a' of stray.csv holds 599 numbers and 1 other cell (line 18: '?'); correct those cells (a number, "
        "or empty for a missing value), or pass --discrete x to read the column as labels",
    ),
    ("thousands", _stray_csv('"1,000"'), ["estimate", "{tmp}/stray.csv", *_FAST_ESTIMATE], "(line 18: '1,000')"),
    ("hexadecimal", _stray_csv("0x10"), ["estimate", "{tmp}/stray.csv", *_FAST_ESTIMATE], "(line 18: '0x10')"),
    ("nul-byte", _stray_csv("1\x002"), ["estimate", "{tmp}/stray.csv", *_FAST_ESTIMATE], "(line 18: '1\\x002')"),
    # tracebacks that became one line
    (
        "z-labels",
        _csv("three.csv", "a,b,c\n" + "".join(f"{i * 0.37:.2f},{i * 0.11:.2f},{i % 2}\n" for i in range(60))),
        ["estimate", "{tmp}/three.csv", "--x", "a", "--y", "b", "--z", "c", *_FAST_ESTIMATE],
        "conditional MI needs numbers, but z holds only a few distinct whole numbers, which --discrete auto reads "
        "as labels; pass --discrete none to treat them as numbers",
    ),
    (
        "z-discrete-x",
        _csv("three.csv", "a,b,c\n" + "".join(f"{i * 0.37:.2f},{i * 0.11:.2f},{i * 0.7:.2f}\n" for i in range(60))),
        ["estimate", "{tmp}/three.csv", "--x", "a", "--y", "b", "--z", "c", "--discrete", "x", *_FAST_ESTIMATE],
        "conditional MI needs numbers, but --discrete x makes a side categorical; pass --discrete none",
    ),
    (
        "parquet-repeated",
        _duplicate_parquet,
        ["estimate", "{tmp}/dup.parquet", "--x", "a", "--y", "b", *_FAST_ESTIMATE],
        "dup.parquet has repeated column names a; rename them",
    ),
    (
        "device-meta",
        _rows_csv(600),
        ["estimate", "{tmp}/few.csv", "--device", "meta", *_FAST_ESTIMATE],
        "device 'meta' cannot hold the data to train on; use 'auto', 'cpu' or 'cuda'",
    ),
    (
        "demo-samples",
        None,
        ["demo", "--samples", "1000000000", *_FAST_ESTIMATE],
        "sampling 1,000,000,000 pairs (x in R^20, y in R^20; float64, then torch.float32) needs",
    ),
    (
        "demo-dimensions",
        None,
        ["demo", "--task", "gaussian-d100000-mi2", *_FAST_ESTIMATE],
        "a task of 100000 + 100000 = 200000 dimensions (its 200000 x 200000 covariance and factors) needs",
    ),
    # item 11: figures need matplotlib: refused before any training
    (
        "staircase",
        "no-matplotlib",
        [
            "bench",
            "staircase",
            "--steps-per-level",
            "2",
            "--levels",
            "2",
            "--bounds",
            "nwj",
            "--critics",
            "separable",
            "--tasks",
            "gaussian",
            "--workers",
            "1",
            "--out",
            "{tmp}/out",
        ],
        "pip install 'mibounds[plot]' (or pass --no-figures)",
    ),
    (
        "bias-variance",
        "no-matplotlib",
        [
            "bench",
            "bias-variance",
            "--mi",
            "1",
            "--batch-sizes",
            "4",
            "--alphas",
            "--repeats",
            "2",
            "--bounds",
            "nwj",
            "--out",
            "{tmp}/out",
        ],
        "pip install 'mibounds[plot]' (or pass --no-figures)",
    ),
    (
        "accuracy",
        "no-matplotlib",
        ["bench", "accuracy", "--seeds", "0", "--db", "{tmp}/a.sqlite", "--out", "{tmp}/out", "--no-progress"],
        "pip install 'mibounds[plot]' (or pass --no-figures)",
    ),
]


@pytest.mark.parametrize(("setup", "argv", "message"), [case[1:] for case in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_line_with_status_2_and_writes_nothing(setup, argv, message, tmp_path, capsys, monkeypatch):
    if setup == "no-matplotlib":
        _no_matplotlib(monkeypatch)
    elif setup is not None:
        setup(tmp_path)
    monkeypatch.chdir(tmp_path)  # a default output path would land here too
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    line = _error_line(capsys)
    assert line.startswith("mibounds: error: ") and message in line, line
    assert len(line) < 600, line
    assert _snapshot(tmp_path) == before


def test_csv_booleans_and_huge_fields_of_other_columns_are_read(tmp_path):
    from mibounds.estimation import load_xy

    path = tmp_path / "flags.csv"
    path.write_text("a,b,note\nTrue,1.5,x\nfalse,2.5," + "y" * 200_000 + "\nTRUE,3,z\n")
    data = load_xy(path, "a", "b")
    assert data.x[:, 0].tolist() == [1.0, 0.0, 1.0] and data.y[:, 0].tolist() == [1.5, 2.5, 3.0]


@pytest.mark.processes
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["bench", "sweep", "--seeds", "0", "--cell", SYNTHETIC, "--db", "{ro}/new.sqlite"],
            "cannot create the results file '{ro}/new.sqlite': the folder '{ro}' is not writable",
        ),
        (
            ["bench", "sweep", "--seeds", "0", "--cell", SYNTHETIC, "--db", "{ro}/deeper/new.sqlite"],
            "cannot create the results file '{ro}/deeper/new.sqlite'",
        ),
        (
            ["bench", "sweep", "--seeds", "0", "1", "2", "--cell", SYNTHETIC, "--db", "{ro}/r.sqlite"],
            "results file '{ro}/r.sqlite' ",
        ),
        (
            ["bench", "report", "--db", "{ro}/r.sqlite", "--out", "{ro}/report", "--no-figures"],
            "cannot write the report into '{ro}/report'",
        ),
    ],
    ids=["new-file", "new-folder", "existing-file", "report-out"],
)
def test_read_only_storage_is_one_line_with_status_2_and_writes_nothing(argv, message, tmp_path, run_read_only):
    storage = tmp_path / "ro"
    storage.mkdir()
    _results_file(storage / "r.sqlite")
    before = _snapshot(tmp_path)
    done = run_read_only(storage, ["-m", "mibounds.cli", *(a.replace("{ro}", str(storage)) for a in argv)])
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("mibounds: error: ") and message.replace("{ro}", str(storage)) in lines[0], lines[0]
    assert "not a mibounds results file" not in lines[0]
    assert _snapshot(tmp_path) == before


@pytest.mark.processes
def test_a_report_reads_a_results_file_on_read_only_storage(tmp_path, run_read_only):
    storage = tmp_path / "ro"
    storage.mkdir()
    _results_file(storage / "r.sqlite")
    done = run_read_only(
        storage,
        [
            "-m",
            "mibounds.cli",
            "bench",
            "report",
            "--db",
            str(storage / "r.sqlite"),
            "--out",
            str(tmp_path / "out"),
            "--no-figures",
        ],
    )
    assert done.returncode == 0, done.stderr
    assert "| gaussian" in (tmp_path / "out" / "report.md").read_text() or (tmp_path / "out" / "report.md").exists()
