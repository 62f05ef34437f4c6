"""Fixtures shared by every test folder."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Tests that draw from the global generator draw the same numbers whatever ran before."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread per test, restored afterwards: test batches are small, and a second
    intra-op thread only adds synchronisation (large on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example_module(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (without running its ``main``)."""
    spec = importlib.util.spec_from_file_location(f"mibounds_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_example() -> Callable[[str], ModuleType]:
    """``load_example("representation_cpc")``: the example script as a module, e.g. to reuse its data."""
    return load_example_module


SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_python_read_only(folder: Path, args: Sequence[str]) -> subprocess.CompletedProcess:
    """``python ARGS`` (e.g. ``["-m", "mibounds.cli", ...]``) in a subprocess that sees ``folder``
    as read-only storage.

    As root, permission bits do not stop writes, so the folder is bind-mounted read-only in a mount
    namespace of its own (``unshare -m``); otherwise its write permissions are removed for the run.
    Skips the test where neither is possible.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, *args]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", str(folder), *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"cannot mount a folder read-only here: {done.stderr.strip()}")
    return done


@pytest.fixture
def run_read_only() -> Callable[[Path, Sequence[str]], subprocess.CompletedProcess]:
    """``run_read_only(folder, ["-c", code])``: see :func:`run_python_read_only`."""
    return run_python_read_only


def default_ctrl_c() -> None:
    """Give this process Ctrl-C's default action (a ``preexec_fn`` for children that are sent SIGINT):
    a run that inherited SIGINT ignored (a background job of a non-interactive shell) passes
    that on to every child, which would then never see the Ctrl-C a test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as under a terminal, also where the run
    inherited SIGINT ignored (see :func:`default_ctrl_c`)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
