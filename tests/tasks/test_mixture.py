"""ClassConditionalGaussian: quadrature converged, against Monte Carlo within its standard error.
FloatLabels: its Monte-Carlo MI against that quadrature and against a fresh Monte-Carlo mean of its
log ratio, float labels in x, caching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from task_zoo import mean_and_se, pairwise_log_ratio

from mibounds import tasks
from mibounds.tasks import ClassConditionalGaussian, FloatLabels, mixture

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


@pytest.mark.parametrize("task", [FloatLabels(10, 2, 0.3), FloatLabels(3, 1, 1.0), FloatLabels(4, 2, 0.5)], ids=str)
def test_float_labels_mi_matches_the_quadrature_of_the_same_classes(task: FloatLabels) -> None:
    # The same joint with the roles of x and y swapped: MI is symmetric.
    quadrature = ClassConditionalGaussian(task.means, task.sigma)
    assert quadrature.quadrature_error < 1e-6
    assert task.mutual_information_stderr < 1e-3
    tolerance = 4 * task.mutual_information_stderr + quadrature.quadrature_error
    assert abs(task.mutual_information - quadrature.mutual_information) < tolerance
    assert mixture._label_posterior_entropy(task.num_classes, task.dim, task.sigma).draws >= 200_000


@pytest.mark.parametrize("n", [20_000, pytest.param(400_000, marks=pytest.mark.slow)], ids=lambda n: f"n{n}")
def test_float_labels_mi_matches_a_fresh_monte_carlo_mean_of_log_ratio(n: int) -> None:
    task = tasks.make("float-labels-c10-d2-s0.3")
    x, y = task.sample(n, seed=5, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y, block=256))
    assert abs(mean - task.mutual_information) < 4 * math.hypot(se, task.mutual_information_stderr)


def test_float_labels_store_every_class_as_a_float_column() -> None:
    task = FloatLabels(10, 2, 0.3)
    x, y = task.sample(2_000, seed=0)
    assert x.shape == (2_000, 1) and y.shape == (2_000, 2) and x.dtype == torch.float32
    assert sorted(set(x[:, 0].tolist())) == [float(c) for c in range(10)]
    assert task.label_entropy == pytest.approx(math.log(10))
    assert 1.6 < task.mutual_information < task.label_entropy
    # Classes far apart relative to sigma: the label is recovered from y, I -> H(C).
    assert FloatLabels(10, 2, 0.002).mutual_information == pytest.approx(math.log(10), abs=1e-9)
    with pytest.raises(ValueError, match=r"x must hold class labels 0.0, 1.0, ..., 9.0 .*from 0.5 to 0.5"):
        task.log_ratio(torch.full((1, 1), 0.5), y[:1])
    with pytest.raises(ValueError, match=r"from 0.0 to 10.0"):
        task.log_conditional(torch.tensor([[0.0], [10.0]]), y[:2])
    with pytest.raises(NotImplementedError, match="differential entropy"):
        task.entropy_x  # noqa: B018 (the property access is what raises)


def test_float_labels_ground_truth_is_cached_and_deterministic() -> None:
    first = FloatLabels(3, 1, 2.0).mutual_information
    hits = mixture._label_posterior_entropy.cache_info().hits
    assert FloatLabels(3, 1, 2.0).mutual_information == first
    assert mixture._label_posterior_entropy.cache_info().hits > hits
    mixture._label_posterior_entropy.cache_clear()
    assert FloatLabels(3, 1, 2.0).mutual_information == first
