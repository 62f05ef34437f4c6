"""Converting and loading data: every accepted input type and file format, and each refusal."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

import mibounds
from mibounds import validation
from mibounds.estimation import as_array, load_xy
from mibounds.estimation.data import check_pair, parse_columns


def test_inputs_of_every_type_give_the_same_array():
    values = np.arange(12.0).reshape(6, 2)
    frame = pd.DataFrame(values, columns=["a", "b"])
    for given in (values, torch.tensor(values), frame, values.tolist()):
        array, _ = as_array(given, "x")
        np.testing.assert_array_equal(array, values)
    assert as_array(frame, "x")[1] == ["a", "b"]
    assert as_array(values, "y")[1] == ["y[0]", "y[1]"]


def test_one_dimensional_input_is_one_feature():
    array, names = as_array(np.arange(5), "x")
    assert array.shape == (5, 1)
    assert as_array(pd.Series([1.0, 2.0], name="speed"), "x")[1] == ["speed"]


def test_nan_and_inf_name_the_rows():
    x = np.zeros((10, 2))
    x[3, 1] = np.nan
    x[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"x has NaN or inf values in 2 rows \(0-based: 3, 7\); drop or impute"):
        check_pair(x, np.zeros((10, 1)))


def test_different_row_counts():
    with pytest.raises(ValueError, match="x has 10 rows but y has 9; pass arrays with one row per sample"):
        check_pair(np.zeros((10, 1)), np.zeros((9, 1)))


def test_more_than_two_dimensions():
    with pytest.raises(ValueError, match=r"x has 3 dimensions \(shape \(4, 2, 2\)\); pass a 2-d array.*reshape"):
        as_array(np.zeros((4, 2, 2)), "x")


def test_non_numeric_dataframe_columns_are_named():
    frame = pd.DataFrame({"a": [1.0, 2.0], "species": ["cat", "dog"]})
    with pytest.raises(
        TypeError, match=r"x has non-numeric columns 'species' \((object|str)\); encode them as numbers"
    ):
        as_array(frame, "x")
    with pytest.raises(TypeError, match=r"y holds non-numeric values \(dtype <U3\)"):
        as_array(np.array(["cat", "dog"]), "y")


def test_empty_array():
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3\)\)"):
        as_array(np.zeros((0, 3)), "x")


# --- files ------------------------------------------------------------------------------------


def _csv(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_names_indices_and_ranges(tmp_path):
    path = _csv(tmp_path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,12\n")
    data = load_xy(path, "a,b", "2:4")
    np.testing.assert_array_equal(data.x, [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(data.y, [[3, 4], [7, 8], [11, 12]])
    assert (data.x_columns, data.y_columns) == (["a", "b"], ["c", "d"])
    only_x = load_xy(path, x="0")  # y takes every other column
    assert only_x.y_columns == ["b", "c", "d"]


def test_csv_without_header_and_tsv(tmp_path):
    data = load_xy(_csv(tmp_path, "1,2\n3,4\n"))  # two columns: x then y
    np.testing.assert_array_equal(data.x[:, 0], [1, 3])
    tsv = load_xy(_csv(tmp_path, "u\tv\n1\t2\n3\t4\n", "data.tsv"), "v", "u")
    np.testing.assert_array_equal(tsv.x[:, 0], [2, 4])


def test_csv_missing_values_are_reported_by_row(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n3,\n5,NA\n")
    with pytest.raises(ValueError, match=r"y has NaN or inf values in 2 rows \(0-based: 1, 2\)"):
        load_xy(path)


def test_empty_file(tmp_path):
    with pytest.raises(ValueError, match="data.csv is empty; pass a file with one row per sample"):
        load_xy(_csv(tmp_path, ""))
    with pytest.raises(ValueError, match="has a header but no data rows"):
        load_xy(_csv(tmp_path, "a,b\n", "header.csv"))


def test_non_numeric_column_in_a_file(tmp_path):
    path = _csv(tmp_path, "a,kind\n1,x\n2,y\n")
    with pytest.raises(
        TypeError, match=r"column 'kind' of data.csv is not numeric \(line 2: 'x', line 3: 'y'\); select numeric"
    ):
        load_xy(path, "a", "kind")


def test_unknown_column_suggests_the_closest(tmp_path):
    path = _csv(tmp_path, "speed,angle,force\n1,2,3\n")
    with pytest.raises(
        ValueError, match=r"unknown column 'sped' in data.csv. Did you mean 'speed'\? Columns: speed, angle, force"
    ):
        load_xy(path, "sped", "angle")
    with pytest.raises(ValueError, match="column index 7 is out of range: data.csv has 3 columns"):
        load_xy(path, "7", "angle")


def test_columns_are_required_for_wide_tables(tmp_path):
    path = _csv(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="data.csv has 3 columns; say which are x and which are y"):
        load_xy(path)
    with pytest.raises(ValueError, match="columns a are in both x and y"):
        load_xy(path, "a", "a,b")


def test_ragged_csv(tmp_path):
    with pytest.raises(ValueError, match="line 3 of data.csv has 1 fields but the header has 2"):
        load_xy(_csv(tmp_path, "a,b\n1,2\n3\n"))


def test_npy_and_npz(tmp_path):
    values = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "m.npy", values)
    data = load_xy(tmp_path / "m.npy", "0", "1:3")
    np.testing.assert_array_equal(data.y, values[:, 1:])
    np.savez(tmp_path / "p.npz", x=values[:, 0], y=values[:, 1:], emb=values)
    pairs = load_xy(tmp_path / "p.npz")  # arrays x and y by default
    assert pairs.x.shape == (4, 1) and pairs.y.shape == (4, 2)
    assert load_xy(tmp_path / "p.npz", "emb", "y").x_columns == ["emb[0]", "emb[1]", "emb[2]"]
    with pytest.raises(ValueError, match=r"unknown array 'xx' in p.npz. Did you mean 'x'\? Arrays: x, y, emb"):
        load_xy(tmp_path / "p.npz", "xx", "y")


def test_z_columns_and_arrays_are_read_and_never_taken_as_the_rest(tmp_path):
    values = np.arange(20.0).reshape(5, 4)
    np.save(tmp_path / "m.npy", values)
    data = load_xy(tmp_path / "m.npy", "0", None, "2")  # y = what x and z leave
    assert (data.x_columns, data.y_columns, data.z_columns) == (["0"], ["1", "3"], ["2"])
    np.testing.assert_array_equal(data.z, values[:, 2:3])
    assert load_xy(tmp_path / "m.npy", "0", "1").z is None
    np.savez(tmp_path / "p.npz", x=values[:, 0], y=values[:, 1], z=values[:, 2:])
    triple = load_xy(tmp_path / "p.npz", "x", None, "z")
    assert triple.y_columns == ["y"] and triple.z_columns == ["z[0]", "z[1]"] and triple.z.shape == (5, 2)
    np.savez(tmp_path / "short.npz", x=values[:, 0], y=values[:, 1], z=values[:4, 2])
    with pytest.raises(ValueError, match="z has 4 rows but x and y have 5; pass one row of z per row of x and y"):
        load_xy(tmp_path / "short.npz", "x", "y", "z")


def test_structured_npy_fields_are_columns(tmp_path):
    table = np.zeros(3, dtype=[("speed", float), ("angle", float)])
    table["speed"] = [1, 2, 3]
    np.save(tmp_path / "s.npy", table)
    np.testing.assert_array_equal(load_xy(tmp_path / "s.npy", "speed", "angle").x[:, 0], [1, 2, 3])


def test_npz_arrays_with_too_many_dimensions(tmp_path):
    np.savez(tmp_path / "img.npz", x=np.zeros((4, 2, 2)), y=np.zeros(4))
    with pytest.raises(ValueError, match=r"array 'x' of img.npz has 3 dimensions"):
        load_xy(tmp_path / "img.npz")


def test_pickled_files_are_never_loaded(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="holds pickled Python objects .* never unpickles"):
        load_xy(tmp_path / "obj.npy", "0", "1")


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")  # the 'data' extra; CI installs it
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "name": ["p", "q", "r"]})
    frame.to_parquet(tmp_path / "t.parquet")
    data = load_xy(tmp_path / "t.parquet", "a", "b")
    np.testing.assert_array_equal(data.y[:, 0], [4, 5, 6])
    with pytest.raises(TypeError, match=r"column 'name' of t.parquet is not numeric \(type (large_)?string\)"):
        load_xy(tmp_path / "t.parquet", "a", "name")


def test_parquet_integers_beyond_2_to_the_53_are_numbers(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    big = np.arange(5, dtype=np.uint64) + np.uint64(2**60)
    pq.write_table(
        pa.table({"a": pa.array(big, pa.uint64()), "b": pa.array(-big.astype(np.int64)), "c": np.ones(5)}),
        tmp_path / "ids.parquet",
    )
    data = load_xy(tmp_path / "ids.parquet", "a", "b,c")
    np.testing.assert_array_equal(data.x[:, 0], big.astype(np.float64))  # rounded to float64, as any number
    np.testing.assert_array_equal(data.y[:, 0], -big.astype(np.float64))


def test_parquet_text_labels_are_read_as_csv_labels_are(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    colours = ["red", "green", "blue", None, "red"]
    pq.write_table(
        pa.table({"a": np.arange(5.0), "colour": colours, "ok": [True, False, True, True, False]}),
        tmp_path / "t.parquet",
    )
    for labels in ("y", "auto"):
        data = load_xy(tmp_path / "t.parquet", "a", "colour", labels=labels)
        assert data.y[:, 0].tolist() == colours and data.y.dtype == object
    assert load_xy(tmp_path / "t.parquet", "a", "ok", labels="y").y[:, 0].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    with pytest.raises(TypeError, match=r"column 'colour' of t.parquet is not numeric"):
        load_xy(tmp_path / "t.parquet", "a", "colour", labels="none")


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file type '.xlsx'; supported: .csv, .npy"):
        load_xy(_csv(tmp_path, "a", "book.xlsx"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_xy(tmp_path / "absent.csv")


def test_parse_columns():
    assert parse_columns(" a, b ,0:3") == ["a", "b", "0:3"]
    assert parse_columns(["a", "b,c"]) == ["a", "b", "c"]
    assert parse_columns(None) is None
    with pytest.raises(ValueError, match="empty column list"):
        parse_columns(" , ")


def test_constant_columns():
    values = np.array([[1.0, 2.0, 3.0], [1.0, 5.0, 3.0]])
    assert validation.constant_columns(values) == [0, 2]


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        (None, TypeError, "x is None; pass an array with one row per sample"),
        (
            [[1.0, 2.0], [3.0]],
            ValueError,
            "x is a ragged nested list: row 0 has 2 values but row 1 has 1 value; "
            "give every row the same number of values",
        ),
        (
            [[1.0, 2.0], [3.0, 4.0], [5.0, [6.0, 7.0]]],
            ValueError,
            "x is a ragged nested list: row 2 holds a list where numbers belong",
        ),
        (3.5, ValueError, "x is a single number; pass an array with one row per sample"),
    ],
)
def test_in_memory_inputs_get_their_own_message(values, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_array(values, "x")


# --- a stray cell, a header, rows paired by index, masked rows ----------------------------------


def _numbers_csv(tmp_path, stray: dict[int, str], name: str = "f.csv", n: int = 40):
    rng = np.random.default_rng(0)
    rows = [[f"{v:.1f}" for v in row] for row in rng.normal(size=(n, 2))]
    for row, cell in stray.items():
        rows[row][0] = cell
    return _csv(tmp_path, "a,b\n" + "".join(",".join(r) + "\n" for r in rows), name)


def test_a_stray_cell_in_a_numeric_column_is_named_never_read_as_labels(tmp_path):
    path = _numbers_csv(tmp_path, {15: "?", 30: "?"})
    with pytest.raises(
        ValueError,
        match=r"column 'a' of f.csv holds 38 numbers and 2 other cells \(line 17: '\?', line 32: '\?'\); correct "
        r"those cells .* or pass discrete='x' to read the column as labels",
    ):
        load_xy(path, labels="auto")
    codes = _csv(tmp_path, "a,b\n1,0.5\n2,0.7\n?,0.1\n1,0.2\n", "codes.csv")
    assert load_xy(codes, labels="x").x[:, 0].tolist() == ["1", "2", "?", "1"]  # asked for: labels
    with pytest.raises(TypeError, match=r"column 'a' of f.csv is not numeric \(line 17: '\?', line 32: '\?'\)"):
        load_xy(path, labels="none")


@pytest.mark.parametrize("cell", ['"1,000"', "0x10", "1\x002"])
def test_numbers_in_a_format_float_does_not_read_are_named(tmp_path, cell):
    shown = {'"1,000"': "'1,000'", "0x10": "'0x10'", "1\x002": "'1\\x002'"}[cell]
    with pytest.raises(
        ValueError, match=rf"column 'a' of f.csv holds 39 numbers and 1 other cell \(line 5: {re.escape(shown)}\)"
    ):
        load_xy(_numbers_csv(tmp_path, {3: cell}), labels="auto")
    # a whole column of them: too many distinct values to be labels, the first named
    rows = "".join(f'"{i},{i % 7}00",{i * 0.37:.2f}\n' for i in range(1, 61))
    with pytest.raises(ValueError, match=r"column 'a' of g.csv is not numeric \(line 2: '1,100'\) and has 60 distinct"):
        load_xy(_csv(tmp_path, "a,b\n" + rows, "g.csv"), labels="auto")


@pytest.mark.parametrize("header", ["1,2", "true,false", "0,1"])
def test_a_header_of_numbers_or_booleans_above_decimals_is_a_header(tmp_path, header):
    data = load_xy(_csv(tmp_path, f"{header}\n0.5,0.25\n1.5,2.75\n-0.5,3.25\n"))
    assert data.x_columns == [header.split(",")[0]] and data.x[:, 0].tolist() == [0.5, 1.5, -0.5]


def test_a_first_row_with_an_empty_cell_stays_a_data_row(tmp_path):
    with pytest.raises(ValueError, match=r"y has NaN or inf values in 1 row \(0-based: 0\)"):
        load_xy(_csv(tmp_path, "0.5,\n0.3,0.2\n0.1,0.4\n"))  # the empty cell is row 0 of y
    assert load_xy(_csv(tmp_path, "1,2\n3,4\n", "ints.csv")).x[:, 0].tolist() == [1, 3]  # integers: data
    assert load_xy(_csv(tmp_path, ",a,b\n0,1.5,2\n1,2.5,3\n", "pd.csv"), "a", "b").x.tolist() == [[1.5], [2.5]]


def test_parquet_with_a_repeated_column_name_is_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_arrays(
        [pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([5.0, 6.0])], names=["a", "a", "b"]
    )
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(ValueError, match="dup.parquet has repeated column names a; rename them"):
        load_xy(tmp_path / "dup.parquet", "a", "b")


def test_pandas_inputs_pair_by_index_label_or_are_refused():
    from mibounds.estimation.data import pair_rows

    x = pd.DataFrame({"u": [1.0, 2.0, 3.0, 4.0]}, index=[10, 11, 12, 13])
    y = pd.Series([10.0, 20.0, 30.0, 40.0], index=[10, 11, 12, 13])
    (xs, ys), notes = pair_rows([x.sample(frac=1, random_state=0), y], ["x", "y"])
    assert (ys.to_numpy() == 10 * xs["u"].to_numpy()).all() and "paired by label" in notes[0]
    assert pair_rows([x, y], ["x", "y"])[1] == []  # the same index: nothing to say
    with pytest.raises(ValueError, match=r"indexes hold different labels \(label 0 is in y only\); .*y.loc\[x.index\]"):
        pair_rows([x, y.reset_index(drop=True)], ["x", "y"])
    with pytest.raises(ValueError, match="y's index repeats labels"):
        pair_rows([x, pd.Series([1.0, 2.0, 3.0, 4.0], index=[10, 10, 11, 12])], ["x", "y"])


def test_an_estimate_of_a_shuffled_frame_pairs_rows_by_index():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    x = pd.DataFrame({"a": labels})
    y = pd.Series(np.where(rng.random(2000) < 0.6, labels, rng.integers(0, 4, 2000)))
    aligned = mibounds.estimate(x, y, random_state=0, progress=False)
    with pytest.warns(validation.MIBoundsWarning, match="paired by label"):
        shuffled = mibounds.estimate(x.sample(frac=1, random_state=1), y, random_state=0, progress=False)
    assert aligned.estimate > 0.3 and shuffled.estimate == pytest.approx(aligned.estimate, abs=0.01)


def test_masked_rows_are_left_out_of_both_sides():
    from mibounds.estimation.data import pair_rows

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 1000)
    y = np.where(rng.random(1000) < 0.7, labels, rng.integers(0, 3, 1000))
    x = np.ma.masked_equal(np.where(rng.random(1000) < 0.2, -999, labels), -999)  # sentinels, masked
    (xs, ys), notes = pair_rows([x, y], ["x", "y"])
    kept = ~np.ma.getmaskarray(x)
    assert not isinstance(xs, np.ma.MaskedArray) and (xs == labels[kept]).all() and (ys == y[kept]).all()
    assert notes[0].startswith(f"{(~kept).sum()} of 1000 rows have masked values (x: numpy masked arrays)")
    with pytest.warns(validation.MIBoundsWarning, match="masked values"):
        result = mibounds.estimate(x, y, random_state=0, progress=False)
    expected = mibounds.estimate(labels[kept], y[kept], random_state=0, progress=False)
    assert result.n == kept.sum() and result.estimate == pytest.approx(expected.estimate)
