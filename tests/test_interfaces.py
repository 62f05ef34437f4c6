"""The Protocols of mibounds.interfaces: the package's own types satisfy them, and the peers' workers use them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from mibounds import critics
from mibounds.estimation import MIEstimator, conditional_estimate, estimate, independence_test, rank_features
from mibounds.estimation.result import ResultBase
from mibounds.interfaces import Critic, Estimator, Result

from .estimation.conftest import FAST

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"


def test_the_interfaces_module_imports_nothing_from_the_package():
    source = (Path(__file__).resolve().parents[1] / "src" / "mibounds" / "interfaces.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("mibounds" not in line for line in imports)


@pytest.mark.parametrize("name", critics.names())
def test_every_named_critic_is_a_critic(name):
    critic = critics.make(name, 3, 2)
    assert isinstance(critic, Critic) and critic(torch.randn(5, 3), torch.randn(5, 2)).shape == (5, 5)


def test_the_estimator_and_every_result_fit_their_protocols():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = x + rng.normal(size=(400, 2))
    estimator = MIEstimator(**FAST)
    assert isinstance(estimator, Estimator) and estimator.estimate(x, y) == estimator.estimate_
    results = [
        estimate(x, y, **FAST),
        conditional_estimate(x, y, rng.normal(size=(400, 1)), **FAST),
        independence_test(x, y, num_permutations=9, **FAST),
        rank_features(x, y[:, 0], **FAST),
    ]
    for result in results:
        assert isinstance(result, ResultBase) and isinstance(result, Result)
        assert str(result).startswith(result.summary()) and repr(result).startswith(type(result).__name__)
        json.dumps(result.to_dict())


@pytest.mark.processes
def test_a_peer_worker_runs_any_object_with_the_estimator_protocol(tmp_path):
    np.savez(tmp_path / "cell.npz", x=np.zeros((10, 1)), y=np.ones((10, 1)))
    jobs = tmp_path / "jobs.json"
    jobs.write_text(
        json.dumps(
            {"jobs": [{"key": "k", "path": str(tmp_path / "cell.npz"), "seed": 3, "estimators": ["good", "bad"]}]}
        )
    )
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(PEERS)!r})
        from _worker_protocol import run_jobs

        class Mean:
            def __init__(self, seed):
                self.seed = seed

            def estimate(self, x, y):
                return float(y.mean()) + self.seed

        run_jobs({{"versions": {{}}}}, {{"good": Mean, "bad": lambda seed: object()}})
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(jobs)], capture_output=True, text=True, check=True)
    ready, good, bad = (json.loads(line) for line in out.stdout.splitlines())
    assert ready["event"] == "ready"
    assert good["estimate"] == 4.0 and good["error"] is None
    assert bad["estimate"] is None and "has no estimate(x, y)" in bad["error"]
