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

import datetime
import json
import math
import os
import sys
import time
import traceback

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

import numpy as np  # noqa: E402

import bmi  # noqa: E402
import bmi.estimators  # noqa: E402

BATCH_SIZE = 128


def _infonce(seed: int):
    return bmi.estimators.InfoNCEEstimator(batch_size=BATCH_SIZE, seed=seed, verbose=False)


def _ksg(seed: int):
    return bmi.estimators.KSGEnsembleFirstEstimator()


def _cca(seed: int):
    return bmi.estimators.CCAMutualInformationEstimator()


ESTIMATORS = {"bmi:infonce": _infonce, "bmi:ksg": _ksg, "bmi:cca": _cca}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _emit(record: dict) -> None:
    _PROTOCOL.write(json.dumps(record) + "\n")
    _PROTOCOL.flush()


def _versions() -> dict:
    from importlib.metadata import version

    names = ("benchmark-mi", "jax", "jaxlib", "equinox", "optax", "numpy", "scikit-learn")
    return {name: version(name) for name in names} | {"python": sys.version.split()[0]}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        jobs = json.load(handle)["jobs"]
    _emit({"event": "ready", "versions": _versions()})
    for job in jobs:
        with np.load(job["path"]) as data:
            x, y = data["x"], data["y"]
        for name in job["estimators"]:
            started = _now()
            t0 = time.perf_counter()
            estimate, error = None, None
            try:
                if name not in ESTIMATORS:
                    raise ValueError(f"unknown estimator {name!r}; known: {', '.join(ESTIMATORS)}")
                estimator = ESTIMATORS[name](int(job["seed"]))
                estimate = float(estimator.estimate(x, y))
                if not math.isfinite(estimate):
                    error = f"the estimator returned a non-finite estimate ({estimate})"
                    estimate = None
            except Exception:  # a failing cell must not stop the others
                error = traceback.format_exc()
            seconds = time.perf_counter() - t0
            _emit(
                {
                    "key": job["key"],
                    "estimator": name,
                    "estimate": estimate,
                    "seconds": seconds,
                    "error": error,
                    "started_at": started,
                    "finished_at": _now(),
                }
            )


if __name__ == "__main__":
    main()
