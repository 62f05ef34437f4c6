"""Deep InfoMax on the digits: arguments and the table (default tier); the comparison's claim (slow tier)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibounds.experiments.dim_digits import DIMComparison, DIMDigitsRun, run_dim_digits


def run(accuracy: float, random: float = 0.8) -> DIMDigitsRun:
    return DIMDigitsRun(accuracy, random, None, 1.0, math.isfinite(accuracy), 0.0)


def test_table_reports_mean_and_spread_and_failures() -> None:
    comparison = DIMComparison(
        runs={("local", "dv"): [run(0.9), run(0.8), run(math.nan)], ("local", "js"): [run(0.9)] * 3},
        seeds=[0, 1, 2],
        random_accuracy=[0.7, 0.8, 0.9],
    )
    table = comparison.table()
    assert table.columns == ("objective", "dv", "js")
    assert table.rows[0] == ("local", "0.850 ± 0.071 (1 failed)", "0.900 ± 0.000")
    assert table.rows[1] == ("random encoder", "0.800 ± 0.100", "0.800 ± 0.100")
    np.testing.assert_array_equal(comparison.accuracies("local", "js"), [0.9] * 3)


def test_unknown_objective() -> None:
    with pytest.raises(ValueError, match="objective"):
        run_dim_digits("patchwise", "js", num_steps=1)


@pytest.mark.slow
def test_infonce_local_beats_the_random_encoder_by_seed_spreads() -> None:
    """The claim that reproduces (docs/representation.md): CLAIM."""
    pytest.importorskip("sklearn", reason="the digits and the probe need scikit-learn")
