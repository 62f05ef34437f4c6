"""Checks every task must pass: MI against Monte Carlo, normalization, density identities,
sampling contract and input checks. Monte-Carlo tolerances are 5 standard errors, each SE
computed from the per-sample values themselves (sample std / sqrt(n))."""

from __future__ import annotations

import math

import pytest
import torch
from task_zoo import mean_and_se, pairwise_log_ratio, zoo, zoo_ids

from mibounds import tasks

N_MC = 20_000
TASKS = zoo()


@pytest.fixture(params=TASKS, ids=zoo_ids())
def task(request: pytest.FixtureRequest) -> tasks.Task:
    return request.param


def test_mutual_information_matches_monte_carlo_mean_of_log_ratio(task: tasks.Task) -> None:
    # I(X; Y) = E_p(x,y) log r(x, y): the diagonal of log_ratio on a joint batch.
    x, y = task.sample(N_MC, seed=11, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y))
    assert isinstance(task.mutual_information, float)
    assert abs(mean - task.mutual_information) < 5 * se, (mean, se, task.mutual_information)


def test_density_ratio_averages_to_one_under_product_of_marginals(task: tasks.Task) -> None:
    # E_p(x)p(y) r(x, y) = 1; x and y from two independent joint batches are product pairs.
    x, _ = task.sample(N_MC, seed=12, dtype=torch.float64)
    _, y = task.sample(N_MC, seed=13, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y).exp())
    assert abs(mean - 1.0) < 5 * se, (mean, se)


def test_conditional_minus_marginal_is_log_ratio(task: tasks.Task) -> None:
    x, y = task.sample(32, seed=14, dtype=torch.float64)
    via_densities = task.log_conditional(x, y) - task.log_marginal_y(y)[None, :]
    torch.testing.assert_close(via_densities, task.log_ratio(x, y), rtol=1e-12, atol=1e-10)


def test_matrix_entries_are_the_single_pair_values(task: tasks.Task) -> None:
    # [i, j] pairs x_i with y_j; also for batches of different sizes (Kx = 4, Ky = 3).
    x, y = task.sample(4, seed=15, dtype=torch.float64)
    y = y[:3]
    for method in (task.log_ratio, task.log_conditional):
        matrix = method(x, y)
        assert matrix.shape == (4, 3)
        singles = torch.stack([torch.cat([method(x[i : i + 1], y[j : j + 1]) for j in range(3)], 1) for i in range(4)])
        torch.testing.assert_close(matrix, singles.squeeze(1), rtol=1e-12, atol=1e-12)
    marginal = task.log_marginal_y(y)
    assert marginal.shape == (3,)
    torch.testing.assert_close(marginal, torch.cat([task.log_marginal_y(y[j : j + 1]) for j in range(3)]))


def test_samples_have_the_contract_shapes_dtypes_and_determinism(task: tasks.Task) -> None:
    x, y = task.sample(7, seed=3)
    assert x.shape == (7, task.dim_x) and y.shape == (7, task.dim_y)
    assert x.dtype == y.dtype == torch.float32 and x.device.type == "cpu"
    x64, y64 = task.sample(7, seed=3, dtype=torch.float64)
    assert x64.dtype == y64.dtype == torch.float64
    torch.testing.assert_close(x, x64.float(), rtol=0, atol=0)
    torch.testing.assert_close(y, y64.float(), rtol=0, atol=0)
    again = task.sample(7, seed=3, dtype=torch.float64)
    assert torch.equal(again[0], x64) and torch.equal(again[1], y64)
    other = task.sample(7, seed=4, dtype=torch.float64)
    assert not torch.equal(other[0], x64)
    generator = torch.Generator().manual_seed(3)
    from_generator = task.sample(7, generator=generator, dtype=torch.float64)
    assert torch.equal(from_generator[0], x64)
    advanced = task.sample(7, generator=generator, dtype=torch.float64)
    assert not torch.equal(advanced[0], x64)
    assert torch.isfinite(x64).all() and torch.isfinite(y64).all()


def test_float32_inputs_give_float32_close_to_float64(task: tasks.Task) -> None:
    # Same input values, two compute precisions. float32 keeps ~7 significant digits and the
    # quadratic forms (values up to ~100) lose about two of them: 1e-3 absolute is the scale.
    x, y = task.sample(16, seed=5)
    low = task.log_ratio(x, y)
    assert low.dtype == torch.float32
    high = task.log_ratio(x.double(), y.double())
    torch.testing.assert_close(low.double(), high, rtol=1e-4, atol=1e-3)


def test_bad_inputs_raise_clear_errors(task: tasks.Task) -> None:
    x, y = task.sample(4, seed=0)
    wrong = rf"x has shape \(4, {task.dim_x + 1}\) but this task takes x as \[K, {task.dim_x}\]"
    with pytest.raises(ValueError, match=wrong):
        task.log_ratio(torch.zeros(4, task.dim_x + 1), y)
    with pytest.raises(ValueError, match=r"y has shape \(4,\).*unsqueeze"):
        task.log_marginal_y(y[:, 0])
    with pytest.raises(TypeError, match="floating point"):
        task.log_conditional(x.long(), y)
    with pytest.raises(ValueError, match="same dtype"):
        task.log_ratio(x, y.double())
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        task.sample(0)
    with pytest.raises(ValueError, match="either seed or generator"):
        task.sample(3, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="floating torch.dtype"):
        task.sample(3, dtype=torch.int64)


class _SamplerOnly(tasks.Task):
    """A task that knows its MI but none of its densities."""

    name, dim_x, dim_y = "independent-uniform", 1, 1

    @property
    def mutual_information(self) -> float:
        return 0.0

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, 2, generator=generator, dtype=torch.float64).unbind(1)[0][:, None], torch.zeros(n, 1)


def test_unknown_quantities_raise_not_implemented_with_the_task_name() -> None:
    task = _SamplerOnly()
    x, y = task.sample(3, seed=0)
    for call in (lambda: task.log_ratio(x, y), lambda: task.log_conditional(x, y), lambda: task.log_marginal_y(y)):
        with pytest.raises(NotImplementedError, match="independent-uniform"):
            call()
    with pytest.raises(NotImplementedError, match="entropy"):
        task.entropy_x  # noqa: B018 (the property access is what raises)


def test_every_task_has_a_finite_nonnegative_mi_and_a_unique_name() -> None:
    names = [task.name for task in TASKS]
    assert len(set(names)) == len(names)
    assert all(0 <= task.mutual_information < math.inf for task in TASKS)
