"""Train / validation / test splits and the standardization fitted on the training split.

The critic is trained on the training split, early stopping watches the validation split, and the
reported estimate comes from the test split only, so the test data take no part in any choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mibounds.validation import check_probability

__all__ = ["MIN_TEST_BATCHES", "QuantileNormalizer", "Split", "Standardizer", "split_indices", "split_sizes"]

#: Fewer disjoint test batches than this give a standard error that is itself too noisy to trust;
#: the estimator warns below it (and refuses fewer than 2, where no standard error exists).
MIN_TEST_BATCHES = 10


@dataclass(frozen=True)
class Split:
    """Row indices of the three disjoint splits (each shuffled)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def split_sizes(n: int, validation_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Rows in the (train, validation, test) splits of ``n`` rows: fractions rounded, train the rest.

    Raises:
        ValueError: If a fraction is outside (0, 1) or they leave no training rows.
    """
    validation_fraction = check_probability(validation_fraction, "validation_fraction", allow_zero=False, allow_one=False)
    test_fraction = check_probability(test_fraction, "test_fraction", allow_zero=False, allow_one=False)
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"validation_fraction + test_fraction = {validation_fraction + test_fraction:g} leaves no "
            "training rows; make their sum < 1 (e.g. 0.2 and 0.2)"
        )
    n_val = int(round(n * validation_fraction))
    n_test = int(round(n * test_fraction))
    return n - n_val - n_test, n_val, n_test


def check_sizes(n: int, sizes: tuple[int, int, int], batch_size: int) -> None:
    """Raise when a split cannot hold what the estimator needs at batch size K.

    Training and validation need one batch of K rows; the test split needs 2 batches (a standard
    error needs at least two independent batch values).
    """
    n_train, n_val, n_test = sizes
    if n_train < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the training split ({n_train} of {n} rows); "
            f"pass batch_size <= {max(n_train, 1)} or more rows"
        )
    need = {"validation": (n_val, 1), "test": (n_test, 2)}
    for name, (have, batches) in need.items():
        if have < batches * batch_size:
            raise ValueError(
                f"too few rows for the split and batch size: {n} rows give a {name} split of {have}, "
                f"fewer than {batches} batch{'es' if batches > 1 else ''} of {batch_size}; pass more "
                f"rows, a smaller batch_size or a larger {name}_fraction"
            )


def split_indices(n: int, sizes: tuple[int, int, int], rng: np.random.Generator) -> Split:
    """Shuffle ``range(n)`` and cut it into train / validation / test of the given sizes."""
    n_train, n_val, _ = sizes
    order = rng.permutation(n)
    return Split(order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])


@dataclass(frozen=True)
class Standardizer:
    """Per-column ``(v - mean) / std`` with statistics of the training split.

    Constant columns (std 0) are only centred (divided by 1), so they stay finite; the estimator
    warns about them since they carry no information.

    Attributes:
        mean: ``[d]`` column means.
        std: ``[d]`` column standard deviations (1 where a column is constant).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Standardizer":
        """Statistics of ``values`` ``[n, d]``."""
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    @classmethod
    def identity(cls, dim: int) -> "Standardizer":
        """A standardizer that leaves values unchanged."""
        return cls(np.zeros(dim), np.ones(dim))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """``(values - mean) / std``."""
        return (values - self.mean) / self.std


@dataclass(frozen=True)
class QuantileNormalizer:
    r"""Per-column map through the training split's empirical CDF onto standard-normal quantiles.

    :math:`v \mapsto \Phi^{-1}(\hat F_j(v))`, with :math:`\hat F_j` the training column's
    empirical CDF interpolated linearly between the sorted values (plotting positions
    :math:`(i + 1/2)/n`) and constant beyond them. Each column's map is increasing, so it leaves
    the MI of the training range unchanged (MI is invariant under invertible maps of x and of y)
    while making heavy-tailed or skewed columns Gaussian-shaped, which critics learn from far
    more easily. Outside the training range, or on ties, the map is not invertible; an estimate is
    then a bound on the MI of the mapped data, which by the data-processing inequality is still
    a lower bound on the MI of the original data.

    Attributes:
        sorted_values: ``[n, d]`` training values sorted per column.
    """

    sorted_values: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "QuantileNormalizer":
        """The sorted columns of ``values`` ``[n, d]``."""
        return cls(np.sort(values, axis=0))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Map ``values`` ``[m, d]`` column by column to standard-normal scores."""
        import torch  # ndtri: the normal quantile, vectorized

        n = len(self.sorted_values)
        positions = (np.arange(n) + 0.5) / n
        probabilities = np.column_stack(
            [np.interp(values[:, j], self.sorted_values[:, j], positions) for j in range(values.shape[1])]
        )
        return torch.special.ndtri(torch.from_numpy(probabilities)).numpy()
