"""Every script in examples/ runs (slow tier), with few steps, and shows what its docstring promises.

Each script runs in its own process, as a user runs it, with a small ``--steps``; the checks are
the claims of its docstring that hold at any step count (a readout under its ceiling, BA under
the rate, a figure written), not the trained quality, which the training tests cover.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
_NUMBER = r"-?\d+(?:\.\d+)?"


def _floats(pattern: str, text: str) -> list[float]:
    """Every match of a one-group pattern, or the groups of the first match of a several-group one."""
    if re.compile(pattern).groups > 1:
        match = re.search(pattern, text)
        assert match is not None, (pattern, text)
        return [float(v) for v in match.groups()]
    return [float(v) for v in re.findall(pattern, text)]


def _cpc(out: str, _: Path) -> None:
    # "InfoNCE readouts are capped at log(batch)": every k-step readout under log 64.
    values = _floats(rf"k=\d: ({_NUMBER})", out)
    assert len(values) >= 3 and all(v <= math.log(64) for v in values), out


def _digits(out: str, _: Path) -> None:
    # "a linear probe against a random encoder": both accuracies, and the readout under log K.
    readout, ceiling = _floats(rf"readout \(last 10% of steps\): ({_NUMBER}) nats \(ceiling log K = ({_NUMBER})\)", out)
    assert readout <= ceiling, out
    for name in ("learned encoder", "random encoder", "raw pixels"):
        (accuracy,) = _floats(rf"linear probe, {name}: +({_NUMBER})", out)
        assert 0.0 <= accuracy <= 1.0, out


def _dim(out: str, _: Path) -> None:
    # "global and local MI between feature map and code": both, finite, at every logged step.
    pairs = re.findall(rf"global +({_NUMBER}) +local +({_NUMBER}) nats", out)
    assert pairs and all(math.isfinite(float(v)) for pair in pairs for v in pair), out


def _distributed(out: str, _: Path) -> None:
    # "2 gloo processes ... each y is contrasted with all K = 2 x local_batch candidates".
    rows = re.findall(
        rf"readout ({_NUMBER}) nats of log K = ({_NUMBER}) \(K = (\d+) candidates from 2 processes\)", out
    )
    assert rows, out
    for readout, log_k, k in rows:
        assert float(readout) <= float(log_k) == pytest.approx(math.log(int(k)), abs=5e-3)


def _dsprites(out: str, tmp: Path) -> None:
    # "writes a figure of how each latent tracks the true factors and prints per-factor R^2".
    figure = tmp / "dsprites.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for factor in ("shape", "scale", "orientation", "pos_x", "pos_y"):
        assert re.search(rf"^  {factor} +{_NUMBER} \| +{_NUMBER}$", out, re.MULTILINE), (factor, out)


def _infogan(out: str, tmp: Path) -> None:
    # "the BA lower bound on each code's MI ... next to its ceiling H(c) and the same model at
    # initialization, and the correlation of each continuous code with the position and scale
    # ... Writes a grid of samples".
    assert (tmp / "infogan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    trained, initial, ceiling = _floats(
        rf"categorical: trained ({_NUMBER}) ± {_NUMBER} \| initial ({_NUMBER}) ± {_NUMBER} \| ceiling H\(c\) = ({_NUMBER})",
        out,
    )
    assert ceiling == pytest.approx(math.log(3), abs=1e-3) and trained <= ceiling and initial <= ceiling, out
    (entropy,) = _floats(rf"continuous: .*h\(c\) = ({_NUMBER})", out)
    assert entropy == pytest.approx(2 * math.log(2), abs=1e-3), out
    for code in ("c1", "c2"):
        correlations = _floats(rf"(?m)^  {code} +({_NUMBER}) +({_NUMBER}) +({_NUMBER})$", out)
        assert all(-1 <= r <= 1 for r in correlations), out


def _infogan_digits(out: str, tmp: Path) -> None:
    # "--data digits ... Prints per seed the BA bound of the categorical code against its ceiling
    # log 10 and the code's accuracy ... then the mean and seed-to-seed spread, next to chance
    # (1/10) and the majority-class rate. Writes the grid of samples of the first seed."
    rows = re.findall(
        rf"seed \d: code accuracy trained ({_NUMBER}) \| initial ({_NUMBER}) \| BA bound ({_NUMBER}) ± {_NUMBER} "
        rf"of H\(c\) = ({_NUMBER}) nats",
        out,
    )
    assert len(rows) == 2, out
    for trained, initial, bound, ceiling in rows:
        assert 0 <= float(trained) <= 1 and 0 <= float(initial) <= 1, out
        assert float(bound) <= float(ceiling) == pytest.approx(math.log(10), abs=1e-3), out
    for name in ("trained", "initial"):
        (accuracy,) = _floats(rf"code accuracy, {name}: ({_NUMBER}) \+- {_NUMBER}", out)
        assert 0 <= accuracy <= 1, out
    (majority,) = _floats(rf"chance 0\.100, majority class ({_NUMBER})", out)
    assert 0.1 <= majority < 0.2, out
    assert (tmp / "infogan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _amdim(out: str, _: Path) -> None:
    # "prints each seed's accuracies and readouts, then the mean and seed-to-seed spread".
    rows = re.findall(
        rf"(?m)^ +\d+ +({_NUMBER}) +({_NUMBER}) +({_NUMBER}) +({_NUMBER}) +({_NUMBER}) +({_NUMBER}) +"
        rf"\(ceiling log B = ({_NUMBER})\)$",
        out,
    )
    assert len(rows) == 2, out
    for *values, ceiling in rows:
        assert all(0 <= float(v) <= 1 for v in values[:3]) and all(float(v) <= float(ceiling) for v in values[3:])
    for name in (r"AMDIM encoder \(global vector\)", r"random encoder \(global vector\)", r"raw pixels \(64-d\)"):
        (accuracy,) = _floats(rf"  {name} +({_NUMBER}) \+- {_NUMBER}", out)
        assert 0 <= accuracy <= 1, (name, out)


def _dim_digits(out: str, _: Path) -> None:
    # "Prints the table (mean ± standard deviation over the seeds, a row for the untrained encoder),
    # the per-seed accuracies, the gains of local over global, and the spread of each estimator."
    assert re.search(r"^\| objective \| dv \| js \| infonce \|$", out, re.MULTILINE), out
    for row in ("global", "local", "both", "random encoder"):
        line = re.search(rf"^\| {row} \|.*$", out, re.MULTILINE)
        assert line is not None, (row, out)
        cells = re.findall(rf"({_NUMBER}) ± ({_NUMBER})", line[0])
        assert len(cells) == 3 and all(0 <= float(m) <= 1 and float(s) >= 0 for m, s in cells), (row, out)
    assert len(re.findall(rf"(?m)^  (?:global|local|both) +(?:dv|js|infonce) +{_NUMBER} +{_NUMBER}$", out)) == 9, out
    assert re.search(r"runs with a non-finite loss: \d+ of 18", out), out


def _multiview(out: str, _: Path) -> None:
    # "InfoNCE between every pair of views ('full' graph). Prints each pair's MI readout."
    (ceiling,) = set(_floats(rf"ceiling log 256 = ({_NUMBER})", out))
    for pair in ("0-1", "0-2", "1-2"):
        values = _floats(rf"{pair}: ({_NUMBER})", out)
        assert values and all(v <= ceiling for v in values), (pair, out)


def _stdim(out: str, tmp: Path) -> None:
    # "Prints the table laid out as in Anand et al. (2019), Table 2 (a row per state variable and
    # a mean row, a column per method), mean ± standard deviation over the seeds".
    methods = ("mean", "random", "vae", "pixel", "cpc", "stdim", "supervised")
    assert re.search(r"^\| state variable \| " + " \\| ".join(methods) + r" \|$", out, re.MULTILINE), out
    for row in ("sprite0_x", "sprite0_y", "sprite1_x", "sprite1_y", "sprite2_x", "sprite2_y", "mean"):
        cells = re.findall(rf"({_NUMBER}) ± ({_NUMBER})", re.search(rf"^\| {row} \|.*$", out, re.MULTILINE)[0])
        assert len(cells) == 7 and all(float(m) <= 1 and float(s) >= 0 for m, s in cells), (row, out)
    # "each method's mean R^2 per seed with its mean ± standard error, and ST-DIM minus CPC per seed".
    for method in methods:
        pattern = rf"(?m)^  {method} +({_NUMBER}) +({_NUMBER}) +mean {_NUMBER} ± {_NUMBER} \(SE\)$"
        assert len(_floats(pattern, out)) == 2, out
    (difference,) = _floats(
        rf"(?m)^stdim - cpc per seed: +{_NUMBER} +{_NUMBER} +mean ({_NUMBER}) ± {_NUMBER} \(SE\)$", out
    )
    assert abs(difference) <= 2, out
    assert (tmp / "stdim.csv").read_text().startswith("state variable," + ",".join(methods))
    # "writes a figure": frames of a held-out episode and the table as grouped bars.
    assert (tmp / "stdim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ica(out: str, _: Path) -> None:
    # "Prints one table per kind of source ... and InfoMax's objective H(Y) - h(X~) before and after".
    for method in ("infomax", "extended infomax", "fastica", "whitening only"):
        rows = re.findall(rf"^\| {method} \| ({_NUMBER}) \|", out, re.MULTILINE)
        assert len(rows) == 3 and all(0.0 <= float(v) <= 1.0 for v in rows), (method, out)
    assert len(_floats(rf"H\(Y\) - h\(X~\), mean over seeds: ({_NUMBER}) -> {_NUMBER} nats", out)) == 3, out


def _vib(out: str, _: Path) -> None:
    # "BA <= I(X; Z) <= rate brackets how much the code keeps about x".
    rows = re.findall(rf"({_NUMBER}) ± {_NUMBER} +<= +I\(X; Z\) +<= +({_NUMBER}) ± {_NUMBER} nats", out)
    assert rows and all(float(low) <= float(high) for low, high in rows), out


def _sequence(out: str, _: Path) -> None:
    # Sequence InfoNCE readout under log K; probe accuracies of the trained and random encoders.
    readout, ceiling = _floats(
        rf"readout, two views \(last 20 steps\): ({_NUMBER}) nats \(ceiling log K = ({_NUMBER})\)", out
    )
    assert readout <= ceiling, out
    for name in ("trained encoder", "random encoder"):
        (accuracy,) = _floats(rf"{name}.*? ({_NUMBER}) \+- {_NUMBER}", out)
        assert 0.0 <= accuracy <= 1.0, out


def _dgi(out: str, tmp: Path) -> None:
    # "prints the mean and the seed-to-seed spread of each accuracy, and writes a figure".
    assert re.search(rf"DGI \(js\) readout \(last 20 steps\): {_NUMBER} \+- {_NUMBER} nats", out), out
    for name in (r"DGI encoder \(js\)", "random encoder", "raw features", r"reference: A_hat X \(one propagation\)"):
        (accuracy,) = _floats(rf"  {name} +({_NUMBER}) \+- {_NUMBER}", out)
        assert 0.0 <= accuracy <= 1.0, (name, out)
    assert (tmp / "dgi.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _invertible(out: str, tmp: Path) -> None:
    # "encoders invertible by construction": the reconstruction error; the held-out InfoNCE of each
    # run under its ceiling log 512 and the probe accuracies; the figure.
    (error,) = _floats(r"max \|g\^-1\(g\(x\)\) - x\| = (\d\.\de[-+]\d+)", out)
    assert error < 1e-5, out
    for run in ("bilinear", "separable", "adversarial"):
        values = _floats(
            rf"(?m)^  {run} +({_NUMBER}) \+- {_NUMBER} +({_NUMBER}) \+- {_NUMBER} +({_NUMBER}) \+- {_NUMBER} +({_NUMBER})",
            out,
        )
        bound_start, bound_end, probe_start, probe_end = values
        assert max(bound_start, bound_end) <= math.log(512), (run, out)
        assert 0.0 <= min(probe_start, probe_end) <= max(probe_start, probe_end) <= 1.0, (run, out)
    assert (tmp / "invertible.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _invertible_matched(out: str, _: Path) -> None:
    # --matched: "a row per seed and the mean of each column", then the two counts.
    rows = re.findall(rf"(?m)^\| \d+ \| ({_NUMBER}) \| ({_NUMBER}) \| ({_NUMBER}) \| ({_NUMBER}) \|", out)
    assert len(rows) == 2 and all(0 <= float(p) <= 1 for row in rows for p in row[2:]), out
    assert all(float(b) <= math.log(512) for row in rows for b in row[:2]), out
    assert re.search(r"(?m)^\| mean ± sd \|", out), out
    assert re.search(r"at the same step: \d of 2 seeds; probe below the plain run's at the matched bound: \d of 2", out)


def _architecture(out: str, _: Path) -> None:
    # "Prints, per encoder, the steps it took, the held-out bound where it stopped, the probe there
    # and at step 0 ..., and how many runs reached the target; then the probe difference conv - mlp".
    for encoder in ("mlp", "conv"):
        row = re.search(
            rf"(?m)^\| {encoder} \| ({_NUMBER}) ± {_NUMBER} \| ({_NUMBER}) ± {_NUMBER} \| "
            rf"({_NUMBER}) ± {_NUMBER} \| ({_NUMBER}) ± {_NUMBER} \| (\d) of 2 \|$",
            out,
        )
        assert row is not None, out
        steps, bound, probe, initial, reached = (float(v) for v in row.groups())
        assert steps == 3 and bound <= math.log(512) and 0 <= min(probe, initial) <= max(probe, initial) <= 1, out
        assert reached == 0, out  # the target of 100 nats is above the ceiling log 512
    assert len(_floats(rf"(?m)^probe conv - mlp per seed: +({_NUMBER}) +({_NUMBER}) +mean", out)) == 2, out


def _interpolated(out: str, tmp: Path) -> None:
    # "Prints a table (mean ± standard deviation over --seeds seeds) and each alpha's probe minus
    # alpha = 1's per seed ...; writes a figure".
    for alpha in ("0", "1"):
        row = _floats(rf"(?m)^\| {alpha} \| ({_NUMBER}) ± {_NUMBER} \| ({_NUMBER}) ± {_NUMBER} \| ({_NUMBER}) ±", out)
        assert row[1] <= math.log(512) and 0 <= row[2] <= 1, out
    assert re.search(rf"(?m)^\| encoder at initialization \| \| \| {_NUMBER} ± {_NUMBER} \|$", out), out
    assert len(_floats(rf"(?m)^probe alpha=0 - alpha=1 per seed: +({_NUMBER}) +({_NUMBER}) +mean", out)) == 2, out
    assert (tmp / "interpolated.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _lightning(out: str, tmp: Path) -> None:
    # "logs the loss module's readout and its ceiling (log K) at every step ... K = 2 x batch
    # candidates ... the readout is a lower bound, never above log K"; the CSV log is written.
    rows = _floats(rf"(?m)^step +\d+  readout ({_NUMBER}) nats of log K = {_NUMBER}$", out)
    ceilings = set(_floats(rf"(?m)^step +\d+  readout {_NUMBER} nats of log K = ({_NUMBER})$", out))
    assert len(rows) >= 3 and len(ceilings) == 1 and ceilings.pop() == pytest.approx(math.log(64), abs=5e-4), out
    assert all(v <= math.log(64) for v in rows), out
    readout, true_mi, log_k, k = _floats(
        rf"held-out readout ({_NUMBER}) nats \(true MI ({_NUMBER}), ceiling log K = ({_NUMBER}); "
        rf"K = (\d+) candidates from 2 processes\)",
        out,
    )
    assert k == 64 and log_k == pytest.approx(math.log(64), abs=5e-4) and readout <= log_k and true_mi == 2.0, out
    assert list(tmp.glob("lightning/contrastive/version_*/metrics.csv")), out


#: Script -> (arguments for a short run, the check of its output).
RUNS: dict[str, tuple[list[str], Callable[[str, Path], None]]] = {
    "representation_amdim": (["--steps", "3", "--seeds", "2"], _amdim),
    "representation_architecture": (
        ["--steps", "3", "--seeds", "2", "--evaluate-every", "3", "--target", "100"],
        _architecture,
    ),
    "representation_cpc": (["--steps", "3"], _cpc),
    "representation_digits": (["--steps", "3", "--threads", "1"], _digits),
    "representation_dgi": (["--steps", "3", "--seeds", "1", "--out", "{tmp}/dgi.png"], _dgi),
    "representation_dim": (["--steps", "3"], _dim),
    "representation_dim_digits": (["--steps", "3", "--seeds", "2"], _dim_digits),
    "representation_distributed": (["--steps", "3"], _distributed),
    "representation_ica": (["--seeds", "1", "--samples", "400", "--epochs", "2"], _ica),
    "representation_dsprites": (["--steps", "3", "--threads", "1", "--out", "{tmp}/dsprites.png"], _dsprites),
    "representation_infogan": (["--steps", "3", "--out", "{tmp}/infogan.png"], _infogan),
    "representation_lightning": (
        ["--steps", "3", "--batch-size", "32", "--out", "{tmp}/lightning"],
        _lightning,
    ),
    "representation_invertible": (
        ["--steps", "3", "--seeds", "1", "--probe-every", "3", "--out", "{tmp}/invertible.png"],
        _invertible,
    ),
    "representation_interpolated": (
        ["--steps", "3", "--seeds", "2", "--alphas", "0", "1", "--out", "{tmp}/interpolated.png"],
        _interpolated,
    ),
    "representation_multiview": (["--steps", "3"], _multiview),
    "representation_stdim": (
        ["--steps", "3", "--seeds", "2", "--out", "{tmp}/stdim.csv", "--out-figure", "{tmp}/stdim.png"],
        _stdim,
    ),
    "representation_vib": (["--steps", "3"], _vib),
    "sequence_contrastive": (["--steps", "3", "--no-single-view"], _sequence),
}


def test_every_example_has_a_run() -> None:
    assert sorted(RUNS) == sorted(p.stem for p in EXAMPLES.glob("*.py"))


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs_and_keeps_its_promise(name: str, tmp_path: Path) -> None:
    if name in (
        "representation_amdim",
        "representation_digits",
        "representation_dim_digits",
        "representation_multiview",
        "representation_stdim",
        "representation_dgi",
        "representation_invertible",
        "representation_ica",
        "representation_architecture",
        "representation_interpolated",
    ):
        pytest.importorskip("sklearn", reason="the digits and probes need scikit-learn (the 'examples' extra)")
    if name == "representation_infogan":
        pytest.importorskip("sklearn", reason="the factor regressor needs scikit-learn (the 'examples' extra)")
    if name in (
        "representation_dsprites",
        "representation_infogan",
        "representation_dgi",
        "representation_invertible",
        "representation_stdim",
        "representation_interpolated",
    ):
        pytest.importorskip("matplotlib", reason="the figure needs matplotlib (the 'plot' extra)")
    if name == "representation_lightning":
        pytest.importorskip("lightning", reason="the Lightning example needs the 'lightning' extra")
    arguments, check = RUNS[name]
    check(_run_example(name, [a.format(tmp=tmp_path) for a in arguments], tmp_path), tmp_path)


def _run_example(name: str, arguments: list[str], folder: Path) -> str:
    """Run ``examples/<name>.py`` in its own process in ``folder``; its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(EXAMPLES / f"{name}.py"), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.processes
def test_infogan_example_on_digits_keeps_its_promise(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="the digits and the matching need scikit-learn (the 'examples' extra)")
    pytest.importorskip("matplotlib", reason="the figure needs matplotlib (the 'plot' extra)")
    arguments = ["--data", "digits", "--steps", "3", "--seeds", "2", "--out", str(tmp_path / "infogan.png")]
    _infogan_digits(_run_example("representation_infogan", arguments, tmp_path), tmp_path)


@pytest.mark.slow
@pytest.mark.processes
def test_invertible_matched_mode_keeps_its_promise(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="the probe needs scikit-learn (the 'examples' extra)")
    arguments = ["--matched", "--steps", "3", "--seeds", "2", "--probe-every", "3"]
    _invertible_matched(_run_example("representation_invertible", arguments, tmp_path), tmp_path)
