"""The dSprites experiment: factor scores, and (slow tier) the trained encoder's figure and scores."""

from __future__ import annotations

import pytest
import torch

from mibounds.experiments.dsprites import factor_scores, run_dsprites_experiment
from mibounds.representation.dsprites import factor_values, sample_factors


def test_factor_scores() -> None:
    g = torch.Generator().manual_seed(2)
    indices = sample_factors(3000, g)
    values = factor_values(indices, dtype=torch.float64)
    # Latents that mix the positions and hold the scale: the regression recovers them exactly.
    latents = torch.stack([values[:, 3] + values[:, 4], values[:, 3] - values[:, 4], values[:, 1]], dim=1)
    scores = factor_scores(latents, indices)
    for name in ("pos_x", "pos_y", "scale"):
        assert scores[name] == pytest.approx(1.0, abs=1e-9)
    # Independent noise: nothing to regress on. Held-out R^2 of pure noise with 10 features on
    # 1500 rows is about -10/1500; anything above 0.02 would mean leakage.
    noise = torch.randn(3000, 3, generator=g, dtype=torch.float64)
    assert all(v < 0.02 for v in factor_scores(noise, indices).values())
    with pytest.raises(ValueError, match="too few"):
        factor_scores(noise[:10], indices[:10])


@pytest.mark.slow
def test_dsprites_experiment_writes_figure_and_scores(tmp_path) -> None:
    result = run_dsprites_experiment(num_steps=1000, figure_path=tmp_path / "dsprites.png", seed=0)
    assert result.figure_path is not None and result.figure_path.stat().st_size > 10_000
    assert set(result.factor_scores) == {"shape", "scale", "orientation", "pos_x", "pos_y"}
    # The trained latents track the positions far better than the encoder at initialization.
    for name in ("pos_x", "pos_y"):
        assert result.factor_scores[name] > 0.8, result.factor_scores
        assert result.factor_scores[name] > result.initial_factor_scores[name] + 0.3
