"""InfoMax ICA: its objective and natural gradient in closed form, the Amari index, the estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibounds.representation.ica import InfoMaxICA, amari_index, infomax_objective, log_derivative, natural_gradient


def _whitened(n: int = 500, d: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("nonlinearity", ["logistic", "tanh"])
def test_log_derivative_is_the_log_of_the_slope(nonlinearity: str) -> None:
    # The slope by autograd loses digits in the tails (1 - sigma(u) rounds): compared on |u| <= 10.
    u = torch.linspace(-10, 10, 81, dtype=torch.float64)
    g = torch.sigmoid if nonlinearity == "logistic" else torch.tanh
    slope = torch.func.vmap(torch.func.grad(g))(u)
    torch.testing.assert_close(log_derivative(u, nonlinearity), slope.log(), rtol=1e-7, atol=1e-9)
    assert torch.isfinite(log_derivative(torch.tensor([-1e4, 1e4], dtype=torch.float64), nonlinearity)).all()


def test_objective_is_the_output_entropy_gain() -> None:
    # H(g(W x~)) - h(x~) = log|det W| + E sum_i log g'(u_i), written out for a 2 x 2 W.
    x = _whitened(d=2)
    w = torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=torch.float64)
    u = x @ w.T
    expected = math.log(abs(1.0 * 2.0 + 0.5 * 0.3)) + float(
        (torch.log(torch.sigmoid(u) * torch.sigmoid(-u))).sum(1).mean()
    )
    assert math.isclose(float(infomax_objective(w, x)), expected, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("nonlinearity", "phi"),
    [("logistic", lambda u: 1 - 2 * torch.sigmoid(u)), ("tanh", lambda u: -2 * torch.tanh(u))],
)
def test_natural_gradient_is_amaris_rule(nonlinearity: str, phi) -> None:
    x = _whitened()
    w = torch.eye(3, dtype=torch.float64) + 0.3 * _whitened(3, 3, seed=1)
    u = x @ w.T
    expected = (torch.eye(3, dtype=torch.float64) + phi(u).T @ u / len(x)) @ w
    torch.testing.assert_close(natural_gradient(w, x, nonlinearity), expected, rtol=1e-10, atol=1e-12)


def test_extended_rule_is_lee_girolamis_and_sejnowskis() -> None:
    x = _whitened()
    w = torch.eye(3, dtype=torch.float64) + 0.3 * _whitened(3, 3, seed=2)
    signs = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    u = x @ w.T
    identity = torch.eye(3, dtype=torch.float64)
    expected = (identity - (signs * torch.tanh(u)).T @ u / len(x) - u.T @ u / len(x)) @ w
    torch.testing.assert_close(natural_gradient(w, x, signs=signs), expected, rtol=1e-10, atol=1e-12)


def test_amari_index_ignores_order_and_scale_and_sees_mixing() -> None:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(4, 4))
    permutation_scaling = np.eye(4)[[2, 0, 3, 1]] * np.array([1.0, -3.0, 0.5, 2.0])
    assert amari_index(permutation_scaling @ np.linalg.inv(mixing), mixing) < 1e-12
    assert amari_index(np.ones((4, 4)), np.eye(4)) == pytest.approx(1.0)
    assert 0.0 < amari_index(rng.normal(size=(4, 4)), mixing) < 1.0
    with pytest.raises(ValueError, match="square matrix of size >= 2"):
        amari_index(np.ones((1, 1)), np.ones((1, 1)))


def test_fit_separates_laplace_sources_and_the_objective_rises() -> None:
    rng = np.random.default_rng(1)
    sources = rng.laplace(size=(3000, 3))
    mixing = rng.normal(size=(3, 3))
    ica = InfoMaxICA(max_epochs=40).fit(sources @ mixing.T)
    assert amari_index(ica.unmixing_, mixing) < 0.05
    assert ica.objective_[-1] > ica.objective_[0] + 0.3  # nats per sample gained
    recovered = ica.transform(sources @ mixing.T).numpy()
    correlations = np.abs(np.corrcoef(recovered.T, sources.T)[:3, 3:])
    assert (correlations.max(axis=1) > 0.98).all()
    assert ica.get_params()["nonlinearity"] == "logistic" and ica.n_epochs_ <= 40


def test_bad_input_and_settings_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="more rows than columns"):
        InfoMaxICA().fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        InfoMaxICA().fit(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="covariance is singular"):
        InfoMaxICA().fit(np.repeat(np.random.default_rng(0).normal(size=(50, 1)), 2, axis=1))
    with pytest.raises(ValueError, match="unknown nonlinearity 'relu'"):
        InfoMaxICA("relu").fit(np.random.default_rng(0).normal(size=(50, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
        InfoMaxICA(decay=0.0).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(RuntimeError, match="not fitted yet"):
        InfoMaxICA().transform(np.zeros((3, 2)))
