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


def test_plain_lines_where_no_bar_can_be_drawn(capsys: pytest.CaptureFixture[str]) -> None:
    # stderr captured (not a terminal): a bar asked for with plain= writes lines instead
    from mibounds._progress import PlainProgress

    bar = progress_bar(10, True, plain="counting", desc="items")
    assert isinstance(bar, PlainProgress)
    assert not isinstance(progress_bar(10, True, desc="items"), PlainProgress)  # without plain=: as before
    assert progress_bar(10, False, plain="counting") is None


def test_plain_lines_come_at_doubling_intervals_with_the_time_left() -> None:
    import io

    from mibounds._progress import PlainProgress

    now = [0.0]
    stream = io.StringIO()
    progress = PlainProgress(1000, "ranking features", stream=stream, clock=lambda: now[0])
    for _ in range(999):
        now[0] += 1.0  # one second an item
        progress.update()
    lines = stream.getvalue().splitlines()
    # after 10 s, then 20, 40, ... up to 300 s apart, and none at the end
    assert [line.split(":")[1].split(" of")[0].strip() for line in lines] == [
        "10",
        "30",
        "70",
        "150",
        "310",
        "610",
        "910",
    ]
    assert lines[0] == "ranking features: 10 of 1,000 in 10 s; about 16 min left"
    assert lines[-1] == "ranking features: 910 of 1,000 in 15 min; about 1 min 30 s left"
    progress.update()
    assert len(stream.getvalue().splitlines()) == len(lines)


def test_rank_features_says_the_time_left_in_a_log(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # d = 5,000 features at n = 200 took over 5 minutes with no word of progress; the same lines
    # come here at every feature, the first interval made 0
    import numpy as np

    import mibounds
    from mibounds import _progress

    monkeypatch.setattr(_progress, "PLAIN_FIRST", 0.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    mibounds.rank_features(x, x[:, 0] + rng.normal(size=200), max_steps=5, random_state=0)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ranking features: ")]
    assert [line.split(" in ")[0] for line in lines] == ["ranking features: 1 of 3", "ranking features: 2 of 3"]
    assert all(line.endswith(" left") and "; about " in line for line in lines)
