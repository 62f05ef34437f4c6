"""Early stopping: when a critic has learned, and how long a run waits after its best check (exact algebra)."""

from __future__ import annotations

import math

import torch

from mibounds.estimation.early_stopping import Patience, beats


def test_a_check_beats_the_initial_one_by_its_paired_standard_error():
    generator = torch.Generator().manual_seed(0)
    initial = torch.randn(15, 5, generator=generator)  # the batches differ a lot: shared by both checks
    noise = 0.1 * torch.randn(15, 5, generator=generator)
    assert beats(initial + 0.1 + noise, initial)  # 0.1 above, paired s.e. about 0.012
    assert not beats(initial + 0.01 + noise, initial)  # within one paired s.e.
    assert not beats(initial, initial) and beats(initial + 1e-3, initial)  # no spread
    # The threshold is z standard errors of the mean gain.
    gain = 0.02 + noise
    z = float(gain.mean() / (gain.std() / math.sqrt(gain.numel())))
    assert beats(initial + gain, initial, z=z - 0.01) and not beats(initial + gain, initial, z=z + 0.01)


def test_patience_shrinks_only_once_learned_and_never_past_its_bounds():
    rule = Patience(most=20, least=5, every=100)
    assert [rule.after(step, learned=False) for step in (0, 400, 5000)] == [20, 20, 20]
    # As long again as the best took, in checks: at least 5 and at most 20.
    assert [rule.after(step, learned=True) for step in (100, 500, 901, 2000, 5000)] == [5, 5, 10, 20, 20]
    fixed = Patience(most=7, least=None, every=100)
    assert fixed.after(3000, learned=True) == 7  # a set patience is kept as given
