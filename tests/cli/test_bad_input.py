"""Bad input to the ``mibounds`` command line: refused in one line, with status 2, writing nothing.

Each case of :data:`BAD_INPUT` builds its hostile or mistaken input in a fresh folder, runs the
command in-process and checks the message, the status, that no traceback is printed and that
no file in the folder changed. Guards that protect against huge files (memory, line lengths) are
tripped with small files and a small limit set for the test, not with gigabytes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mibounds.cli import main


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


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


def _patched(setup, *patches: tuple[str, object]):
    """``setup`` with module attributes set for the test (``("module.name", value)``): a small
    limit stands in for a huge file."""

    def run(tmp_path, monkeypatch) -> None:
        for target, value in patches:
            monkeypatch.setattr(target, value)
        if setup is not None:
            setup(tmp_path)

    run.patches = patches
    return run


_SMALL_RECORDS = ("mibounds.estimation._file_limits.MAX_RECORD_CHARS", 10_000)
_SMALL_MEMORY = ("mibounds.estimation._file_limits.physical_memory", lambda: 1_000_000)


def _sparse_csv(tmp_path) -> None:  # a 4 MB file of NUL bytes after two rows (a sparse file: no disk)
    with (tmp_path / "sparse.csv").open("wb") as handle:
        handle.write(b"a,b\n1.5,2.5\n3.5,4.5\n")
        handle.truncate(4_000_000)


def _zip_bomb(rows_x: int, rows_y: int):
    def write(tmp_path) -> None:  # zeros, deflated about 1,000 to 1
        import zipfile

        with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, rows in (("x", rows_x), ("y", rows_y)):
                archive.writestr(f"{name}.npy", _npy_header((rows, 1)) + bytes(8 * rows))

    return write


def _npz(rows_x: int, rows_y: int):
    def write(tmp_path) -> None:  # random numbers, stored uncompressed
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "data.npz", x=rng.normal(size=(rows_x, 1)), y=rng.normal(size=(rows_y, 1)))

    return write


def _npy_header(shape: tuple[int, ...]) -> bytes:
    import struct

    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # NumPy pads the header to 64 bytes
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1")


def _dangling_db(tmp_path) -> None:  # a link to a file that does not exist: a sweep would create it
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "r.sqlite").symlink_to(tmp_path / "elsewhere" / "new.sqlite")


def _fifo(tmp_path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.csv")


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
    (
        "db-dangling-link",
        _dangling_db,
        _SWEEP,
        "r.sqlite': it is a symbolic link (to ",
    ),
    # hostile files: each reader bounds what it holds and refuses early (small files, small limits)
    (
        "csv-sparse",
        _patched(_sparse_csv, _SMALL_RECORDS),
        ["estimate", "{tmp}/sparse.csv", *_FAST_ESTIMATE],
        "the record at line 4 of sparse.csv is longer than 10,000 characters and holds NUL bytes: it is not a "
        "text file (a sparse or binary file?); pass a CSV file with one row per line",
    ),
    (
        "csv-unclosed-quote",
        _patched(_csv("quote.csv", 'a,b\n1,"2\n' + "3,4\n" * 5_000), _SMALL_RECORDS),
        ["estimate", "{tmp}/quote.csv", *_FAST_ESTIMATE],
        "the record at line 2501 of quote.csv is longer than 10,000 characters (a field whose closing quote is "
        "missing?)",
    ),
    (
        "csv-memory",
        _patched(_csv("big.csv", "a,b\n" + "1.25,2.5\n" * 20_000), _SMALL_MEMORY),
        ["estimate", "{tmp}/big.csv", *_FAST_ESTIMATE],
        "reading big.csv as text (projected from its first 1,000 rows to its 175.8 KiB) needs 3.4 MiB, more than "
        "the 488.3 KiB a read may use (half of this machine's 976.6 KiB of memory); save the columns you need as "
        ".npy (np.save)",
    ),
    (
        "npz-zip-bomb",
        _zip_bomb(1_000_000, 10),
        ["estimate", "{tmp}/bomb.npz", *_FAST_ESTIMATE],
        "x has 1000000 rows but y has 10; pass arrays with one row per sample",
    ),
    (
        "npz-agreeing-zip-bomb",  # rows that agree and fit the read: refused by its inflation
        _patched(_zip_bomb(1_000_000, 1_000_000), ("mibounds.estimation._file_readers._BOMB_BYTES", 1_000_000)),
        ["estimate", "{tmp}/bomb.npz", *_FAST_ESTIMATE],
        "array 'x' of bomb.npz inflates 1,0",
    ),
    (
        "npz-estimate-memory",  # rows that fit the read but not the estimate's memory per row
        _patched(_npz(1_000, 1_000), ("mibounds.estimation._runtime.available_memory", lambda: 100_000)),
        ["estimate", "{tmp}/data.npz", *_FAST_ESTIMATE],
        "the arrays of data.npz (1,000 rows of 2 columns) need about",
    ),
    (
        "npz-memory",
        _patched(_zip_bomb(1_000_000, 1_000_000), _SMALL_MEMORY),
        ["estimate", "{tmp}/bomb.npz", *_FAST_ESTIMATE],
        "reading x and y from bomb.npz (1,000,000 rows of 2 columns, as float64) needs 19.3 MiB, more than the "
        "488.3 KiB a read may use (half of this machine's 976.6 KiB of memory); pass a sample of the rows",
    ),
    (
        "fifo",
        _fifo,
        ["estimate", "{tmp}/pipe.csv", *_FAST_ESTIMATE],
        "pipe.csv is a named pipe (FIFO), not a file of data; save the data to a file first (e.g. cat > data.csv) "
        "and pass that",
    ),
    (
        "z-nan",
        _csv(
            "three.csv",
            "a,b,c\n" + "".join(f"{i * 0.37:.2f},{i * 0.11:.2f},{'' if i == 7 else i * 0.7}\n" for i in range(60)),
        ),
        ["estimate", "{tmp}/three.csv", "--x", "a", "--y", "b", "--z", "c", *_FAST_ESTIMATE],
        "z has NaN or inf values in 1 row (0-based: 7); drop or impute those rows in x, y and z",
    ),
    # messages that name the mistake
    (
        "seed-beyond-64-bits",
        _rows_csv(100),
        ["estimate", "{tmp}/few.csv", "--seed", str(2**70), *_FAST_ESTIMATE],
        "argument --seed: a seed is a whole number from 0 to 9223372036854775807 (2**63 - 1), got "
        "'1180591620717411303424'",
    ),
    (
        "one-column",
        _csv("one.csv", "a\n" + "".join(f"{i * 0.5}\n" for i in range(60))),
        ["estimate", "{tmp}/one.csv", *_FAST_ESTIMATE],
        "one.csv has 1 column (a), but x and y need a column each; pass a file with a column for each variable",
    ),
    (
        "independence-40-rows",
        _rows_csv(40),
        ["test-independence", "{tmp}/few.csv", *_FAST_ESTIMATE],
        "the test needs at least 20 test rows and 40 training rows (8 per fold with num_folds = 5), so pass at "
        "least 80 rows",
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
    elif hasattr(setup, "patches"):
        setup(tmp_path, monkeypatch)
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
