"""What both peer workers share: the JSON-lines protocol with ``run_peers.py`` and the job loop.

Imported by ``torch_mist_worker.py`` and ``bmi_worker.py`` from their own folder (Python puts a
script's folder on ``sys.path``), inside each peer's venv; it needs only the standard library and
numpy. Importing it first moves standard output: the protocol keeps the real stdout, and whatever
the libraries print afterwards goes to standard error.

Each worker names its estimators by factories ``seed -> estimator``; an estimator is anything
with ``estimate(x, y) -> float`` in nats, the package's own :class:`mibounds.interfaces.Estimator`
protocol. mibounds is not installed in the peers' venvs, but its interfaces module imports only
the standard library, so it is loaded here from the repository's file.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def _load_interfaces() -> Any:
    path = Path(__file__).resolve().parents[2] / "src" / "mibounds" / "interfaces.py"
    spec = importlib.util.spec_from_file_location("mibounds_interfaces", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


#: The package's estimator protocol: ``estimate(x, y) -> float`` (nats).
Estimator = _load_interfaces().Estimator


def now() -> str:
    """UTC time, ISO 8601 with milliseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def emit(record: Mapping[str, Any]) -> None:
    """One JSON line on the protocol stream."""
    _PROTOCOL.write(json.dumps(record) + "\n")
    _PROTOCOL.flush()


def run_jobs(ready: Mapping[str, Any], known: Mapping[str, Callable[[int], Any]]) -> None:
    """Read ``sys.argv[1]`` (``{"jobs": [{"key", "path", "seed", "estimators"}]}``), emit ``ready``,
    then one record per (file, estimator): ``key, estimator, estimate, seconds, error,
    started_at, finished_at``. ``known`` maps each estimator's name to a factory ``seed ->``
    :data:`Estimator`. A failing or non-finite estimate is recorded, never raised."""
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
                estimator = known[name](int(job["seed"]))
                if not isinstance(estimator, Estimator):
                    raise TypeError(f"{name!r} makes a {type(estimator).__name__}, which has no estimate(x, y)")
                value = float(estimator.estimate(x, y))
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
