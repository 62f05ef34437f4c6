"""Each mistake gets the message that names it: inputs that no path of the estimator reads, the
rows a test needs, seeds out of range, files of one column."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

import mibounds
from mibounds import tasks
from mibounds.estimation import as_array, load_xy

FAST = {"max_steps": 5, "progress": False}


def test_a_scipy_sparse_matrix_is_named_with_the_fix():
    sparse = pytest.importorskip("scipy.sparse")
    x = sparse.csr_matrix(np.eye(100, 2))
    y = np.random.default_rng(0).normal(size=100)
    message = (
        "x is a scipy.sparse csr_matrix (shape (100, 2), 2 stored values); mibounds reads dense rows: pass "
        "x.toarray(), or a selection of its columns"
    )
    for call in (
        lambda: mibounds.estimate(x, y, **FAST),
        lambda: mibounds.independence_test(x, y, **FAST),
        lambda: mibounds.rank_features(x, y, **FAST),
    ):
        with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
            call()


def test_an_empty_dataframe_is_empty():
    y = np.zeros(10)
    with pytest.raises(ValueError, match=r"^x is empty \(a DataFrame of shape \(0, 0\)\); pass one row per sample"):
        mibounds.estimate(pd.DataFrame(), y, **FAST)
    with pytest.raises(ValueError, match=r"^y is empty \(a Series of shape \(0,\)\)"):
        mibounds.estimate(np.zeros(10), pd.Series([], dtype=float), **FAST)


def test_bfloat16_tensors_are_read_as_float32():
    values = torch.randn(50, 2).to(torch.bfloat16)
    array, _ = as_array(values, "x")
    np.testing.assert_array_equal(array, values.float().numpy())
    x = torch.randn(200, 1)
    result = mibounds.estimate(x.to(torch.bfloat16), (x + torch.randn(200, 1)).to(torch.bfloat16), **FAST)
    assert np.isfinite(result.estimate)


def test_the_rows_an_independence_test_needs_count_its_training_folds():
    x = np.random.default_rng(0).normal(size=(40, 1))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "too few rows: 40 rows split into 20 training and 20 test rows with test_size = 0.5; the test needs at "
            "least 20 test rows and 40 training rows (8 per fold with num_folds = 5), so pass at least 80 rows"
        ),
    ):
        mibounds.independence_test(x, x, random_state=0, **FAST)
    with pytest.raises(ValueError, match=r"with test_size = 0.25; .* so pass at least 78 rows"):  # 58 train, 20 test
        mibounds.independence_test(x, x, random_state=0, test_size=0.25, **FAST)
    rows = np.random.default_rng(1).normal(size=(80, 1))
    assert mibounds.independence_test(rows, rows, random_state=0, num_permutations=9, **FAST).n_test == 40


def test_a_seed_beyond_64_bits_is_out_of_range_not_an_overflow():
    x = np.random.default_rng(0).normal(size=(100, 1))
    with pytest.raises(ValueError, match=r"^random_state must be None or a whole number from 0 to 9223372036854775807"):
        mibounds.estimate(x, x, random_state=2**70, **FAST)
    with pytest.raises(ValueError, match=r"^seed must be an integer from 0 to 9223372036854775807, got 2361"):
        tasks.make("gaussian-d2-mi1").sample(10, seed=2**71)
    assert mibounds.estimate(x, x + 1, random_state=2**63 - 1, **FAST).random_state == 2**63 - 1


def test_a_file_of_one_column_says_so(tmp_path):
    (tmp_path / "one.csv").write_text("a\n" + "".join(f"{i * 0.5}\n" for i in range(50)))
    message = (
        "one.csv has 1 column (a), but x and y need a column each; pass a file with a column for each variable "
        "(MI is between two variables)"
    )
    for x in (None, "a"):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            load_xy(tmp_path / "one.csv", x)
    (tmp_path / "two.csv").write_text("a,b\n" + "".join(f"{i * 0.5},{i}\n" for i in range(50)))
    with pytest.raises(ValueError, match=r"^two.csv has 1 column left after z \(a\)"):
        load_xy(tmp_path / "two.csv", z="b")


def test_a_named_pipe_is_not_empty_but_a_pipe(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(ValueError, match=r"^pipe.csv is a named pipe \(FIFO\), not a file of data"):
        load_xy(tmp_path / "pipe.csv")
