"""The examples in the estimation docstrings run and print what they claim (each module has one)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "mibounds.estimation",
    "mibounds.estimation.estimator",
    "mibounds.estimation.uncertainty",
    "mibounds.estimation.diagnostics",
    "mibounds.estimation.independence",
    "mibounds.estimation.conditional",
    "mibounds.estimation.discrete",
    "mibounds.estimation.ranking",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
