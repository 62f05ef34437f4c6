r"""Linear unmixing of each side before its normal scores: independent components (FastICA).

Per-column normal scores undo any increasing map of each column, so the estimator's Gaussian
critic is exact for a Gaussian copula. They cannot undo a map that mixes the columns *after* an
elementwise one, :math:`x = A\,h(s)` with independent sources :math:`s_j` (a rotation of
elementwise non-linear features, as in ``rotate(half-cube(...))``): the columns of x are then
sums of non-Gaussian terms, and no per-column map makes them jointly Gaussian. Independent
component analysis recovers :math:`h(s)` up to order, sign and scale from x alone when at most
one source is Gaussian (Comon 1994), and the normal scores of the components then undo h:
the Gaussian critic is exact again.

The unmixing is an invertible linear map of each side on its own, fitted without the pairing,
so the MI is unchanged whatever it converges to (any whitening followed by any rotation is
invertible); its quality decides only how much of the dependence the Gaussian critic sees.
:func:`~mibounds.estimation.pipeline.prepare` compares the two representations and keeps the
unmixed one only where the Gaussian critic certifies more of the MI with it.

:func:`fast_ica` is the symmetric FastICA fixed point of Hyvärinen (1999) with the log-cosh
contrast (the algorithm of ``sklearn.decomposition.FastICA(algorithm="parallel")``, which the
tests compare it with), written in NumPy because the default estimator depends on NumPy and
torch alone.

References:
    Hyvärinen (1999), "Fast and robust fixed-point algorithms for independent component
    analysis", IEEE Trans. Neural Networks 10(3). Comon (1994), "Independent component analysis,
    a new concept?", Signal Processing 36(3).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sources = rng.uniform(-1, 1, size=(5000, 2))
    >>> mixed = sources @ np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> unmixing = fast_ica(mixed, seed=0)
    >>> recovered = unmixing(mixed)
    >>> corr = np.corrcoef(recovered.T, sources.T)[:2, 2:]
    >>> bool(np.all(np.sort(np.abs(corr).max(axis=1)) > 0.99))  # each component is one source
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mibounds.estimation.fold_critics import GaussianValidation
from mibounds.estimation.model_check import shown_unnormalized
from mibounds.estimation.uncertainty import batch_means_interval

__all__ = ["FIT_ROWS", "Unmixed", "Unmixing", "fast_ica", "prefer_unmixed", "unmix_side"]

#: Rows the unmixing is fitted on (a random subset above it): its d^2 parameters are well
#: determined by 2^15 rows for the widths it is tried on, and a million rows cost no more.
FIT_ROWS = 1 << 15


@dataclass(frozen=True)
class Unmixing:
    """The map ``v -> (v - mean) @ matrix.T`` of one side (invertible: ``matrix`` is ``[d, d]``, full rank).

    Attributes:
        mean: ``[d]`` column means of the rows it was fitted to.
        matrix: ``[d, d]`` whitening followed by the rotation that makes the components independent.
        converged: Whether the fixed point converged within its iterations (the map is invertible
            either way).
    """

    mean: np.ndarray
    matrix: np.ndarray
    converged: bool

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The components of ``values`` ``[m, d]``, float64 ``[m, d]``."""
        return (np.asarray(values, dtype=np.float64) - self.mean) @ self.matrix.T


def fast_ica(values: np.ndarray, seed: int | Sequence[int], max_iter: int = 200, tol: float = 1e-4) -> Unmixing:
    r"""Symmetric FastICA with the log-cosh contrast, fitted on ``values`` ``[n, d]``.

    The rows are centred and whitened (:math:`z = D^{-1/2} E^T (x - \mu)` from the eigen
    decomposition of their covariance), then the rows of an orthogonal W are moved to the fixed
    point

    .. math::
        W \leftarrow \operatorname{sym}\Big(\mathbb E[\tanh(W z)\, z^T]
            - \operatorname{diag}\big(\mathbb E[1 - \tanh^2(W z)]\big) W\Big), \qquad
        \operatorname{sym}(W) = (W W^T)^{-1/2} W,

    which maximizes the non-Gaussianity (negentropy, approximated by :math:`E \log\cosh`) of each
    component :math:`w_j^T z` while keeping them uncorrelated. Stops when every row of W turns by
    less than ``tol`` (:math:`\max_j 1 - |w_j^{new} \cdot w_j| < tol`) or after ``max_iter``.

    Args:
        values: ``[n, d]`` rows of one side (finite), n > d.
        seed: Seed of the random subset of rows (above :data:`FIT_ROWS`) and of the initial
            rotation.
        max_iter: Most fixed-point iterations.
        tol: Convergence tolerance.

    Returns:
        The :class:`Unmixing`, whose components have unit variance on the fitted rows.
    """
    rng = np.random.default_rng(seed)
    values = np.asarray(values, dtype=np.float64)
    if len(values) > FIT_ROWS:
        values = values[np.sort(rng.choice(len(values), FIT_ROWS, replace=False))]
    mean = values.mean(axis=0)
    centred = values - mean
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(centred))
    # A floor on the variances keeps the whitening invertible for near-singular columns.
    eigenvalues = np.maximum(eigenvalues, 1e-12 * max(float(eigenvalues.max()), 1e-300))
    whitening = eigenvectors.T / np.sqrt(eigenvalues)[:, None]
    z = centred @ whitening.T  # [n, d], identity covariance
    rotation = _symmetric(rng.standard_normal((z.shape[1], z.shape[1])))
    converged = False
    for _ in range(max_iter):
        activation = np.tanh(z @ rotation.T)  # [n, d]
        updated = activation.T @ z / len(z) - (1 - activation**2).mean(axis=0)[:, None] * rotation
        updated = _symmetric(updated)
        change = float(np.max(1 - np.abs(np.einsum("ij,ij->i", updated, rotation))))
        rotation = updated
        if change < tol:
            converged = True
            break
    return Unmixing(mean, rotation @ whitening, converged)


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    """``(W W^T)^{-1/2} W``: the orthogonal matrix nearest W's rows' directions."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix @ matrix.T)
    eigenvalues = np.maximum(eigenvalues, 1e-300)
    return (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T @ matrix


@dataclass(frozen=True)
class Unmixed:
    """One side's map before the critics: its :class:`Unmixing` (None for a single column), then
    the per-column scaler fitted to the components (:mod:`~mibounds.estimation.scaling`)."""

    unmixing: Unmixing | None
    scaler: Any

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The scaled components of ``values`` ``[m, d]``."""
        return self.scaler(values if self.unmixing is None else self.unmixing(values))


def unmix_side(values: np.ndarray, scaler: Any, seed: int | Sequence[int]) -> tuple[Unmixed, np.ndarray]:
    """One side ``[n, d]`` unmixed (:func:`fast_ica`; a single column as it is), then scaled per
    column by ``scaler``'s class: the side's :class:`Unmixed` map and the float32 scores."""
    unmixing = fast_ica(values, seed) if values.shape[1] > 1 else None
    fitted, scaled = scaler.fit_transform(values if unmixing is None else unmixing(values), np.float32)
    return Unmixed(unmixing, fitted), scaled


def prefer_unmixed(
    plain: GaussianValidation, unmixed: GaussianValidation, confidence: float, fit_penalty: float
) -> bool:
    r"""Whether the Gaussian critic of the unmixed columns is the better model of the rows.

    Both representations are invertible maps of the same rows, so they carry the same MI; what
    differs is how much of it a Gaussian critic can see. Each member's Gaussian, fitted on its
    training folds, gives a held-out Donsker–Varadhan value on its validation fold, a lower bound
    on I for any critic: the representation whose critic certifies more of I is the better model.
    The unmixed one is chosen when

    - the lower end of the ``confidence`` interval of its members' paired gain (Student t over the
      members, :func:`~mibounds.estimation.uncertainty.batch_means_interval`; the same rows score
      both) exceeds ``fit_penalty``, the first-order bias of a Gaussian fitted on the training
      folds (:func:`~mibounds.estimation.heldout.gaussian_fit_penalty`): a smaller gain is within
      the error of the fit itself (two Gaussian critics that both see nothing, as on a mixture of
      regimes whose correlations cancel, differ by 10^-4 nats, sometimes "significantly"), so a
      tie keeps the normal scores of the columns as given; and
    - its Gaussian critic passes the estimator's normalization check (pooled
      :math:`\log \hat E_q \hat r \le \log(1 / \alpha)`, Markov's inequality at
      :math:`\alpha = 1 -` ``confidence``): a representation whose Gaussian is no density ratio
      either is no reason to leave the columns as given (whitening a low-dimensional manifold of
      a wide space blows its near-null directions up to unit variance, and the learned critic
      then sees mostly noise).

    Args:
        plain: The members' values on the normal scores of the columns as given.
        unmixed: The same on the normal scores of the unmixed columns.
        confidence: The estimator's confidence.
        fit_penalty: Nats of the Gaussian fit's first-order bias on the members' training rows.

    Example:
        >>> import numpy as np
        >>> plain = GaussianValidation(np.array([2.9, 3.1, 3.0]), np.array([0.4, 0.6, 0.5]))
        >>> better = GaussianValidation(np.array([4.0, 4.1, 3.9]), np.array([0.01, 0.0, 0.02]))
        >>> prefer_unmixed(plain, better, 0.95, 0.01), prefer_unmixed(plain, plain, 0.95, 0.01)
        (True, False)
    """
    if shown_unnormalized(unmixed.pooled_log_normalizer, confidence) or not np.isfinite(unmixed.donsker_varadhan).all():
        return False
    if not np.isfinite(plain.donsker_varadhan).all():
        return True
    gain = batch_means_interval(unmixed.donsker_varadhan - plain.donsker_varadhan, confidence)
    return gain.low > fit_penalty
