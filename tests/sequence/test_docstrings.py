"""The examples in the docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "mibounds.sequence.graph",
    "mibounds.sequence.openfst",
    "mibounds.sequence.forward_backward",
    "mibounds.sequence.pairwise",
    "mibounds.sequence.objectives",
    "mibounds.sequence.modules",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
