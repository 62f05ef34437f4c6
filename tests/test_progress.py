"""Progress bars behave like the ecosystem's: none when stderr is not a terminal, from the API too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mibounds._progress import progress_bar, progress_steps

_SCRIPT = """
import numpy as np
import mibounds
rng = np.random.default_rng(0)
x = rng.normal(size=(400, 2))
y = x + rng.normal(size=(400, 2))
result = mibounds.estimate(x, y, max_steps=300, random_state=0)
print(f"{result.estimate:.3f}")
"""


@pytest.mark.processes
def test_estimate_with_redirected_streams_writes_no_progress_bar(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")  # without tqdm there is never a bar
    script = tmp_path / "script.py"
    script.write_text(_SCRIPT)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    with out.open("w") as stdout, err.open("w") as stderr:
        subprocess.run([sys.executable, str(script)], stdout=stdout, stderr=stderr, env=env, check=True, timeout=300)
    assert "\r" not in out.read_text() and "\r" not in err.read_text()
    assert "training critics" not in err.read_text() and "it/s" not in err.read_text()
    assert float(out.read_text().strip().splitlines()[-1]) > 0


def test_disabled_or_empty_progress_has_no_bar() -> None:
    assert progress_bar(10, False) is None and progress_bar(0, True) is None
    assert list(progress_steps(3, False, "steps")) == [0, 1, 2]
