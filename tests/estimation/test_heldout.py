"""The held-out values: rows beyond the pairwise budget give their log ratio alone, the same values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mibounds import bounds, critics
from mibounds.estimation import heldout
from mibounds.estimation.training import FoldCritic, fold_plan


def _model(members: int, gaussian: critics.GaussianCritic | None = None) -> FoldCritic:
    torch.manual_seed(0)
    residual = critics.StackedMixtureCritic(members, 2, 2, num_components=3, embed_dim=4, hidden_dim=8, num_layers=1)
    return FoldCritic(residual, gaussian, [bounds.make("js") for _ in range(members)], None).eval()


@pytest.mark.parametrize("with_gaussian", [False, True])
def test_rows_beyond_the_pairwise_budget_keep_their_log_ratio(monkeypatch, with_gaussian):
    x = torch.randn(300, 2)
    y = x + torch.randn(300, 2)
    plan = fold_plan(300, 3, np.random.default_rng(0))
    base = None
    if with_gaussian:
        base = critics.GaussianCritic.stack([critics.GaussianCritic.fit(x, y) for _ in range(3)]).float()
    model = _model(3, base)
    full = heldout.evaluate(model, x, y, plan, batch_size=10, block=20)
    monkeypatch.setattr(heldout, "PAIRWISE_ROWS", 40)
    part = heldout.evaluate(model, x, y, plan, batch_size=10, block=20)
    # Every row's log ratio, in the same order (paired scores against the diagonal of a square).
    np.testing.assert_allclose(part.log_ratio, full.log_ratio, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(part.log_ratio_fold, full.log_ratio_fold)
    assert part.train_log_ratio == pytest.approx(full.train_log_ratio, abs=1e-6)
    # InfoNCE terms and the normalizer from the first 40 rows of each fold: its first two blocks of 20.
    assert len(part.infonce) == 3 * 40 and np.bincount(part.infonce_folds).tolist() == [40, 40, 40]
    firsts = np.concatenate([np.flatnonzero(full.log_ratio_fold == m)[:40] for m in range(3)])
    np.testing.assert_allclose(part.infonce, full.infonce[firsts], atol=1e-9)
    assert part.infonce_ceiling == full.infonce_ceiling
    assert np.all(np.isfinite(part.log_normalizer))


def test_member_paired_scores_are_the_diagonal_or_none():
    x, y = torch.randn(12, 2), torch.randn(12, 2)
    base = critics.GaussianCritic.stack([critics.GaussianCritic.fit(x, x + y) for _ in range(2)]).float()
    member = _model(2, base).member(1)
    torch.testing.assert_close(member.paired(x, y), member(x, y).diagonal(), atol=1e-5, rtol=0)
    concat = FoldCritic(critics.StackedConcatCritic(2, 2, 2, 8, 1), None, [bounds.make("js")] * 2, None)
    assert concat.member(0).paired(x, y) is None
