"""The result dataclass: JSON export and readable text."""

from __future__ import annotations

import json
import math

from mibounds.estimation import EstimateResult


def _result(**changes) -> EstimateResult:
    fields = dict(
        estimate=1.9, ci_low=1.8, ci_high=2.0, stderr=0.05, confidence=0.95, bound="smile",
        critic="separable", num_critics=1, n_train=600, n_validation=200, n_test=200, batch_size=50,
        num_test_batches=4, steps=300, best_step=200, stopped="early_stopping", seconds=1.5,
        device="cpu", random_state=3, ceiling=None,
        history={"step": [100, 200], "train": [1.0, math.nan], "validation": [0.9, 1.1]},
        warnings=["something"],
    )
    return EstimateResult(**{**fields, **changes})


def test_to_dict_is_strict_json():
    data = _result().to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN became None
    assert json.loads(text)["history"]["train"] == [1.0, None]
    assert data["estimate"] == 1.9 and data["warnings"] == ["something"] and data["ceiling"] is None


def test_text_forms():
    result = _result(ceiling=math.log(50))
    assert repr(result).startswith("EstimateResult(estimate=1.9000, ci=[1.8000, 2.0000], stderr=0.0500")
    text = str(result)
    assert "I(X;Y) = 1.900 nats, 95% CI [1.800, 2.000] (stderr 0.050, generalization gap 0.000)" in text
    assert "ceiling 3.912" in text and "K = 50" in text
    assert text.splitlines()[-1] == "warning: something"
