"""Gaussianizing flows (mibounds.estimation.flows): the start at the identity, and the estimate on a
Gaussian sample against its closed-form MI."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

pytest.importorskip("zuko")

from mibounds import tasks  # noqa: E402
from mibounds.estimation.flows import FlowSettings, GaussianizedPair, estimate_with_flows, identity_flow  # noqa: E402

SMALL = FlowSettings(hidden_features=(16, 16), max_steps=40, eval_every=20)


@pytest.mark.parametrize("architecture", ["nsf", "spline-linear"])
@pytest.mark.parametrize("features", [1, 3])
def test_flow_starts_at_the_identity(features: int, architecture: str) -> None:
    x = 2 * torch.randn(50, features)
    u, ladj = identity_flow(features, dataclasses.replace(SMALL, architecture=architecture))().call_and_ladj(x)
    torch.testing.assert_close(u, x)
    torch.testing.assert_close(ladj, torch.zeros(50))


def test_model_starts_as_the_fitted_gaussian() -> None:
    x, y = torch.randn(400, 2), torch.randn(400, 3)
    model = GaussianizedPair(2, 3, SMALL)
    z = torch.cat([x, y], dim=1)
    model.set_gaussian(z)
    reference = torch.distributions.MultivariateNormal(z.mean(0), torch.cov(z.T, correction=0))
    torch.testing.assert_close(model.log_likelihood(x, y), reference.log_prob(z), rtol=1e-4, atol=1e-4)


def test_gaussian_estimate_matches_the_closed_form_mi() -> None:
    task = tasks.make("gaussian", dim=2, mi=1.0)
    x, y = task.sample(3000, seed=0)
    fitted = estimate_with_flows(x.numpy(), y.numpy(), SMALL, seed=0)
    # The plug-in mean of n held-out log ratios: its sampling error is their spread / sqrt(n).
    stderr = fitted.log_ratio.std() / math.sqrt(len(fitted.log_ratio))
    assert abs(fitted.estimate - task.mutual_information) < 4 * stderr
    assert abs(fitted.estimate - fitted.baseline_estimate) < 2 * stderr  # the flows add nothing here
    assert abs(fitted.log_normalizer) < 0.1
    assert np.isfinite(fitted.heldout_log_likelihood)
