r"""Blind source separation by InfoMax (Bell & Sejnowski 1995) beside scikit-learn's FastICA.

For each seed: d independent sources (Laplace: super-Gaussian, the case Bell and Sejnowski's
logistic network is built for; uniform: sub-Gaussian; or half and half), N samples, mixed by a
random d x d matrix A with standard normal entries. On the same mixtures the experiment fits

- :class:`~mibounds.representation.ica.InfoMaxICA` (logistic nonlinearity, natural gradient),
- the same with ``extended=True`` (Lee et al. 1999, sub- and super-Gaussian sources),
- scikit-learn's ``FastICA`` (``logcosh`` contrast, unit-variance whitening, the same seed),
- whitening alone (PCA to unit covariance, no rotation): the line a method has to beat,

and scores each by the Amari index of its unmixing matrix times A (0: perfect separation up to
order and scale). Needs scikit-learn (the ``examples`` extra).

Example:
    >>> from mibounds.experiments.ica import ICAConfig, mixtures
    >>> x, sources, mixing = mixtures(ICAConfig(num_samples=100), seed=0)
    >>> x.shape, mixing.shape
    ((100, 4), (4, 4))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mibounds.experiments.figures import Table
from mibounds.representation.digits import require_sklearn
from mibounds.representation.ica import InfoMaxICA, amari_index
from mibounds.validation import check_int

__all__ = ["METHODS", "ICAComparison", "ICAConfig", "mixtures", "run_ica_comparison"]

Sources = Literal["laplace", "uniform", "mixed"]
#: The methods compared, in table order.
METHODS = ("infomax", "extended infomax", "fastica", "whitening only")


@dataclass(frozen=True)
class ICAConfig:
    """One comparison.

    Attributes:
        sources: ``"laplace"``, ``"uniform"`` or ``"mixed"`` (Laplace and uniform alternating).
        num_sources: d, sources and mixtures (>= 2).
        num_samples: N, rows.
        seeds: One set of sources and one mixing matrix per seed.
        nonlinearity: InfoMax's g, ``"logistic"`` or ``"tanh"``.
        max_epochs: InfoMax's epochs (:class:`~mibounds.representation.ica.InfoMaxICA`).
    """

    sources: Sources = "laplace"
    num_sources: int = 4
    num_samples: int = 5000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    nonlinearity: Literal["logistic", "tanh"] = "logistic"
    max_epochs: int = 100

    def __post_init__(self) -> None:
        if self.sources not in ("laplace", "uniform", "mixed"):
            raise ValueError(f"sources must be 'laplace', 'uniform' or 'mixed', got {self.sources!r}")
        check_int(self.num_sources, "num_sources", minimum=2)
        check_int(self.num_samples, "num_samples", minimum=self.num_sources + 1)
        check_int(self.max_epochs, "max_epochs", minimum=1)
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one")


def mixtures(config: ICAConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, sources, mixing)``: ``x = sources @ mixing.T``, ``[N, d]``, ``[N, d]``, ``[d, d]``.

    Sources have unit variance (Laplace of scale 1/sqrt 2, uniform on +-sqrt 3); the mixing has
    i.i.d. standard normal entries. Drawn by ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    n, d = config.num_samples, config.num_sources
    laplace = rng.laplace(scale=1 / math.sqrt(2), size=(n, d))
    uniform = rng.uniform(-math.sqrt(3), math.sqrt(3), size=(n, d))
    if config.sources == "laplace":
        sources = laplace
    elif config.sources == "uniform":
        sources = uniform
    else:
        sources = np.where(np.arange(d) % 2 == 0, laplace, uniform)
    mixing = rng.normal(size=(d, d))
    return sources @ mixing.T, sources, mixing


def _whitening_only(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(x))
    return (eigenvectors / np.sqrt(eigenvalues)).T


@dataclass
class ICAComparison:
    """Per seed and method: the Amari index and the seconds to fit.

    Attributes:
        config: The comparison's settings.
        amari: method -> ``[seeds]`` Amari indices.
        seconds: method -> ``[seeds]`` wall-clock seconds of the fit.
        objective: Per seed, InfoMax's objective H(Y) - h(X~) (nats per sample) at the start (no
            rotation after whitening) and at the end.
    """

    config: ICAConfig
    amari: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    objective: list[tuple[float, float]] = field(default_factory=list)

    def ratio_to_fastica(self, method: str = "infomax") -> tuple[float, float]:
        """Geometric mean of ``amari[method] / amari["fastica"]`` over the seeds, and the standard
        error of its log (the seed-to-seed spread; 0 with one seed)."""
        logs = np.log(np.asarray(self.amari[method]) / np.asarray(self.amari["fastica"]))
        se = float(logs.std(ddof=1) / math.sqrt(len(logs))) if len(logs) > 1 else 0.0
        return float(np.exp(logs.mean())), se

    def table(self) -> Table:
        """Mean, standard deviation over the seeds and worst seed of each method's Amari index."""
        cfg = self.config
        table = Table(
            ("method", "Amari index, mean", "sd over seeds", "worst seed", "ratio to FastICA", "seconds per fit"),
            title=f"{cfg.sources} sources, d = {cfg.num_sources}, N = {cfg.num_samples}, {len(cfg.seeds)} seeds",
        )
        for method in METHODS:
            values = np.asarray(self.amari[method])
            ratio = self.ratio_to_fastica(method)[0]
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            table.rows.append(
                (method, float(values.mean()), sd, float(values.max()), ratio, float(np.mean(self.seconds[method])))
            )
        return table


def run_ica_comparison(config: ICAConfig | None = None) -> ICAComparison:
    """Fit every method of :data:`METHODS` on the mixtures of every seed.

    Raises:
        ImportError: If scikit-learn is missing.
    """
    require_sklearn("the FastICA comparison")
    from sklearn.decomposition import FastICA

    config = config or ICAConfig()
    result = ICAComparison(config, {m: [] for m in METHODS}, {m: [] for m in METHODS}, [])

    def record(method: str, unmixing: np.ndarray, mixing: np.ndarray, start: float) -> None:
        result.seconds[method].append(time.perf_counter() - start)
        result.amari[method].append(amari_index(unmixing, mixing))

    for seed in config.seeds:
        x, _, mixing = mixtures(config, seed)
        for method, extended in (("infomax", False), ("extended infomax", True)):
            start = time.perf_counter()
            ica = InfoMaxICA(config.nonlinearity, extended=extended, max_epochs=config.max_epochs, random_state=seed)
            ica.fit(x)
            record(method, ica.unmixing_.numpy(), mixing, start)
            if not extended:
                result.objective.append((ica.objective_[0], ica.objective_[-1]))
        start = time.perf_counter()
        fast = FastICA(config.num_sources, whiten="unit-variance", max_iter=1000, random_state=seed).fit(x)
        record("fastica", fast.components_, mixing, start)
        start = time.perf_counter()
        record("whitening only", _whitening_only(x), mixing, start)
    return result
