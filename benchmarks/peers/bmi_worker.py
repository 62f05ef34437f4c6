"""Run benchmark-mi (``bmi``) on sample files; runs inside the benchmark-mi virtual environment.

Started by ``run_peers.py`` (do not import mibounds here: it is not installed in this venv)::

    python bmi_worker.py JOBS.json

Same protocol as ``torch_mist_worker.py``: ``JOBS.json`` holds ``{"jobs": [{"key", "path", "seed",
"estimators"}]}``; one JSON line per (file, estimator) on standard output, after a first
``{"event": "ready", "versions": {...}}`` line; whatever the libraries print goes to standard
error.

Estimators (everything at bmi's defaults except where noted):

- ``bmi:infonce``: ``bmi.estimators.InfoNCEEstimator(batch_size=128, seed=<cell seed>,
  verbose=False)``;
- ``bmi:ksg``: ``bmi.estimators.KSGEnsembleFirstEstimator()``;
- ``bmi:cca``: ``bmi.estimators.CCAMutualInformationEstimator()``.
"""

from __future__ import annotations

import sys

import bmi  # noqa: E402
import bmi.estimators  # noqa: E402
from _worker_protocol import run_jobs  # first: it moves the libraries' prints to stderr

BATCH_SIZE = 128


def _infonce(seed: int):
    return bmi.estimators.InfoNCEEstimator(batch_size=BATCH_SIZE, seed=seed, verbose=False)


def _ksg(seed: int):
    return bmi.estimators.KSGEnsembleFirstEstimator()


def _cca(seed: int):
    return bmi.estimators.CCAMutualInformationEstimator()


ESTIMATORS = {"bmi:infonce": _infonce, "bmi:ksg": _ksg, "bmi:cca": _cca}


def _versions() -> dict:
    from importlib.metadata import version

    names = ("benchmark-mi", "jax", "jaxlib", "equinox", "optax", "numpy", "scikit-learn")
    return {name: version(name) for name in names} | {"python": sys.version.split()[0]}


if __name__ == "__main__":
    run_jobs({"versions": _versions()}, ESTIMATORS)  # bmi's estimators have estimate(x, y) -> float
