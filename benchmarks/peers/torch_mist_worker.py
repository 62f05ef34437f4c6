"""Run torch-mist on sample files; runs inside the torch-mist virtual environment.

Started by ``run_peers.py`` (do not import mibounds here: it is not installed in this venv)::

    python torch_mist_worker.py JOBS.json

``JOBS.json`` holds ``{"jobs": [{"key": ..., "path": "x.npz", "seed": 0, "estimators": [...]}]}``;
each ``.npz`` holds float64 arrays ``x`` and ``y`` with one row per sample. For each file and each
estimator name the worker writes one JSON line to its standard output (the only thing written
there: whatever the libraries print goes to standard error):
``{"key", "estimator", "estimate", "seconds", "error", "started_at", "finished_at"}``.
The first line is ``{"event": "ready", "versions": {...}}``.

Estimators (everything at torch-mist's defaults except ``batch_size=128`` and ``verbose=False``):

- ``torch-mist:default``: ``torch_mist.estimate_mi(data)`` without naming an estimator (0.2.17:
  ``"smile"``);
- ``torch-mist:mine``: ``torch_mist.estimate_mi(data, estimator="mine")``.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import sys
import time
import traceback

# The protocol stream is the real standard output; everything printed by the libraries (progress
# bars, "[Info]" lines) goes to standard error instead.
_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch_mist  # noqa: E402

BATCH_SIZE = 128
ESTIMATORS = {"torch-mist:default": None, "torch-mist:mine": "mine"}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _emit(record: dict) -> None:
    _PROTOCOL.write(json.dumps(record) + "\n")
    _PROTOCOL.flush()


def _estimate(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> float:
    # torch-mist has no seed argument: it draws from the global generators (validation split,
    # batch order, weight init).
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    kwargs = {"batch_size": BATCH_SIZE, "verbose": False}
    if ESTIMATORS[name] is not None:
        kwargs["estimator"] = ESTIMATORS[name]
    out = torch_mist.estimate_mi((x, y), **kwargs)
    # With the default logger estimate_mi returns (mi, train_log).
    value = out[0] if isinstance(out, tuple) else out
    if isinstance(value, dict):  # only for several (x_key, y_key) pairs; not our case
        (value,) = value.values()
    return float(value)


def main() -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with open(sys.argv[1], encoding="utf-8") as handle:
        jobs = json.load(handle)["jobs"]
    _emit(
        {
            "event": "ready",
            "versions": {
                "torch-mist": torch_mist.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": sys.version.split()[0],
            },
            "default_estimator": torch_mist.utils.estimation.DEFAULT_ESTIMATOR,
        }
    )
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
                estimate = _estimate(name, x, y, int(job["seed"]))
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
