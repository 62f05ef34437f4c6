"""rank_features: ordering by known per-feature MI, groups, names, errors."""

from __future__ import annotations

import numpy as np
import pytest

import mibounds
from mibounds.estimation import FeatureRanking
from mibounds.tasks import ClassConditionalGaussian

FAST = {"max_steps": 200, "random_state": 0, "progress": False}


def _features(n: int = 3000, seed: int = 0):
    """Columns independent given y; column j shifts with y by separation[j] (known MI each)."""
    separations = [0.0, 0.5, 1.0, 2.0]
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.column_stack([s * y + rng.normal(size=n) for s in separations])
    truth = [ClassConditionalGaussian.spaced(3, s, 1).mutual_information for s in separations]
    return x, y, truth


def test_features_come_out_in_the_order_of_their_true_mi():
    x, y, truth = _features()
    ranking = mibounds.rank_features(x, y, **FAST)
    assert isinstance(ranking, FeatureRanking)
    assert ranking.names == [f"x[{j}]" for j in np.argsort(truth)[::-1]]
    best = ranking.scores[0]
    assert best.method == "barber-agakov" and best.ci_low <= max(truth) + 0.05
    assert "feature" in str(ranking).splitlines()[0]


def test_groups_and_dataframe_names():
    pd = pytest.importorskip("pandas")
    x, y, _ = _features(2000)
    frame = pd.DataFrame(x, columns=["noise", "weak", "mid", "strong"])
    ranking = mibounds.rank_features(frame, y, groups={"signal": ["mid", "strong"], "noise": "noise"}, **FAST)
    assert ranking.names == ["signal", "noise"] and ranking.scores[0].columns == [
        "mid",
        "strong",
    ]
    assert list(ranking.to_frame().columns)[:3] == ["name", "columns", "estimate"]


def test_a_continuous_target_uses_the_default_estimator():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 2))
    y = x[:, 1] + 0.3 * rng.normal(size=2000)
    ranking = mibounds.rank_features(x, y, **FAST)
    assert ranking.names == ["x[1]", "x[0]"] and ranking.scores[0].method == "log-ratio"


def test_bad_groups_are_named():
    x, y, _ = _features(300)
    with pytest.raises(ValueError, match=r"group 'g' names 7, which is not a column index in \[0, 4\)"):
        mibounds.rank_features(x, y, groups={"g": [7]}, **FAST)
    with pytest.raises(ValueError, match="no features to rank"):
        mibounds.rank_features(x, y, groups={}, **FAST)
