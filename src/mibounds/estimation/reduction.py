r"""Reduction of a wide side that lies on a low-dimensional manifold to the components that keep it.

Learned embeddings and many measured signals have hundreds of columns driven by a few latent
coordinates: the rows lie on a k-dimensional manifold of a D-dimensional space, k << D. A Gaussian
critic of all D columns has D^2 covariances to fit from the rows and most of its directions are
noise (the estimator keeps only the canonical pairs that held-out rows support), and the learned
critic's first layer has D inputs to learn from the same rows.

A linear projection of each side is a map of that side alone, so by the data processing inequality
it can only lose information, and it loses none where it is one-to-one on the rows' support. By
Whitney's theorem a generic linear projection of a k-dimensional manifold into 2k + 1 or more
dimensions is one-to-one (an embedding), so the rows are projected onto their 2k + 1 leading
principal components (the directions of most variance, the least sensitive to noise) and keep
their MI. The dimension k is estimated from the rows themselves by the TwoNN estimator (Facco et
al. 2017): for a locally uniform density on a k-manifold, the ratio of each row's distances to its
second and first nearest neighbours follows a Pareto law with exponent k, whose maximum-likelihood
estimate is :math:`\hat k = N / \sum_i \log(r_2 / r_1)`.

TwoNN underestimates k where k is large (17.5 for 20 independent Gaussian columns from 4,096 rows,
52 for 100, 129 for 500: nearest neighbours are far apart there), and an underestimate would
project away information. The reduction is therefore kept to where the estimate is reliable,
:math:`\hat k \le` :data:`MAX_INTRINSIC_DIMENSION`, and where it removes most of the columns:
the rows' 2k + 1 components are at most a quarter of them (:data:`MAX_KEPT_FRACTION`).
:func:`~mibounds.estimation.pipeline.prepare` applies it only where the Gaussian critic cannot fit
every canonical pair of the columns as given.

References:
    Facco, d'Errico, Rodriguez, Laio (2017), "Estimating the intrinsic dimension of datasets by a
    minimal neighborhood information", Scientific Reports 7, 12140. Whitney (1936), "Differentiable
    manifolds", Annals of Mathematics 37(3).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(4000, 2))
    >>> wide = np.tanh(latent @ rng.normal(size=(2, 200)) + rng.normal(size=200))  # a 2-d manifold
    >>> round(intrinsic_dimension(wide, seed=0))
    2
    >>> reduced_width(intrinsic_dimension(wide, seed=0), wide.shape[1])
    5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "MAX_INTRINSIC_DIMENSION",
    "MAX_KEPT_FRACTION",
    "NEIGHBOUR_ROWS",
    "Projection",
    "Reduced",
    "intrinsic_dimension",
    "manifold_projection",
    "principal_projection",
    "reduce_side",
    "reduced_width",
]

#: Rows whose nearest neighbours estimate the intrinsic dimension (a random subset above it): the
#: estimate's relative standard error is about 1 / sqrt(rows), 1.6 % here, and the pairwise
#: distances cost rows^2 x columns.
NEIGHBOUR_ROWS = 4096

#: Largest estimated intrinsic dimension that is reduced to: TwoNN is within a few per cent of k up
#: to about 10 from 4,096 rows and falls increasingly short above (see the module docstring).
MAX_INTRINSIC_DIMENSION = 10.0

#: Largest share of a side's columns that a reduction keeps: a reduction that keeps more removes
#: little of the fitting problem, and is more likely to rest on an underestimated k.
MAX_KEPT_FRACTION = 0.25

# Nearest candidates by the product form of the distances, whose exact distances then decide.
_CANDIDATES = 8

# Rows the principal components are fitted on (a random subset above it).
_FIT_ROWS = 1 << 15


def intrinsic_dimension(values: np.ndarray, seed: int | Sequence[int], rows: int = NEIGHBOUR_ROWS) -> float:
    r"""TwoNN estimate of the dimension of the manifold the rows ``[n, d]`` lie on.

    :math:`\hat k = N / \sum_i \log(r_{2,i} / r_{1,i})` over the rows whose first and second
    nearest neighbours (Euclidean, among a random subset of ``rows`` rows) are at distinct
    distances; a row that occurs several times counts once (a distance 0 says nothing of k).

    Args:
        values: ``[n, d]`` finite rows.
        seed: Seed of the random subset.
        rows: Most rows used.

    Returns:
        The estimate, or ``inf`` where fewer than ten rows have usable neighbours (no reduction).
    """
    rng = np.random.default_rng(seed)
    values = np.asarray(values, dtype=np.float64)
    if len(values) > rows:
        values = values[np.sort(rng.choice(len(values), rows, replace=False))]
    points = torch.as_tensor(np.unique(values, axis=0))
    if len(points) <= _CANDIDATES:
        return math.inf
    distances = torch.cdist(points, points)  # through a product: cancels for close rows
    distances.fill_diagonal_(math.inf)
    candidates = distances.topk(_CANDIDATES, dim=1, largest=False).indices
    del distances
    nearest = torch.cat(
        [  # the candidates' distances by differences, [chunk, candidates], then the two least, ascending
            (points[start : start + 512, None, :] - points[candidates[start : start + 512]])
            .norm(dim=2)
            .topk(2, dim=1, largest=False)
            .values
            for start in range(0, len(points), 512)
        ]
    )
    first, second = nearest[:, 0], nearest[:, 1]
    usable = (second > first) & torch.isfinite(second)
    if int(usable.sum()) < 10:
        return math.inf
    return float(usable.sum()) / float(torch.log(second[usable] / first[usable]).sum())


def reduced_width(dimension: float, columns: int) -> int | None:
    """The number of principal components a side of ``columns`` columns is reduced to, Whitney's
    ``2k + 1`` for the estimated intrinsic dimension rounded to the nearest whole k (at least 1;
    a manifold's dimension is a whole number), or None where it is not reduced (k above
    :data:`MAX_INTRINSIC_DIMENSION`, or more than :data:`MAX_KEPT_FRACTION` of the columns kept)."""
    if not math.isfinite(dimension) or dimension > MAX_INTRINSIC_DIMENSION:
        return None
    width = 2 * max(1, math.floor(dimension + 0.5)) + 1
    return width if width <= MAX_KEPT_FRACTION * columns else None


@dataclass(frozen=True)
class Projection:
    """The map ``v -> (v - mean) @ components`` onto a side's leading principal components.

    Attributes:
        mean: ``[d]`` column means of the rows it was fitted to.
        components: ``[d, m]`` orthonormal directions of most variance, in decreasing order.
    """

    mean: np.ndarray
    components: np.ndarray

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The projections of ``values`` ``[r, d]``, float64 ``[r, m]``."""
        return (np.asarray(values, dtype=np.float64) - self.mean) @ self.components


def principal_projection(values: np.ndarray, width: int, seed: int | Sequence[int]) -> Projection:
    """The :class:`Projection` onto the ``width`` leading principal components of ``values`` ``[n, d]``
    (their covariance's eigenvectors of largest eigenvalue; a random subset of rows above 2^15)."""
    rng = np.random.default_rng(seed)
    values = np.asarray(values)
    if len(values) > _FIT_ROWS:
        values = values[np.sort(rng.choice(len(values), _FIT_ROWS, replace=False))]
    values = values.astype(np.float64)
    mean = values.mean(axis=0)
    _, _, right = np.linalg.svd(values - mean, full_matrices=False)
    return Projection(mean, np.ascontiguousarray(right[:width].T))


def manifold_projection(scores: np.ndarray, seed: int | Sequence[int]) -> Projection | None:
    """The :class:`Projection` of one side's ``scores`` ``[n, d]`` onto the :func:`reduced_width`
    leading principal components for their :func:`intrinsic_dimension`, or None where the side is
    kept whole."""
    width = reduced_width(intrinsic_dimension(scores, seed), scores.shape[1])
    return None if width is None else principal_projection(scores, width, seed)


@dataclass(frozen=True)
class Reduced:
    """One side's map before the critics: its per-column ``scaler`` (normal scores of the columns as
    given), the :class:`Projection` onto their leading components, then ``then`` (the per-column
    map of the components: a scaler, or an :class:`~mibounds.estimation.unmixing.Unmixed`)."""

    scaler: Any
    projection: Projection
    then: Any

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The scaled components of ``values`` ``[r, d]``, ``[r, m]``."""
        return self.then(self.projection(self.scaler(values)))


def reduce_side(
    values: np.ndarray, scores: np.ndarray, scaler: Any, fitted: Any, seed: int | Sequence[int]
) -> tuple[np.ndarray, np.ndarray, Any, tuple[Any, Projection] | None]:
    """One side's normal ``scores`` (of its ``values``, by the ``fitted`` per-column scaler)
    projected onto the principal components that keep the manifold its rows lie on, or the side as
    it was: the values the unmixing sees, the critics' float32 scores of them and their scaler
    (``scaler``'s class refitted to the components), and the first two maps of :class:`Reduced`
    (None where the side is kept whole)."""
    projection = manifold_projection(scores, seed)
    if projection is None:
        return values, scores, fitted, None
    components = projection(scores)
    refitted, scaled = scaler.fit_transform(components, np.float32)
    return components, scaled, refitted, (fitted, projection)
