"""The self-consistency experiment: views, the three verdicts, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mibounds.cli import main
from mibounds.experiments import consistency
from mibounds.experiments.consistency import ROWS, VIEWS, _views, verdicts


def test_views_share_their_draws_where_the_tests_compare_them():
    x8, y8 = _views("rows-8", 0, 50)
    xb, yb = _views("blurred", 0, 50)
    np.testing.assert_array_equal(y8, yb)  # same images and noise; only x is blurred
    assert not np.allclose(x8, xb) and xb.std() < x8.std()
    x4, y4 = _views("rows-4", 0, 50)
    xp, yp = _views("pair", 0, 50)
    np.testing.assert_array_equal(xp[:, :64], x4)
    np.testing.assert_array_equal(yp[:, :64], y4)
    assert xp.shape == (50, 128)
    # rows below t are noise alone in y: no image there, unit-free noise of sd NOISE
    _, y2 = _views("rows-2", 1, 4000)
    assert abs(y2.reshape(-1, 8, 8)[:, 2:].std() - consistency.NOISE) < 0.01
    with pytest.raises(ValueError, match="unknown view 'rows'"):
        _views("rows", 0, 5)


def _rows(estimates: dict[str, float], stderr: float = 0.01, bound: str = "js") -> list[dict]:
    return [{"bound": bound, "seed": 0, "view": v, "estimate": estimates[v], "stderr": stderr} for v in VIEWS]


def test_verdicts_pass_a_consistent_estimator_and_fail_each_violation():
    good = {"rows-2": 0.5, "rows-4": 1.0, "rows-6": 1.4, "rows-8": 1.8, "blurred": 1.6, "pair": 2.0}
    (v,) = verdicts(_rows(good))
    assert (v.rows_pass, v.processing_pass, v.additivity_pass) == (True, True, True)
    assert (
        v.rows == [0.5, 1.0, 1.4, 1.8] and v.processing_ratio == pytest.approx(1.6 / 1.8) and v.additivity_ratio == 2.0
    )
    (bad,) = verdicts(_rows({**good, "rows-6": 0.7, "blurred": 2.2, "pair": 1.2}))
    assert (bad.rows_pass, bad.processing_pass, bad.additivity_pass) == (False, False, False)
    # within the noise margin the small reversals pass
    (noisy,) = verdicts(_rows({**good, "rows-6": 0.98, "blurred": 1.82}, stderr=0.05))
    assert noisy.rows_pass and noisy.processing_pass
    assert verdicts(_rows(good)[:-1]) == []  # an estimator with a view missing is not judged


def test_command_runs_every_view_and_writes_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(consistency, "SAMPLES", 400)  # the pair has 128 + 128 columns
    db, out = tmp_path / "c.sqlite", tmp_path / "report"
    argv = [
        "bench",
        "consistency",
        "--bounds",
        "js",
        "--db",
        str(db),
        "--out",
        str(out),
        "--no-figures",
        "--no-progress",
    ]
    assert main(argv) == 0
    text = (out / "consistency.md").read_text()
    assert "| estimator | seed | t=2 | t=4 | t=6 | t=8 |" in text and "| js | 0 |" in text
    assert len(ROWS) == 4
    capsys.readouterr()
    assert main([*argv, "--report-only", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert verdict["estimator"] == "js" and set(verdict) >= {"rows_pass", "processing_pass", "additivity_pass"}
    assert main(["bench", "consistency", "--bounds", "jss", "--db", str(db)]) == 2
    assert "unknown bound 'jss'" in capsys.readouterr().err
