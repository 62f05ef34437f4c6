"""Hostile and broken files: every reader bounds what it holds and refuses early, in one line.

The files of the reliability probe were gigabytes (a 2 GB sparse CSV, a 1.5 MB ``.npz`` that
inflates to 1.5 GB); the same guards are tripped here by small files with small limits (the
record length, ``max_bytes``), and the memory Python allocated while refusing (``tracemalloc``,
which NumPy reports to) is checked to stay far below the file's size.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import mibounds
from mibounds.estimation import _file_limits, _file_readers, _runtime, load_xy


def _peak_bytes(read: Callable[[], object]) -> tuple[int, BaseException | None]:
    """The peak of Python's allocations while ``read`` runs, and what it raised."""
    tracemalloc.start()
    try:
        read()
        raised = None
    except (ValueError, TypeError) as error:
        raised = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


def _sparse_csv(path: Path, size: int) -> Path:
    """A CSV file that a sparse tail of NUL bytes makes ``size`` bytes long."""
    with path.open("wb") as handle:
        handle.write(b"a,b\n1.5,2.5\n3.5,4.5\n")
        handle.truncate(size)
    return path


def test_a_sparse_csv_is_refused_at_its_first_long_line_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_limits, "MAX_RECORD_CHARS", 10_000)
    path = _sparse_csv(tmp_path / "sparse.csv", 4_000_000)
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert isinstance(raised, ValueError)
    assert str(raised) == (
        "the record at line 4 of sparse.csv is longer than 10,000 characters and holds NUL bytes: it is not a "
        "text file (a sparse or binary file?); pass a CSV file with one row per line"
    )
    assert peak < 400_000  # the 4 MB file was never held


def test_an_unclosed_quote_cannot_swallow_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_limits, "MAX_RECORD_CHARS", 10_000)
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,"2\n' + "3,4\n" * 100_000)
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert "the record at line 2501 of quote.csv is longer than 10,000 characters (a field whose closing quote" in str(
        raised
    )
    assert peak < 400_000


def test_a_row_of_another_width_is_refused_at_its_line_before_the_rest_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_limits, "MAX_RECORD_CHARS", 10_000)
    path = tmp_path / "wide.csv"
    path.write_text("a,b\n1,2\n" + "x," * 4_500 + "\n" + "3,4\n" * 200_000)
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert str(raised) == "line 3 of wide.csv has 4501 fields but the header has 2; give every row the same columns"
    assert peak < 400_000


def test_a_csv_larger_than_the_budget_is_refused_from_its_first_rows(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1.25,2.5\n" * 20_000)
    peak, raised = _peak_bytes(lambda: load_xy(path, max_bytes=500_000))
    assert str(raised).startswith(
        "reading big.csv as text (projected from its first 1,000 rows to its 175.8 KiB) needs 3.4 MiB"
    )
    assert str(raised).endswith(
        "more than the 488.3 KiB a read may use (max_bytes); save the columns you need as .npy (np.save), "
        "which is read without text, or pass fewer rows"
    )
    assert peak < 500_000
    assert load_xy(path, max_bytes=10_000_000).x.shape == (20_000, 1)  # enough room: read


def _npy(shape: tuple[int, ...], dtype: str = "<f8", fortran: bool = False) -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # NumPy pads the header to 64 bytes
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1")


def _zip_bomb(path: Path, rows_x: int, rows_y: int) -> Path:
    """An .npz of zeros, deflated (about 1,000 to 1): small on disk, large inflated."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in (("x", rows_x), ("y", rows_y)):
            archive.writestr(f"{name}.npy", _npy((rows, 1)) + bytes(8 * rows))
    return path


def test_a_zip_bomb_whose_rows_disagree_is_refused_by_its_headers(tmp_path):
    path = _zip_bomb(tmp_path / "bomb.npz", 1_000_000, 10)  # 8 MB of x inflated from about 8 KB
    assert path.stat().st_size < 50_000
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert str(raised).startswith("x has 1000000 rows but y has 10; pass arrays with one row per sample")
    assert peak < 1_000_000  # x was never inflated


def test_a_zip_bomb_larger_than_the_budget_is_refused_by_its_headers(tmp_path):
    path = _zip_bomb(tmp_path / "bomb.npz", 1_000_000, 1_000_000)
    peak, raised = _peak_bytes(lambda: load_xy(path, max_bytes=4_000_000))
    assert str(raised) == (
        "reading x and y from bomb.npz (1,000,000 rows of 2 columns, as float64) needs 19.3 MiB, more than the "
        "3.8 MiB a read may use (max_bytes); pass a sample of the rows, or fewer columns"
    )
    assert peak < 1_000_000


def test_a_zip_bomb_within_the_read_budget_but_beyond_what_an_estimate_holds_is_refused_first(tmp_path, monkeypatch):
    # Rows that agree and fit the read can still be more than the estimate's memory per row allows
    # (a 6 MB archive of 200,000,000 rows a side read, then died out of memory in the estimate).
    path = _zip_bomb(tmp_path / "bomb.npz", 1_000_000, 1_000_000)
    monkeypatch.setattr(_runtime, "available_memory", lambda: 100 * 2**20)
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert str(raised) == (
        "the arrays of bomb.npz (1,000,000 rows of 2 columns) need about 305.2 MiB to estimate from, more than "
        "the 100.0 MiB of memory available; estimate from a random subset of the rows (about 160,000 rows)"
    )
    assert peak < 1_000_000  # nothing was inflated


def test_a_zip_bomb_is_refused_by_how_far_it_inflates_whatever_its_rows(tmp_path, monkeypatch):
    path = _zip_bomb(tmp_path / "bomb.npz", 1_000_000, 1_000_000)  # 8 MB a side from about 8 KB
    monkeypatch.setattr(_file_readers, "_BOMB_BYTES", 1_000_000)  # stands in for 256 MiB
    peak, raised = _peak_bytes(lambda: load_xy(path))
    assert str(raised).startswith("array 'x' of bomb.npz inflates 1,0") and "np.savez" in str(raised)
    assert peak < 1_000_000
    np.savez(tmp_path / "plain.npz", x=np.zeros((1_000_000, 1)), y=np.zeros((1_000_000, 1)))
    assert load_xy(tmp_path / "plain.npz").x.shape == (1_000_000, 1)  # the same zeros, uncompressed, are read


def test_an_estimate_refuses_rows_it_cannot_hold(monkeypatch):
    x = np.zeros((50_000, 3))
    monkeypatch.setattr(_runtime, "available_memory", lambda: 10 * 2**20)
    with pytest.raises(ValueError, match=r"^x and y \(50,000 rows of 4 columns\) need about 16\.8 MiB .* subset"):
        mibounds.estimate(x, x[:, :1], random_state=0)


def test_npz_members_are_read_in_chunks_into_their_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_readers, "_CHUNK_BYTES", 64)  # many chunks per member
    rng = np.random.default_rng(0)
    arrays = {
        "a": rng.normal(size=(50, 3)).astype(np.float32),
        "b": np.asfortranarray(rng.normal(size=(50, 2))),
        "c": rng.integers(-5, 5, 50).astype(">i4"),
        "d": rng.normal(size=(50, 2)) > 0,
    }
    np.savez_compressed(tmp_path / "parts.npz", **arrays)
    data = load_xy(tmp_path / "parts.npz", "a,b", "c,d")
    np.testing.assert_array_equal(data.x, np.hstack([arrays["a"], arrays["b"]]).astype(np.float64))
    np.testing.assert_array_equal(data.y, np.column_stack([arrays["c"], arrays["d"]]).astype(np.float64))
    assert data.x_columns == ["a[0]", "a[1]", "a[2]", "b[0]", "b[1]"] and data.y_columns == ["c", "d[0]", "d[1]"]


def test_an_npz_member_that_is_not_an_array_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as archive:
        archive.writestr("x.npy", b"plain text, not an array")
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        archive.writestr("y.npy", buffer.getvalue())
    with pytest.raises(ValueError, match=r"^array 'x' of odd.npz is not a NumPy array \(no .npy header\)"):
        load_xy(tmp_path / "odd.npz")


def test_npy_and_parquet_larger_than_the_budget_are_refused_before_reading(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100_000, 4)))
    with pytest.raises(ValueError, match=r"^reading 2 columns of big.npy \(100,000 rows, as float64\) needs 1.5 MiB"):
        load_xy(tmp_path / "big.npy", "0", "1", max_bytes=1_000_000)
    assert load_xy(tmp_path / "big.npy", "0", "1", max_bytes=2_000_000).x.shape == (100_000, 1)
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": np.zeros(100_000), "b": np.ones(100_000)}), tmp_path / "big.parquet")
    with pytest.raises(
        ValueError, match=r"^reading 2 columns of big.parquet \(100,000 rows, as float64\) needs 3.1 MiB"
    ):
        load_xy(tmp_path / "big.parquet", "a", "b", max_bytes=1_000_000)
