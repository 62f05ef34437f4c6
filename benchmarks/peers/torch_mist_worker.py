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
- ``torch-mist:mine``: ``torch_mist.estimate_mi(data, estimator="mine")``;
- ``torch-mist:default-heldout`` and ``torch-mist:mine-heldout``: the same two, trained on a random
  80 % of the rows and evaluated on the other 20 % (``test_data``), as torch-mist's own warning
  asks ("Please specify test_data"); without it the estimate is in-sample.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch_mist  # noqa: E402
from _worker_protocol import run_jobs  # first: it moves the libraries' prints to stderr

BATCH_SIZE = 128
ESTIMATORS = {
    "torch-mist:default": None,
    "torch-mist:mine": "mine",
    "torch-mist:default-heldout": None,
    "torch-mist:mine-heldout": "mine",
}
#: Share of the rows the held-out variants evaluate on (the rest train the critic).
TEST_SHARE = 0.2


class TorchMistEstimator:
    """One of :data:`ESTIMATORS` with a seed, as the package's estimator protocol: ``estimate(x, y) -> float``."""

    def __init__(self, name: str, seed: int) -> None:
        self.name, self.seed = name, seed

    def estimate(self, x: np.ndarray, y: np.ndarray) -> float:
        return _estimate(self.name, x, y, self.seed)


def _estimate(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> float:
    # torch-mist has no seed argument: it draws from the global generators (validation split,
    # batch order, weight init).
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    kwargs = {"batch_size": BATCH_SIZE, "verbose": False}
    if ESTIMATORS[name] is not None:
        kwargs["estimator"] = ESTIMATORS[name]
    if name.endswith("-heldout"):
        order = np.random.default_rng(seed).permutation(len(x))
        test, train = np.split(order, [int(round(TEST_SHARE * len(x)))])
        kwargs["test_data"] = (x[test], y[test])
        x, y = x[train], y[train]
    out = torch_mist.estimate_mi((x, y), **kwargs)
    # With the default logger estimate_mi returns (mi, train_log).
    value = out[0] if isinstance(out, tuple) else out
    if isinstance(value, dict):  # only for several (x_key, y_key) pairs; not our case
        (value,) = value.values()
    return float(value)


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    run_jobs(
        {
            "versions": {
                "torch-mist": torch_mist.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": sys.version.split()[0],
            },
            "default_estimator": torch_mist.utils.estimation.DEFAULT_ESTIMATOR,
        },
        {name: lambda seed, name=name: TorchMistEstimator(name, seed) for name in ESTIMATORS},
    )
