"""examples/sequence_contrastive.py: it runs, and the trained encoder's probe beats a random one."""

from __future__ import annotations

import math

import pytest


def test_example_runs_end_to_end_in_a_few_steps(load_example) -> None:
    result = load_example("sequence_contrastive").run(steps=3, frames=10, batch=8)
    assert result.log_k == pytest.approx(math.log(8))
    assert result.readout <= result.log_k and result.single_view_readout <= result.log_k
    for p in (result.trained, result.random, result.single_view, result.raw_frames):
        assert 0.0 <= p.accuracy <= 1.0 and p.standard_error > 0


@pytest.mark.slow
def test_trained_encoder_beats_the_random_encoder(load_example) -> None:
    result = load_example("sequence_contrastive").run(steps=300, single_view=False)
    # 5 standard errors of the difference, each from the spread of the 100 held-out sequences.
    margin = 5 * math.hypot(result.trained.standard_error, result.random.standard_error)
    assert result.trained.accuracy - result.random.accuracy > margin
    assert result.trained.accuracy > result.chance_accuracy + 5 * result.trained.standard_error
