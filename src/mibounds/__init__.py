"""mibounds: estimate and maximize mutual information with variational bounds.

Subpackages, from the bottom layer up (a layer never imports one above it):

- :mod:`mibounds.tasks`: ground-truth distributions with known mutual information.
- :mod:`mibounds.critics`: networks mapping a batch ``(x, y)`` to a score matrix.
- :mod:`mibounds.bounds`: every variational bound as a pure function of a score matrix.
- :mod:`mibounds.estimation`: train a critic on data and report a held-out estimate.
- :mod:`mibounds.representation`, :mod:`mibounds.sequence`: MI objectives for training encoders.
- :mod:`mibounds.experiments`: the published experiments and the benchmark runner.

Also here: :func:`estimate`, :class:`MIEstimator`, :func:`independence_test`, their results, and
:class:`MIBoundsWarning`, the base class of the warnings about untrustworthy estimates (filter
them with ``warnings.simplefilter("error", mibounds.MIBoundsWarning)``). ``mibounds.cli`` (the
command line) and ``mibounds.validation`` (the input checks) are importable but not public API.

All quantities are in nats. Subpackages are imported lazily, so ``import mibounds`` is cheap.

Example:
    >>> import mibounds
    >>> issubclass(mibounds.MIBoundsWarning, UserWarning), "estimate" in mibounds.__all__
    (True, True)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = (
    "bounds",
    "critics",
    "tasks",
    "estimation",
    "experiments",
    "representation",
    "sequence",
)
# Importable as attributes, but not public API (not in __all__).
_INTERNAL = ("cli", "validation")
# Names re-exported from a subpackage: name -> module.
_EXPORTS = {
    "estimate": "mibounds.estimation",
    "conditional_estimate": "mibounds.estimation",
    "MIEstimator": "mibounds.estimation",
    "EstimateResult": "mibounds.estimation",
    "independence_test": "mibounds.estimation",
    "IndependenceResult": "mibounds.estimation",
    "rank_features": "mibounds.estimation",
    "MIBoundsWarning": "mibounds.validation",
}

__all__ = ["__version__", *_SUBPACKAGES, *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES or name in _INTERNAL:
        return importlib.import_module(f"mibounds.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mibounds' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
