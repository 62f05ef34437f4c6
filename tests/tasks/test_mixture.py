"""ClassConditionalGaussian: quadrature converged, against Monte Carlo within its standard error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibounds.tasks import ClassConditionalGaussian

TASKS = [
    ClassConditionalGaussian.spaced(num_classes=3, separation=2.0, dim=1),
    ClassConditionalGaussian.spaced(num_classes=4, separation=3.0, dim=2),
    ClassConditionalGaussian(np.random.default_rng(0).normal(size=(3, 3)), sigma=0.7, priors=[0.2, 0.3, 0.5]),
]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_quadrature_is_converged_and_agrees_with_monte_carlo(task):
    assert task.quadrature_error < 1e-6
    assert 0 < task.mutual_information < task.label_entropy
    x, y = task.sample(200_000, seed=1, dtype=torch.float64)
    log_density = -((x[:, None, :] - task.means[None]) ** 2).sum(-1) / (2 * task.sigma**2)
    values = log_density[torch.arange(len(y)), y] - torch.logsumexp(task.priors.log() + log_density, dim=1)
    stderr = float(values.std()) / math.sqrt(len(values))
    assert abs(float(values.mean()) - task.mutual_information) < 5 * stderr


def test_identical_classes_share_no_information_and_far_classes_reach_the_entropy():
    assert ClassConditionalGaussian.spaced(num_classes=2, separation=0.0).mutual_information == pytest.approx(
        0, abs=1e-12
    )
    far = ClassConditionalGaussian.spaced(num_classes=3, separation=40.0)
    assert far.mutual_information == pytest.approx(far.label_entropy, abs=1e-9)


def test_samples_follow_the_priors_and_bad_arguments_are_named():
    task = ClassConditionalGaussian([[0.0], [1.0]], priors=[0.25, 0.75])
    _, y = task.sample(40_000, seed=0)
    share = float((y == 1).double().mean())
    assert abs(share - 0.75) < 5 * math.sqrt(0.75 * 0.25 / 40_000)
    with pytest.raises(ValueError, match="at most 3 dimensions"):
        ClassConditionalGaussian(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="priors must be 2 positive probabilities summing to 1"):
        ClassConditionalGaussian([[0.0], [1.0]], priors=[0.5, 0.6])
    with pytest.raises(ValueError, match="need at least 2 classes"):
        ClassConditionalGaussian([[0.0]])
