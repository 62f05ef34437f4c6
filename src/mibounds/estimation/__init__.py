"""Estimate mutual information from data: cross-fitted critics, a held-out estimate, a lower bound.

- :func:`estimate`: one call, ``estimate(x, y) -> EstimateResult`` (estimate, interval, lower
  bound, warnings).
- :class:`MIEstimator`: the same as a scikit-learn-style estimator (``fit`` returns self).
- :class:`EstimateResult`: the result dataclass (``to_dict()`` for JSON).
- :func:`conditional_estimate`: the conditional MI I(X; Y | Z) by the chain rule on shared folds
  (:class:`ConditionalEstimateResult`).
- :class:`EstimatorSettings`: every option of the above, declared once (with its check and its
  command-line flag); :mod:`mibounds.estimation.pipeline` runs the stages of one estimate.
- :func:`independence_test`: is there any dependence? An exact permutation p-value from a critic
  trained on part of the rows (:class:`IndependenceResult`).
- :func:`rank_features`: which columns tell most about a target, each with its interval
  (categorical targets get the Barber–Agakov bound of a classifier).
- :func:`load_xy`: read x and y from CSV / NPY / NPZ / Parquet files without executing anything.

Example:
    >>> import numpy as np
    >>> from mibounds.estimation import estimate
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1))
    >>> y = x + rng.normal(size=(2000, 1))
    >>> result = estimate(x, y, max_steps=200, random_state=0, progress=False)
    >>> result.method, result.lower_bound <= result.estimate <= result.ci_high
    ('log-ratio', True)
"""

from mibounds.estimation.conditional import ConditionalEstimateResult, conditional_estimate
from mibounds.estimation.data import LoadedData, as_array, load_xy
from mibounds.estimation.estimator import MIEstimator, estimate, estimator_bounds
from mibounds.estimation.independence import IndependenceResult, independence_test
from mibounds.estimation.ranking import FeatureRanking, FeatureScore, rank_features
from mibounds.estimation.result import EstimateResult, ResultBase
from mibounds.estimation.settings import EstimatorSettings
from mibounds.estimation.uncertainty import Interval, batch_means_interval, crossfit_interval

__all__ = [
    "ConditionalEstimateResult",
    "EstimateResult",
    "EstimatorSettings",
    "FeatureRanking",
    "FeatureScore",
    "IndependenceResult",
    "Interval",
    "LoadedData",
    "MIEstimator",
    "ResultBase",
    "as_array",
    "batch_means_interval",
    "conditional_estimate",
    "crossfit_interval",
    "estimate",
    "estimator_bounds",
    "independence_test",
    "load_xy",
    "rank_features",
]
