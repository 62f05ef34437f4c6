"""Tier 1: exact algebra of the bounds on hand-built score matrices (no networks)."""

from __future__ import annotations

import itertools
import math

import bounds_reference as ref
import pytest
import torch
from bounds_reference import call
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mibounds import bounds

SCORE_BOUNDS = bounds.names(score_based=True)


def random_scores(k: int, seed: int = 0, scale: float = 2.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(k, k, generator=generator, dtype=torch.float64)


def score_matrices(min_k: int = 2, max_k: int = 8, bound: float = 1e4):
    """Hypothesis strategy: float64 [K, K] matrices with entries in [-bound, bound]."""
    return (
        st.integers(min_k, max_k)
        .flatmap(
            lambda k: arrays(
                "float64", (k, k), elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False)
            )
        )
        .map(torch.from_numpy)
    )


# --- against the loop-based reference -------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 7])
def test_functions_match_loop_reference(k: int) -> None:
    s = random_scores(k, seed=k)
    la = torch.linspace(-1.0, 1.5, k, dtype=torch.float64)
    close = lambda a, b: math.isclose(float(a), b, rel_tol=1e-12, abs_tol=1e-12)  # noqa: E731
    assert close(bounds.tuba(s, la), ref.tuba(s, la))
    assert close(bounds.nwj(s), ref.tuba(s, torch.tensor(1.0, dtype=torch.float64)))
    assert close(bounds.dv(s), ref.dv(s))
    assert close(bounds.infonce(s), ref.infonce(s))
    assert close(bounds.infonce(s, symmetric=True), 0.5 * (ref.infonce(s) + ref.infonce(s.T)))
    assert close(bounds.js_fgan(s), ref.js_fgan(s))
    assert close(bounds.js(s), ref.tuba(s + 1, torch.tensor(1.0, dtype=torch.float64)))
    assert close(bounds.smile(s, clip=None), ref.dv(s))
    assert close(bounds.tnce(s), ref.infonce(s))
    assert close(bounds.leave_one_out_upper(s), ref.leave_one_out_upper(s))
    assert close(bounds.club(s), ref.club(s))
    for alpha in (0.0, 0.01, 0.5, 0.99, 1.0):
        assert close(bounds.interpolated(s, la, alpha), ref.interpolated(s, la, alpha)), alpha


def test_smile_clips_only_the_partition_term() -> None:
    s = random_scores(6, seed=1, scale=4.0)
    expected = s.diagonal().mean() - ref._lme([float(s[i, j].clamp(-1, 1)) for i, j in ref._offdiag(s)])
    assert math.isclose(float(bounds.smile(s, clip=1.0)), float(expected), rel_tol=1e-12)


def test_structured_bounds_on_vectors() -> None:
    lc = random_scores(5, seed=2)
    lm = torch.randn(5, dtype=torch.float64)
    expected = float((lc.diagonal() - lm).mean())
    assert math.isclose(float(bounds.rate(lc, lm)), expected, rel_tol=1e-12)
    assert math.isclose(float(bounds.rate(lc.diagonal(), lm)), expected, rel_tol=1e-12)
    assert math.isclose(float(bounds.ba(lc.diagonal(), 1.25)), float(lc.diagonal().mean()) + 1.25, rel_tol=1e-12)
    assert math.isclose(float(bounds.uba(lc, lm)), expected, rel_tol=1e-12)
    assert math.isclose(float(bounds.uba(lc.diagonal(), lm)), expected, rel_tol=1e-12)
    assert math.isclose(float(bounds.uba(lc, 0.5)), float(lc.diagonal().mean()) - 0.5, rel_tol=1e-12)


def _column_log_partition(s: torch.Tensor) -> torch.Tensor:
    """log of the mean of exp(S_ij) over the negatives i != j of each column j, by a loop."""
    k = s.shape[0]
    return torch.stack([torch.logsumexp(s[[i for i in range(k) if i != j], j], 0) - math.log(k - 1) for j in range(k)])


@settings(max_examples=50, deadline=None)
@given(score_matrices(bound=30.0), st.integers(0, 2**16))
def test_uba_equals_tuba_at_the_matching_baseline_and_bounds_it(s: torch.Tensor, seed: int) -> None:
    # With a(y_j) = the batch partition Z_j of column j, TUBA's partition term is exactly 1 and its
    # "1 +" cancels: TUBA = mean_i S_ii - mean_j log Z_j = UBA, the same log-partition given.
    log_z = _column_log_partition(s)
    uba = float(bounds.uba(s, log_z))
    assert math.isclose(float(bounds.tuba(s, log_z)), uba, rel_tol=1e-12, abs_tol=1e-9)
    # Any other baseline is looser (log Z <= Z / a + log a - 1), and DV's one log of the mean over
    # all columns is looser too (Jensen: mean_j log Z_j <= log mean_j Z_j).
    other = log_z + 3.0 * torch.randn(s.shape[0], generator=torch.Generator().manual_seed(seed), dtype=s.dtype)
    assert float(bounds.tuba(s, other)) <= uba + 1e-9
    assert float(bounds.dv(s)) <= uba + 1e-9


# --- exact values and orderings -------------------------------------------------------------------


@given(k=st.integers(2, 32), c=st.floats(-50, 50))
def test_constant_scores_give_zero(k: int, c: float) -> None:
    s = torch.full((k, k), c, dtype=torch.float64)
    assert abs(float(bounds.dv(s))) < 1e-12
    assert abs(float(bounds.infonce(s))) < 1e-12
    assert abs(float(bounds.infonce(s, symmetric=True))) < 1e-12
    assert abs(float(bounds.smile(s, clip=None))) < 1e-12
    assert abs(float(bounds.mine(s, 0.0))) < 1e-12  # value is DV whatever the moving average


@given(score_matrices(bound=1e3), st.booleans())
def test_infonce_never_exceeds_log_k(s: torch.Tensor, symmetric: bool) -> None:
    assert float(bounds.infonce(s, symmetric=symmetric)) <= math.log(s.shape[0]) + 1e-9


@given(score_matrices(bound=30.0))
def test_nwj_below_dv(s: torch.Tensor) -> None:
    # log u <= u / e for u > 0, applied to u = mean_off exp(S).
    assert float(bounds.nwj(s)) <= float(bounds.dv(s)) + 1e-9


@given(score_matrices(min_k=3, bound=30.0), st.floats(1e-3, 1.0))
def test_interpolated_under_its_ceiling(s: torch.Tensor, alpha: float) -> None:
    ceiling = bounds.get("interpolated").ceiling_for(s.shape[0], alpha=alpha)
    value = float(bounds.interpolated(s, torch.zeros(s.shape[0], dtype=s.dtype), alpha))
    assert value <= ceiling + 1e-9


@pytest.mark.parametrize("k", [3, 16, 64])
@pytest.mark.parametrize("alpha", [0.01, 0.5, 0.99, 1.0])
def test_interpolated_approaches_its_ceiling_above_the_published_one(k: int, alpha: float) -> None:
    # Positives far above the negatives, a(y) = 1 between them: each joint term tends to
    # log((K-1)/alpha) (the mixture is ~ alpha e^M / (K-1)) and the partition term to 0 (to 1 at
    # alpha = 1), so the value tends to the registry's ceiling, 1 - log(K/(K-1)) above Poole et
    # al.'s log(K/alpha) (equal to log(K-1) < log K at alpha = 1).
    m = 40.0
    s = torch.full((k, k), -m, dtype=torch.float64)
    s.fill_diagonal_(m)
    ceiling = bounds.get("interpolated").ceiling_for(k, alpha=alpha)
    value = float(bounds.interpolated(s, 0.0, alpha))
    assert abs(value - ceiling) <= 1e-9  # the supremum, approached to within e^-40 * K / alpha
    if alpha < 1:
        assert ceiling == pytest.approx(1 + math.log((k - 1) / alpha), rel=1e-15)
        assert value - math.log(k / alpha) >= 1 - math.log(k / (k - 1)) - 1e-9
    else:
        assert ceiling == pytest.approx(math.log(k - 1), rel=1e-15)


@given(score_matrices(bound=30.0), st.booleans())
def test_infonce_is_log_k_minus_the_k_pair_loss(s: torch.Tensor, symmetric: bool) -> None:
    # Sohn (2016)'s multi-class K-pair loss, rows as anchors; InfoNCE's anchors are the y's (columns).
    log_k = math.log(s.shape[0])
    if symmetric:
        expected = log_k - 0.5 * (ref.k_pair_loss(s) + ref.k_pair_loss(s.T))
    else:
        expected = log_k - ref.k_pair_loss(s.T)
    assert math.isclose(float(bounds.infonce(s, symmetric=symmetric)), expected, rel_tol=1e-12, abs_tol=1e-12)


def test_sohn_orientation_is_infonce_of_the_transpose() -> None:
    # With his separable inner-product critic phi(x)^T phi(y), x's as anchors.
    generator = torch.Generator().manual_seed(7)
    phi_x, phi_y = torch.randn(2, 6, 4, generator=generator, dtype=torch.float64)
    sohn = sum(
        math.log1p(sum(math.exp(float(phi_x[i] @ phi_y[j] - phi_x[i] @ phi_y[i])) for j in range(6) if j != i))
        for i in range(6)
    )
    scores = phi_x @ phi_y.T
    assert math.isclose(float(bounds.infonce(scores.T)), math.log(6) - sohn / 6, rel_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(score_matrices(bound=1e4), st.sampled_from(SCORE_BOUNDS))
def test_finite_values_and_gradients_at_extreme_scores(s: torch.Tensor, name: str) -> None:
    scores = s.float().requires_grad_(True)  # float32, the training dtype
    value = call(name, scores)
    (grad,) = torch.autograd.grad(value, scores)
    assert torch.isfinite(value), (name, value)
    assert torch.isfinite(grad).all(), name


def test_extreme_negatives_give_a_finite_hugely_negative_nwj() -> None:
    s = torch.full((4, 4), 1e4)
    s.fill_diagonal_(0.0)
    value = float(bounds.nwj(s))
    assert math.isfinite(value) and value < -1e20


# --- limits of the interpolated bound --------------------------------------------------------------


def test_interpolated_alpha_one_is_leave_one_out_infonce() -> None:
    s = random_scores(9, seed=3)
    keep = lambda k: [i for i in range(9) if i != k]  # noqa: E731
    sub_batches = [float(bounds.infonce(s[keep(k)][:, keep(k)])) for k in range(9)]
    assert math.isclose(float(bounds.interpolated(s, 0.0, 1.0)), sum(sub_batches) / 9, rel_tol=1e-12)


def test_interpolated_tends_to_the_limits() -> None:
    s = random_scores(16, seed=4)
    la = torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert math.isclose(float(bounds.interpolated(s, la, 0.0)), float(bounds.tuba(s, la)), rel_tol=1e-13)
    # Continuity at both ends, to first order: a 100-fold step towards a limit shrinks the gap
    # about 100-fold (at least 50-fold here).
    steps = (1e-3, 1e-5, 1e-7)
    gaps_to_tuba = [abs(float(bounds.interpolated(s, la, a) - bounds.tuba(s, la))) for a in steps]
    gaps_to_nce = [abs(float(bounds.interpolated(s, la, 1 - a) - bounds.interpolated(s, la, 1.0))) for a in steps]
    for gaps in (gaps_to_tuba, gaps_to_nce):
        assert all(later < earlier / 50 for earlier, later in itertools.pairwise(gaps)), gaps
    # And the leave-one-out InfoNCE differs from full-batch InfoNCE by O(1/K) only.
    assert abs(float(bounds.interpolated(s, la, 1.0) - bounds.infonce(s))) < 0.5


# --- symmetries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCORE_BOUNDS + ["tnce", "leave_one_out_upper", "club"])
def test_invariant_when_pairs_are_permuted_together(name: str) -> None:
    s = random_scores(8, seed=5)
    la = torch.randn(8, dtype=torch.float64)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    if bounds.get(name).score_based:
        before, after = call(name, s, la), call(name, s[perm][:, perm], la[perm])
    else:
        fn = bounds.get(name).fn
        before, after = fn(s), fn(s[perm][:, perm])
    assert math.isclose(float(before), float(after), rel_tol=1e-12, abs_tol=1e-12)


def test_dv_and_infonce_ignore_a_constant_shift() -> None:
    s = random_scores(6, seed=6)
    assert math.isclose(float(bounds.dv(s + 3.0)), float(bounds.dv(s)), rel_tol=1e-12)
    assert math.isclose(float(bounds.infonce(s + 3.0)), float(bounds.infonce(s)), rel_tol=1e-12)
    # InfoNCE also ignores any function of y alone (a per-column shift): this is why tnce works.
    assert math.isclose(
        float(bounds.infonce(s + torch.arange(6.0, dtype=s.dtype))), float(bounds.infonce(s)), rel_tol=1e-12
    )


# --- value versus training gradient -----------------------------------------------------------------


def _grad(fn, s: torch.Tensor) -> torch.Tensor:
    s = s.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(s), s)
    return g


def test_js_has_the_js_gradient_and_the_nwj_value() -> None:
    s = random_scores(7, seed=7)
    assert math.isclose(float(bounds.js(s)), float(bounds.nwj(s + 1.0)), rel_tol=1e-12)
    torch.testing.assert_close(_grad(bounds.js, s), _grad(bounds.js_fgan, s), rtol=1e-12, atol=1e-14)
    assert not torch.allclose(_grad(bounds.js, s), _grad(lambda t: bounds.nwj(t + 1.0), s))


def test_smile_has_the_js_gradient() -> None:
    s = random_scores(7, seed=8)
    torch.testing.assert_close(
        _grad(lambda t: bounds.smile(t, 5.0), s), _grad(bounds.js_fgan, s), rtol=1e-12, atol=1e-14
    )


def test_mine_gradient_uses_the_moving_average() -> None:
    k, log_m = 6, 0.7
    s = random_scores(k, seed=9)
    grad = _grad(lambda t: bounds.mine(t, log_m), s)
    expected = -torch.exp(s - log_m) / (k * (k - 1))
    expected.fill_diagonal_(1.0 / k)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-14)
    assert math.isclose(float(bounds.mine(s, log_m)), float(bounds.dv(s)), rel_tol=1e-12)


@pytest.mark.parametrize("name", ["tuba", "nwj", "dv", "infonce", "interpolated"])
def test_plain_bounds_are_trained_by_their_own_value(name: str) -> None:
    s = random_scores(5, seed=10)
    la = torch.randn(5, dtype=torch.float64)
    fn = lambda t: call(name, t, la)  # noqa: E731
    # A central finite difference of the value agrees with the autograd gradient.
    g = _grad(fn, s)
    eps = 1e-6
    for i, j in [(0, 0), (1, 3), (4, 2)]:
        bump = torch.zeros_like(s)
        bump[i, j] = eps
        numeric = (float(fn(s + bump)) - float(fn(s - bump))) / (2 * eps)
        assert math.isclose(float(g[i, j]), numeric, rel_tol=1e-5, abs_tol=1e-8)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (torch.zeros(3, 4), r"square \[K, K\].*got shape \(3, 4\)"),
        (torch.zeros(1, 1), r"at least K = 2"),
        (torch.zeros(3, 3, dtype=torch.long), r"floating point.*\.float\(\)"),
        (torch.zeros(2, 3, 3), r"square \[K, K\]"),
    ],
)
def test_bad_scores_are_named(scores: torch.Tensor, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        bounds.dv(scores)


def test_bad_parameters_are_named() -> None:
    s = torch.zeros(4, 4)
    with pytest.raises(ValueError, match=r"vector \[K\] = \[4\].*got shape \(3,\)"):
        bounds.tuba(s, torch.zeros(3))
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        bounds.interpolated(s, 0.0, 1.5)
    with pytest.raises(ValueError, match=r"clip must be a finite number > 0, got -1"):
        bounds.smile(s, clip=-1.0)
    with pytest.raises(ValueError, match=r"log_marginal must be a vector \[K\] = \[4\]"):
        bounds.rate(s, torch.zeros(5))
    with pytest.raises(ValueError, match=r"log_partition must be a scalar or a vector \[K\] = \[4\].*got shape \(5,\)"):
        bounds.uba(s, torch.zeros(5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_js_objective_of_a_stack_is_each_matrix_s_value_to_the_last_digit(dtype):
    """The cross-fitted estimator trains its members on one call over their stacked scores: the
    values are those of one call a matrix, bit for bit, and so are the gradients but for a rare
    last-place rounding on the diagonal (autograd's mean over a dimension against a full mean)."""
    generator = torch.Generator().manual_seed(0)
    for members, k in ((1, 2), (3, 16), (5, 128)):
        scores = (3 * torch.randn(members, k, k, generator=generator, dtype=dtype)).requires_grad_()
        stacked = bounds.js_fgan(scores)
        (stacked_grad,) = torch.autograd.grad(stacked.sum() / members, scores)
        one_by_one = torch.stack([bounds.js_fgan(scores[m]) for m in range(members)])
        (one_grad,) = torch.autograd.grad(one_by_one.sum() / members, scores)
        assert stacked.shape == (members,)
        assert torch.equal(stacked, one_by_one)
        torch.testing.assert_close(stacked_grad, one_grad, rtol=2 * torch.finfo(dtype).eps, atol=0.0)


def test_a_stack_of_score_matrices_must_be_square_too():
    with pytest.raises(ValueError, match=r"square \[\.\.\., K, K\] stack"):
        bounds.js_fgan(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"square \[K, K\] matrix"):
        bounds.infonce(torch.zeros(2, 3, 3))  # the other bounds take one matrix
