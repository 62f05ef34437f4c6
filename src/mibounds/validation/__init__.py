"""Input checks shared by every layer, with one message style.

Every message names what is wrong, with the offending values, and how to fix it, e.g.
"x has 1000 rows but y has 999; pass arrays with one row per sample". User input is checked
with ``raise``, never ``assert``. Two modules, neither importing anything else from the package:

- :mod:`~mibounds.validation.values`: no torch: names (:func:`unknown_name_error`), integers
  (:func:`check_int`), scalars, sample arrays, and the warning classes.
- :mod:`~mibounds.validation.tensors`: score matrices, baselines and temperatures (torch), imported on first use,
  so that ``from mibounds.validation import check_int`` does not import torch.

Example:
    >>> from mibounds.validation import unknown_name_error
    >>> print(unknown_name_error("bound", "infonse", ["infonce", "nwj"]))
    unknown bound 'infonse'. Did you mean 'infonce'? Valid bounds: infonce, nwj.
"""

from __future__ import annotations

import importlib
from typing import Any

from mibounds.validation.values import (
    MAX_SEED,
    MIBoundsWarning,
    NonFiniteScoresWarning,
    NotAnIntegerError,
    check_allocation,
    check_finite_rows,
    check_int,
    check_matrix,
    check_positive,
    check_probability,
    check_same_rows,
    constant_columns,
    unknown_name_error,
)

_TENSOR_CHECKS = ("check_log_baseline", "check_scores", "check_temperature", "warn_if_not_finite")

__all__ = [
    "MAX_SEED",
    "MIBoundsWarning",
    "NonFiniteScoresWarning",
    "NotAnIntegerError",
    "check_allocation",
    "check_finite_rows",
    "check_int",
    "check_log_baseline",
    "check_matrix",
    "check_positive",
    "check_probability",
    "check_same_rows",
    "check_scores",
    "check_temperature",
    "constant_columns",
    "unknown_name_error",
    "warn_if_not_finite",
]


def __getattr__(name: str) -> Any:
    if name in _TENSOR_CHECKS:
        return getattr(importlib.import_module("mibounds.validation.tensors"), name)
    raise AttributeError(f"module 'mibounds.validation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
