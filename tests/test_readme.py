"""The README stays true: its set-up commands are the ones CI runs, its Python examples run, and
its table lists every registered bound."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from mibounds import bounds

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_readme_opens_with_the_two_setup_commands() -> None:
    first = _blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    install, test = first
    assert install.startswith("pip install torch==2.13.0") and install.endswith("mibounds demo")
    assert test == "python -m pytest"
    assert "python3 -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_bounds_table_lists_the_registry() -> None:
    table_names = set(re.findall(r"^\| `([a-z_]+)` \|", README, re.M))
    assert table_names == set(bounds.names())


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "a README example should print what it shows"


@pytest.mark.parametrize("index", range(len(_blocks("py"))))
def test_python_fragments_compile_and_import_what_exists(index: int) -> None:
    """```py blocks are fragments (they use a model of the reader's): they compile, and each
    ``from M import N`` names something M has (M skipped where it is an extra not installed)."""
    code = _blocks("py")[index]
    compile(code, f"README.md py block {index}", "exec")
    for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)$", code, re.M):
        # Lightning is an extra: a fragment that uses it is checked where it is installed.
        if module.split(".")[0] == "lightning" or module == "mibounds.representation.lightning":
            pytest.importorskip("lightning")
        imported = importlib.import_module(module)
        for name in names.split(","):
            assert hasattr(imported, name.strip()), (module, name)
