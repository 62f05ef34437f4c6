"""Fixtures shared by every test folder."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
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
