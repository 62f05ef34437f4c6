"""Invertible maps and transformed tasks: inverses, Jacobians against autograd, exact agreement
with the base task, and normalization of the transformed marginal."""

from __future__ import annotations

import math

import pytest
import torch
from task_zoo import mean_and_se, pairwise_log_ratio

from mibounds import tasks

MAPS = [tasks.NormalCDF(), tasks.HalfCube(), tasks.Asinh(), tasks.Cube(), tasks.Spiral(0.7)]


@pytest.fixture(params=MAPS, ids=[m.name for m in MAPS])
def bijection(request: pytest.FixtureRequest) -> tasks.Map:
    return request.param


def test_inverse_undoes_forward(bijection: tasks.Map) -> None:
    x = torch.randn(50, 3, dtype=torch.float64)
    torch.testing.assert_close(bijection.inverse(bijection.forward(x)), x, rtol=1e-10, atol=1e-10)
    image = bijection.forward(x)
    torch.testing.assert_close(bijection.forward(bijection.inverse(image)), image, rtol=1e-12, atol=1e-12)


def test_log_abs_det_jacobian_matches_autograd(bijection: tasks.Map) -> None:
    x = torch.randn(6, 3, dtype=torch.float64)
    jacobians = [torch.autograd.functional.jacobian(lambda v: bijection.forward(v[None])[0], row) for row in x]
    expected = torch.stack([torch.linalg.slogdet(j).logabsdet for j in jacobians])
    torch.testing.assert_close(bijection.log_abs_det_jacobian(x), expected, rtol=1e-10, atol=1e-10)


def test_maps_follow_the_input_dtype(bijection: tasks.Map) -> None:
    x = torch.randn(4, 3)
    for out in (bijection.forward(x), bijection.inverse(bijection.forward(x)), bijection.log_abs_det_jacobian(x)):
        assert out.dtype == torch.float32


# Every map on a Gaussian base, and every map but Phi on a heavy-tailed Student-t base (Phi
# rounds to 1 in its tails, as NormalCDF documents).
_PAIRS = [(m, tasks.Gaussian(3, 1.0)) for m in MAPS] + [
    (m, tasks.StudentT(3, 3, dof=3.0, correlation=0.5)) for m in MAPS if not isinstance(m, tasks.NormalCDF)
]


@pytest.mark.parametrize(("bijection", "base"), _PAIRS, ids=[f"{m.name}-{b.name}" for m, b in _PAIRS])
def test_transformed_log_ratio_on_mapped_samples_equals_base_log_ratio(bijection: tasks.Map, base: tasks.Task) -> None:
    task = tasks.Transformed(base, bijection, bijection)
    bx, by = base.sample(40, seed=9, dtype=torch.float64)
    x, y = task.sample(40, seed=9, dtype=torch.float64)
    torch.testing.assert_close(x, bijection.forward(bx), rtol=0, atol=0)
    torch.testing.assert_close(y, bijection.forward(by), rtol=0, atol=0)
    torch.testing.assert_close(task.log_ratio(x, y), base.log_ratio(bx, by), rtol=1e-9, atol=1e-9)
    log_det = bijection.log_abs_det_jacobian(by)
    expected = base.log_conditional(bx, by) - log_det[None, :]
    torch.testing.assert_close(task.log_conditional(x, y), expected, rtol=1e-9, atol=1e-9)
    assert task.mutual_information == base.mutual_information


def _trapezoid_mass(task: tasks.Task, lo: float, hi: float, n: int) -> float:
    grid = torch.linspace(lo, hi, n, dtype=torch.float64)
    return float(torch.trapezoid(task.log_marginal_y(grid[:, None]).exp(), grid))


def test_transformed_marginals_integrate_to_one() -> None:
    # Phi of a standard normal is uniform on (0, 1): its density is exactly 1.
    uniform = tasks.Transformed(tasks.Gaussian(1, 1.0), None, "normal-cdf")
    u = torch.linspace(1e-6, 1 - 1e-6, 101, dtype=torch.float64)[:, None]
    torch.testing.assert_close(uniform.log_marginal_y(u), torch.zeros(101, dtype=torch.float64), rtol=0, atol=1e-9)
    # asinh of N(0, 1) is smooth with Gaussian-fast tails; the trapezoid rule on [-12, 12] with
    # step 2.4e-3 has error far below 1e-6, and the mass beyond the ends is ~1e-35.
    asinh = tasks.Transformed(tasks.Gaussian(1, 1.0), None, "asinh")
    assert _trapezoid_mass(asinh, -12.0, 12.0, 10_001) == pytest.approx(1.0, abs=1e-6)
    # x^3 has an integrable singularity of the density at 0: substitute y = s^3, dy = 3 s^2 ds.
    cube = tasks.Transformed(tasks.Gaussian(1, 1.0), None, "cube")
    s = torch.linspace(-8.0, 8.0, 20_001, dtype=torch.float64)
    density = (cube.log_marginal_y((s**3)[:, None]) + torch.log(3 * s.square())).exp()
    assert float(torch.trapezoid(density, s)) == pytest.approx(1.0, abs=1e-6)


def test_spiral_keeps_a_rotation_invariant_marginal() -> None:
    # N(0, I) is invariant under rotations, and the spiral preserves volume: same density.
    base = tasks.Gaussian(3, 1.0)
    task = tasks.Transformed(base, None, tasks.Spiral(2.0))
    _, y = task.sample(20, seed=0, dtype=torch.float64)
    torch.testing.assert_close(task.log_marginal_y(y), base.log_marginal_y(y), rtol=1e-12, atol=1e-12)


def test_cubic_without_mixing_is_the_gaussian_with_cubed_y() -> None:
    cubic = tasks.Cubic(dim=4, mi=1.5, mixing_seed=None)
    gaussian = tasks.Gaussian(dim=4, mi=1.5)
    reference = tasks.Transformed(gaussian, None, tasks.Cube())
    assert cubic.name == "cubic-d4-mi1.5" and reference.name == "cube-y(gaussian-d4-mi1.5)"
    gx, gy = gaussian.sample(16, seed=2, dtype=torch.float64)
    x, y = cubic.sample(16, seed=2, dtype=torch.float64)
    torch.testing.assert_close(x, gx, rtol=0, atol=0)
    torch.testing.assert_close(y, gy**3, rtol=0, atol=0)
    torch.testing.assert_close(cubic.log_ratio(x, y), gaussian.log_ratio(gx, gy), rtol=1e-10, atol=1e-10)
    assert cubic.mutual_information == 1.5 and cubic.entropy_x == gaussian.entropy_x
    other = cubic.with_mi(3.0)
    assert isinstance(other, tasks.Cubic) and other.name == "cubic-d4-mi3" and cubic.mi == 1.5


def _normal_log_density(z: torch.Tensor, mean: torch.Tensor, var: float) -> torch.Tensor:
    """``[K, K]``: log N(z_j; mean_i, var I), summed over coordinates."""
    quad = ((z[None, :, :] - mean[:, None, :]) ** 2).sum(-1)
    return -0.5 * quad / var - 0.5 * z.shape[1] * math.log(2 * math.pi * var)


def test_cubic_mixes_y_with_a_seeded_full_rank_matrix_before_the_cube() -> None:
    # Poole et al.'s (x, (W y)^3). Everything below is written from the definition, not with tasks'
    # maps: y' = (W y)^3, so y = W^-1 cbrt(y') and p(y' | x) = N(y; rho x, (1 - rho^2) I) |det W|^-1
    # prod_k 1 / (3 (W y)_k^2).
    cubic = tasks.Cubic(dim=4, mi=1.5)
    gaussian = tasks.Gaussian(dim=4, mi=1.5)
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) / 2.0
    assert cubic.name == "cubic-d4-mi1.5-w0" and torch.equal(cubic.mixing, w)
    assert int(torch.linalg.matrix_rank(w)) == 4
    gx, gy = gaussian.sample(16, seed=2, dtype=torch.float64)
    x, y = cubic.sample(16, seed=2, dtype=torch.float64)
    torch.testing.assert_close(x, gx, rtol=0, atol=0)
    torch.testing.assert_close(y, (gy @ w.T) ** 3, rtol=1e-15, atol=0)
    base_y = (y.sign() * y.abs().pow(1 / 3)) @ torch.linalg.inv(w).T
    torch.testing.assert_close(base_y, gy, rtol=1e-10, atol=1e-10)
    var = 1 - gaussian.rho**2
    log_conditional = _normal_log_density(base_y, gaussian.rho * x, var)
    log_marginal = _normal_log_density(base_y, torch.zeros(1, 4, dtype=torch.float64), 1.0)[0]
    jacobian = torch.linalg.slogdet(w)[1] + torch.log(3 * (base_y @ w.T) ** 2).sum(1)
    torch.testing.assert_close(cubic.log_ratio(x, y), log_conditional - log_marginal, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(cubic.log_conditional(x, y), log_conditional - jacobian, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(cubic.log_marginal_y(y), log_marginal - jacobian, rtol=1e-10, atol=1e-10)
    assert cubic.mutual_information == 1.5 and cubic.entropy_x == gaussian.entropy_x
    # The MI is unchanged by the invertible map: a Monte-Carlo mean of log r within 5 standard errors.
    x, y = cubic.sample(4096, seed=3, dtype=torch.float64)
    log_r = torch.cat([cubic.log_ratio(x[i : i + 512], y[i : i + 512]).diagonal() for i in range(0, 4096, 512)])
    assert abs(float(log_r.mean()) - 1.5) < 5 * float(log_r.std()) / 64
    # Another seed, another W; the id names the seed and rebuilds the task; the level keeps W.
    other = tasks.Cubic(dim=4, mi=1.5, mixing_seed=3)
    assert other.name == "cubic-d4-mi1.5-w3" and not torch.equal(other.mixing, cubic.mixing)
    assert torch.equal(tasks.make("cubic-d4-mi1.5-w3").mixing, other.mixing)
    assert other.with_mi(3.0).name == "cubic-d4-mi3-w3"
    with pytest.raises(ValueError, match=r"mixing_seed must be an int >= 0 \(the seed of W\) or None"):
        tasks.Cubic(dim=4, mi=1.5, mixing_seed=-1)


def test_linear_map_refuses_a_singular_matrix() -> None:
    with pytest.raises(ValueError, match=r"matrix is singular or nearly so .* pass a full-rank matrix"):
        tasks.Linear(torch.ones(3, 3))
    linear = tasks.Linear(2 * torch.eye(3))
    with pytest.raises(ValueError, match=r"acts on 3 coordinates, got 2"):
        linear.forward(torch.zeros(1, 2))


def test_transformed_names() -> None:
    base = tasks.Gaussian(5, 1.0)
    assert tasks.Transformed(base, "asinh", "asinh").name == "asinh(gaussian-d5-mi1)"
    assert tasks.Transformed(base, "asinh", None).name == "asinh-x(gaussian-d5-mi1)"
    assert tasks.Transformed(base, None, tasks.Spiral(0.5)).name == "spiral-v0.5-y(gaussian-d5-mi1)"
    assert tasks.Transformed(base, "half-cube", "normal-cdf").name == "half-cube-x-normal-cdf-y(gaussian-d5-mi1)"


def test_entropy_x_known_only_for_volume_preserving_x_maps() -> None:
    base = tasks.Gaussian(3, 1.0)
    assert tasks.Transformed(base, None, "asinh").entropy_x == base.entropy_x
    assert tasks.Transformed(base, "spiral", None).entropy_x == base.entropy_x
    with pytest.raises(NotImplementedError, match="asinh map changes volume"):
        tasks.Transformed(base, "asinh", None).entropy_x  # noqa: B018 (the property access is what raises)


def test_transform_errors() -> None:
    with pytest.raises(ValueError, match="spiral-v1 map needs at least 2 dimensions but dim_x = 1"):
        tasks.Transformed(tasks.Gaussian(1, 1.0), "spiral", None)
    with pytest.raises(ValueError, match="pass an x_map, a y_map or both"):
        tasks.Transformed(tasks.Gaussian(2, 1.0))
    with pytest.raises(ValueError, match="unknown map 'asnh'. Did you mean 'asinh'?"):
        tasks.Transformed(tasks.Gaussian(2, 1.0), "asnh")
    with pytest.raises(TypeError, match="base must be a mibounds.tasks.Task"):
        tasks.Transformed("gaussian", "asinh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed must be a finite number"):
        tasks.Spiral(math.nan)
    assert tasks.make_map("spiral", speed=0.25).name == "spiral-v0.25"
    assert tasks.make_map("spiral-v-2").speed == -2.0
    assert tasks.map_names() == ["normal-cdf", "half-cube", "asinh", "cube", "spiral", "rotate"]


def test_rotation_mixes_the_coordinates_of_each_side_among_themselves_only() -> None:
    # rotate(...) maps x by C and y by C separately: x' depends on x alone, y' on y alone, so
    # MI is unchanged and the critic is the base's at the pre-images.
    base = tasks.make("half-cube(gaussian-d10-mi4)")
    task = tasks.make("rotate(half-cube(gaussian-d10-mi4))")
    assert isinstance(task, tasks.Transformed) and isinstance(task.x_map, tasks.Rotation)
    c = tasks.Rotation.matrix(10)
    torch.testing.assert_close(c @ c.T, torch.eye(10, dtype=torch.float64), rtol=0, atol=1e-12)
    bx, by = base.sample(64, seed=3, dtype=torch.float64)
    x, y = task.sample(64, seed=3, dtype=torch.float64)
    torch.testing.assert_close(x, bx @ c.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(y, by @ c.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(task.log_ratio(x, y), base.log_ratio(bx, by), rtol=1e-9, atol=1e-9)
    assert task.mutual_information == base.mutual_information == 4.0
    # Every rotated coordinate mixes at least eight of the ten inputs of its side.
    assert int((c.abs() > 1e-9).sum(1).min()) >= 8


@pytest.mark.parametrize("level", [4, 8])
def test_rotated_elementwise_maps_keep_the_mi_of_their_base(level: int) -> None:
    task = tasks.make(f"rotate(half-cube(gaussian-d10-mi{level}))")
    x, y = task.sample(20_000, seed=level, dtype=torch.float64)
    mean, se = mean_and_se(pairwise_log_ratio(task, x, y, block=256))
    assert abs(mean - level) < 4 * se, (mean, se)
