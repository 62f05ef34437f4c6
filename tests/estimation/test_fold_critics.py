"""The fold critics' Gaussian fits: from pooled fold moments, equal to a fit on the rows themselves."""

from __future__ import annotations

import numpy as np
import torch

from mibounds import critics
from mibounds.estimation import fold_critics
from mibounds.estimation.training import fold_plan


def test_pooled_fold_moments_fit_the_same_gaussian_as_the_rows(monkeypatch):
    monkeypatch.setattr(fold_critics, "_MOMENT_CHUNK", 7)  # several chunks a fold
    torch.manual_seed(0)
    x = torch.randn(103, 3, dtype=torch.float64) * 3 + 5
    y = x[:, :2] + torch.randn(103, 2, dtype=torch.float64)
    plan = fold_plan(103, 5, np.random.default_rng(0))
    moments = fold_critics.fold_moments(x, y, plan)
    for m in range(5):
        rows = torch.as_tensor(np.concatenate([plan.training(m), plan.validation(m)]))
        mean, cov = fold_critics.pooled_moments([part for f, part in enumerate(moments) if f != m])
        z = torch.cat([x[rows], y[rows]], 1)
        torch.testing.assert_close(mean, z.mean(0), rtol=0, atol=1e-12)
        torch.testing.assert_close(cov, torch.cov(z.T, correction=0), rtol=1e-12, atol=1e-12)
        pooled = critics.GaussianCritic.from_moments(mean, cov, 3)
        direct = critics.GaussianCritic.fit(x[rows], y[rows])
        torch.testing.assert_close(pooled(x[:9], y[:9]), direct(x[:9], y[:9]), rtol=1e-10, atol=1e-10)
