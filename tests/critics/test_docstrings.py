"""The examples in the docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "mibounds.critics.mlp",
    "mibounds.critics.separable",
    "mibounds.critics.bilinear",
    "mibounds.critics.concat",
    "mibounds.critics.exact",
    "mibounds.critics.gaussian",
    "mibounds.critics.baselines",
    "mibounds.critics.stacked",
    "mibounds.critics.registry",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
