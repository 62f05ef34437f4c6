"""Embedding and Embedded: injectivity (the input is recovered), the area factor against autograd
and against the arc length of an embedded curve, and MI invariance: the embedded task's log ratio
is the base task's at the pre-images, at 100 and 1,000 dimensions."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds import tasks
from mibounds.tasks import embedding


@pytest.mark.parametrize(("dim_in", "dim_out"), [(1, 2), (5, 100), (5, 1000)])
def test_inverse_recovers_the_input_and_the_rotation_is_orthogonal(dim_in: int, dim_out: int) -> None:
    e = tasks.Embedding(dim_in, dim_out, seed=3)
    u = 2 * torch.randn(50, dim_in, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z = e.forward(u)
    assert z.shape == (50, dim_out)
    torch.testing.assert_close(e.inverse(z), u, rtol=0, atol=1e-10)
    q = embedding._parameters(dim_in, dim_out, 3)[-1]
    torch.testing.assert_close(q.T @ q, torch.eye(dim_out, dtype=torch.float64), rtol=0, atol=1e-10)


def test_log_area_factor_matches_autograd() -> None:
    e = tasks.Embedding(3, 40, seed=1)
    u = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = []
    for row in u:
        jac = torch.autograd.functional.jacobian(lambda v: e.forward(v[None])[0], row)  # [40, 3]
        expected.append(0.5 * torch.logdet(jac.T @ jac))
    torch.testing.assert_close(e.log_abs_det_jacobian(u), torch.stack(expected), rtol=1e-10, atol=1e-10)


def test_marginal_density_integrates_to_one_along_the_embedded_curve() -> None:
    # y in R^1 embedded as a curve in R^3: the density is with respect to arc length, so the
    # integral of p'(e(u)) |e'(u)| du, |e'(u)| from finite differences of e, is 1.
    task = tasks.Embedded(tasks.Gaussian(1, 1.0), dim=3, on="y")
    u = torch.linspace(-9.0, 9.0, 40_001, dtype=torch.float64)[:, None]
    curve = task.y_map.forward(u)
    speed = torch.linalg.vector_norm(torch.gradient(curve, spacing=(u[:, 0],), dim=0)[0], dim=1)
    density = task.log_marginal_y(curve).exp()
    assert float(torch.trapezoid(density * speed, u[:, 0])) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dim", [100, 1000])
def test_log_ratio_is_the_base_log_ratio_at_the_pre_images(dim: int) -> None:
    task = tasks.make(f"embed-d{dim}(gaussian-d5-mi4)")
    assert isinstance(task, tasks.Embedded)
    base = task.base
    bx, by = base.sample(32, seed=4, dtype=torch.float64)
    x, y = task.sample(32, seed=4, dtype=torch.float64)
    assert x.shape == y.shape == (32, dim)
    assert task.x_map is not None and task.y_map is not None
    torch.testing.assert_close(x, task.x_map.forward(bx), rtol=0, atol=0)
    torch.testing.assert_close(task.x_map.inverse(x), bx, rtol=0, atol=1e-10)
    torch.testing.assert_close(task.y_map.inverse(y), by, rtol=0, atol=1e-10)
    torch.testing.assert_close(task.log_ratio(x, y), base.log_ratio(bx, by), rtol=1e-9, atol=1e-9)
    assert task.mutual_information == base.mutual_information == 4.0
    assert task.mutual_information_stderr == 0.0
    # x and y are embedded by different maps (seeds 0 and 1): same base point, different images.
    assert not torch.allclose(task.x_map.forward(by), y)


def test_embedded_samples_are_wide_and_have_a_near_singular_covariance() -> None:
    task = tasks.make("embed-d100(gaussian-d5-mi4)")
    x, _ = task.sample(2_000, seed=0, dtype=torch.float64)
    eigenvalues = torch.linalg.eigvalsh(torch.cov(x.T))
    # 100 coordinates that are functions of 5: the spectrum decays far below its top.
    assert eigenvalues[0] < 1e-3 * eigenvalues[-1]


def test_mi_of_an_embedded_mixture_is_the_mixtures_with_its_standard_error() -> None:
    base = tasks.SignMixture(dim=2, num_components=2, correlation=0.5)
    task = tasks.Embedded(base, dim=10, on="x")
    assert (task.dim_x, task.dim_y) == (10, 2) and task.name == "embed-d10-x(sign-mixture-d2-k2-c0.5)"
    assert task.mutual_information == base.mutual_information
    assert task.mutual_information_stderr == base.mutual_information_stderr > 0


def test_parameters_are_fixed_by_the_seed() -> None:
    e = tasks.Embedding(2, 7, seed=5)
    u = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    before = e.forward(u)
    embedding._parameters.cache_clear()
    torch.testing.assert_close(tasks.Embedding(2, 7, seed=5).forward(u), before, rtol=0, atol=0)
    assert not torch.allclose(tasks.Embedding(2, 7, seed=6).forward(u), before)


def test_embedding_errors() -> None:
    with pytest.raises(ValueError, match="dim_out must be an integer >= 6, got 5"):
        tasks.Embedding(5, 5)
    with pytest.raises(ValueError, match="on must be 'x', 'y' or 'both'"):
        tasks.Embedded(tasks.Gaussian(2, 1.0), dim=4, on="z")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="base must be a mibounds.tasks.Task"):
        tasks.Embedded("gaussian-d2-mi1", dim=4)  # type: ignore[arg-type]
    e = tasks.Embedding(2, 4)
    with pytest.raises(ValueError, match=r"embed-d4 inverts rows of 4 coordinates \(\[K, 4\]\), got shape \(3, 2\)"):
        e.inverse(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(NotImplementedError, match="embed-d4 map changes volume"):
        tasks.Embedded(tasks.Gaussian(2, 1.0), dim=4).entropy_x  # noqa: B018 (the property access is what raises)
    assert math.isfinite(tasks.Embedded(tasks.Gaussian(2, 1.0), dim=4, on="y").entropy_x)
