"""How much of torch-mist MINE's in-sample estimate is optimism: the same critic on fresh rows.

torch-mist evaluates its trained critic on the rows it trained on unless given ``test_data``. This
script trains MINE exactly as ``run_peers.py`` does (``torch-mist:mine``: the suite's 10,000 rows,
batch 128, torch-mist's defaults, seeded with the cell's seed) and scores the same trained critic
twice: on those rows (what the suite reports) and on an independent sample of the same task
(``seed + 1000``), which no estimator of the suite sees. The difference is the in-sample optimism
that docs/accuracy.md quotes. Run with the system python (mibounds installed); the torch-mist
venv of ``run_peers.py`` must exist (``python benchmarks/peers/run_peers.py --setup-only``)::

    python benchmarks/peers/mine_optimism.py                       # 4 tasks x seeds 0-2, ~6 min
    python benchmarks/peers/mine_optimism.py --tasks spiral-v1(gaussian-d5-mi1) --seeds 0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from mibounds import tasks

HERE = Path(__file__).resolve().parent
TASKS = (
    "rotate(normal-cdf(mvn-dense-dx3-dy3-c0.25))",
    "mvn-dense-dx3-dy3-c0.25",  # the normal-CDF task's latent Gaussian (the same MI)
    "spiral-v1(gaussian-d5-mi1)",
    "rotate(half-cube(mvn-sparse-dx3-dy3-k2-c0.8))",
)
FRESH_SEED_OFFSET = 1000
N = 10_000

# Runs inside the torch-mist venv: one JSON line per file.
_WORKER = """
import json, random, sys, numpy as np, torch, torch_mist
from torch_mist.utils.evaluation import evaluate_mi
torch.set_num_threads(1)
for path in sys.argv[1:]:
    data = np.load(path)
    seed = int(data["seed"])
    torch.manual_seed(seed); np.random.seed(seed); random.seed(seed)
    value, critic = torch_mist.estimate_mi(
        (data["x"], data["y"]), estimator="mine", batch_size=128, verbose=False, return_estimator=True
    )[:2]
    rows = tuple(torch.tensor(data[k], dtype=torch.float32) for k in ("fresh_x", "fresh_y"))
    fresh = evaluate_mi(estimator=critic, data=rows, batch_size=128)
    print(json.dumps({"path": path, "in_sample": float(value), "fresh": float(fresh)}), flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--venvs", type=Path, default=Path.home() / ".cache" / "mibounds-peers")
    args = parser.parse_args(argv)
    python = args.venvs.expanduser() / "torch-mist" / "bin" / "python"
    if not python.exists():
        print(f"no torch-mist venv at {python}: run benchmarks/peers/run_peers.py --setup-only", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        files, truth = [], {}
        for task_id in args.tasks:
            task = tasks.make(task_id)
            for seed in args.seeds:
                x, y = task.sample(N, seed=seed, dtype=torch.float64)
                fx, fy = task.sample(N, seed=seed + FRESH_SEED_OFFSET, dtype=torch.float64)
                path = str(Path(folder) / f"{len(files)}.npz")
                np.savez(path, x=x.numpy(), y=y.numpy(), fresh_x=fx.numpy(), fresh_y=fy.numpy(), seed=seed)
                files.append(path)
                truth[path] = (task_id, seed, float(task.mutual_information))
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        worker = subprocess.Popen(
            [str(python), "-c", _WORKER, *files], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert worker.stdout is not None
        print(f"{'task':<48} {'seed':>4} {'true':>6} {'in-sample':>9} {'fresh':>7} {'optimism':>8}")
        for line in worker.stdout:
            if not line.startswith("{"):  # torch-mist prints its notes on standard output
                continue
            row = json.loads(line)
            task_id, seed, mi = truth[row["path"]]
            print(
                f"{task_id:<48} {seed:>4} {mi:6.3f} {row['in_sample']:9.3f} {row['fresh']:7.3f} "
                f"{row['in_sample'] - row['fresh']:+8.3f}",
                flush=True,
            )
        return worker.wait()


if __name__ == "__main__":
    sys.exit(main())
