"""The one summary of estimates against the truth, shared by every experiment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibounds.experiments.sweep.statistics import summarize_errors


def test_summary_against_direct_formulas() -> None:
    values = np.array([1.0, 2.0, 4.0, np.nan, -np.inf])
    s = summarize_errors(values, 2.0)
    finite = values[:3]
    assert (s.count, s.nonfinite) == (3, 2)
    assert s.mean == pytest.approx(finite.mean()) and s.bias == pytest.approx(finite.mean() - 2.0)
    assert s.variance == pytest.approx(finite.var(ddof=1)) and s.std == pytest.approx(finite.std(ddof=1))
    assert s.stderr == pytest.approx(math.sqrt(finite.var(ddof=1) / 3))
    assert s.mse == pytest.approx(np.mean((finite - 2.0) ** 2)) and s.rmse == pytest.approx(math.sqrt(s.mse))
    assert s.mse == pytest.approx(s.bias**2 + s.variance * 2 / 3)
    assert s.mae == pytest.approx(np.mean(np.abs(finite - 2.0)))


def test_paired_truths_and_undefined_values() -> None:
    s = summarize_errors([1.0, 3.0], [0.0, 2.0])
    assert (s.truth, s.bias, s.mse) == (1.0, 1.0, 1.0)
    alone = summarize_errors([5.0])
    assert alone.mean == 5.0 and all(math.isnan(v) for v in (alone.variance, alone.stderr, alone.bias, alone.mse))
    empty = summarize_errors([], 1.0)
    assert empty.count == 0 and math.isnan(empty.mean) and empty.truth == 1.0
