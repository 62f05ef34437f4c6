"""The examples in the representation docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mibounds.representation

MODULES = sorted(
    f"mibounds.representation.{info.name}" for info in pkgutil.iter_modules(mibounds.representation.__path__)
)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_module_has_examples_somewhere() -> None:
    attempted = sum(doctest.testmod(importlib.import_module(m), optionflags=doctest.ELLIPSIS).attempted for m in MODULES)
    assert attempted >= 10
