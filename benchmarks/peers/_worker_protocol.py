"""What both peer workers share: the JSON-lines protocol with ``run_peers.py`` and the job loop.

Imported by ``torch_mist_worker.py`` and ``bmi_worker.py`` from their own folder (Python puts a
script's folder on ``sys.path``), inside each peer's venv; it needs only the standard library and
numpy. Importing it first moves standard output: the protocol keeps the real stdout, and whatever
the libraries print afterwards goes to standard error.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def now() -> str:
    """UTC time, ISO 8601 with milliseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def emit(record: Mapping[str, Any]) -> None:
    """One JSON line on the protocol stream."""
    _PROTOCOL.write(json.dumps(record) + "\n")
    _PROTOCOL.flush()


def run_jobs(
    ready: Mapping[str, Any], known: Mapping[str, Any], estimate: Callable[[str, Any, Any, int], float]
) -> None:
    """Read ``sys.argv[1]`` (``{"jobs": [{"key", "path", "seed", "estimators"}]}``), emit ``ready``,
    then one record per (file, estimator): ``key, estimator, estimate, seconds, error,
    started_at, finished_at``. A failing or non-finite estimate is recorded, never raised."""
    import numpy as np

    with open(sys.argv[1], encoding="utf-8") as handle:
        jobs = json.load(handle)["jobs"]
    emit({"event": "ready", **ready})
    for job in jobs:
        with np.load(job["path"]) as data:
            x, y = data["x"], data["y"]
        for name in job["estimators"]:
            started = now()
            t0 = time.perf_counter()
            value, error = None, None
            try:
                if name not in known:
                    raise ValueError(f"unknown estimator {name!r}; known: {', '.join(known)}")
                value = float(estimate(name, x, y, int(job["seed"])))
                if not math.isfinite(value):
                    error = f"the estimator returned a non-finite estimate ({value})"
                    value = None
            except Exception:  # a failing cell must not stop the others
                error = traceback.format_exc()
            emit(
                {
                    "key": job["key"],
                    "estimator": name,
                    "estimate": value,
                    "seconds": time.perf_counter() - t0,
                    "error": error,
                    "started_at": started,
                    "finished_at": now(),
                }
            )
