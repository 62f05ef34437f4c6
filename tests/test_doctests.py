"""The doctest gate: every public module of the package has a runnable example, and it runs.

Public modules are every module of ``mibounds`` except private ones (a ``_`` name) and the command
line (``mibounds.cli``, tested by running it in ``tests/cli``). A public module without an
example fails :func:`test_every_public_module_has_a_runnable_example`, unless it is listed in
:data:`MISSING_EXAMPLES` (empty).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import mibounds

#: Public modules that may lack an example (none: every public module has one).
MISSING_EXAMPLES: frozenset[str] = frozenset()


#: Modules whose examples fail, with the reason (none). Strict: the gate fails once they pass.
FAILING_EXAMPLES: dict[str, str] = {}

#: Modules that import an optional dependency (an extra) at the top: skipped, with the reason,
#: where it is not installed.
OPTIONAL_DEPENDENCIES: dict[str, str] = {"mibounds.representation.lightning": "lightning"}


def _modules() -> list[str]:
    names = ["mibounds"]
    for info in pkgutil.walk_packages(mibounds.__path__, "mibounds."):
        parts = info.name.split(".")[1:]
        if parts[0] == "cli" or any(part.startswith("_") for part in parts):
            continue
        names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _modules()


def _examples(module: str) -> list[doctest.DocTest]:
    if module in OPTIONAL_DEPENDENCIES:
        extra = OPTIONAL_DEPENDENCIES[module]
        pytest.importorskip(
            extra, reason=f"{module} needs the optional dependency {extra} (pip install 'mibounds[{extra}]')"
        )
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(importlib.import_module(module), module) if test.examples]


def test_the_gate_sees_the_whole_package() -> None:
    tree = Path(mibounds.__file__).parent
    files = {p for p in tree.rglob("*.py") if "cli" not in p.relative_to(tree).parts[:1]}
    public_files = {
        p
        for p in files
        if not any(part.startswith("_") and part != "__init__.py" for part in p.relative_to(tree).parts)
    }
    assert len(PUBLIC_MODULES) == len(public_files) > 50
    assert MISSING_EXAMPLES <= set(PUBLIC_MODULES) and set(FAILING_EXAMPLES) <= set(PUBLIC_MODULES)
    assert set(OPTIONAL_DEPENDENCIES) <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_has_a_runnable_example(module: str) -> None:
    runnable = sum(
        1 for test in _examples(module) for example in test.examples if not example.options.get(doctest.SKIP)
    )
    if module in MISSING_EXAMPLES and runnable == 0:
        pytest.xfail(f"{module} is listed in MISSING_EXAMPLES")
    assert runnable > 0, f"{module} has no runnable example (a '>>>' line in a docstring that is not skipped)"


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=FAILING_EXAMPLES[name]))
        if name in FAILING_EXAMPLES
        else name
        for name in PUBLIC_MODULES
    ],
)
def test_doctests_pass(module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module} failed (output above)"


def test_the_representation_subpackage_has_examples_throughout() -> None:
    # (the former tests/representation/test_docstrings.py asked for at least 10 there)
    modules = [
        name
        for name in PUBLIC_MODULES
        if name.startswith("mibounds.representation.") and name not in OPTIONAL_DEPENDENCIES
    ]
    assert sum(len(test.examples) for name in modules for test in _examples(name)) >= 10
