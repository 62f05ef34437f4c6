"""The result dataclass: JSON export and readable text."""

from __future__ import annotations

import json
import math

from mibounds.estimation import EstimateResult


def _result(**changes) -> EstimateResult:
    fields = dict(
        estimate=1.9,
        ci_low=1.8,
        ci_high=2.0,
        stderr=0.05,
        confidence=0.95,
        lower_bound=1.7,
        lower_bound_value=1.75,
        lower_bound_ceiling=math.log(200),
        method="log-ratio",
        bound="js",
        critic="gaussian+separable",
        gaussian_mi=1.85,
        num_folds=5,
        n=1000,
        batch_size=50,
        steps=300,
        best_step=200,
        stopped="early_stopping",
        seconds=1.5,
        device="cpu",
        random_state=3,
        ceiling=None,
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
    result = _result()
    assert repr(result).startswith(
        "EstimateResult(estimate=1.9000, ci=[1.8000, 2.0000], lower_bound=1.7000, stderr=0.0500"
    )
    text = str(result)
    assert (
        "I(X;Y) = 1.900 nats, 95% CI [1.800, 2.000] (stderr 0.050; held-out mean log density ratio; Gaussian part 1.850)"
        in text
    )
    assert "at least 1.700 nats with 95% confidence (held-out InfoNCE 1.750, at most log B = 5.298)" in text
    assert "5-fold cross-fitted on 1000 rows, K = 50" in text
    bound = str(_result(method="bound", bound="infonce", ceiling=math.log(50), gaussian_mi=None))
    assert "held-out infonce value at K = 50, ceiling 3.912)" in bound
    assert text.splitlines()[-1] == "warning: something"
