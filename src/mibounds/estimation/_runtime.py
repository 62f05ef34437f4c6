"""What every estimation entry point does at run time (private): the seed, the device, the threads, the warnings."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from mibounds import validation
from mibounds.estimation.scaling import QuantileNormalizer, Standardizer

#: Device types the estimator trains on.
COMPUTE_DEVICES = ("cpu", "cuda", "mps")


def issue_warnings(notes: list[str]) -> None:
    """Issue each note as a :class:`~mibounds.validation.MIBoundsWarning`.

    stacklevel 3: the warning points at the line that called ``fit()`` or ``estimate()``.
    """
    for note in notes:
        warnings.warn(note, validation.MIBoundsWarning, stacklevel=3)


def resolve_seed(random_state: Any) -> int:
    """A seed from ``random_state``: None draws one, a Generator draws one from it, an int is kept."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**32))
    return check_seed(random_state)


def check_seed(value: Any) -> int:
    """A whole-number seed from 0 to ``MAX_SEED`` (torch seeds with 64-bit integers).

    Raises:
        ValueError: "random_state must be None or a whole number from 0 to 9223372036854775807 ...".
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= validation.MAX_SEED:
        return int(value)
    raise ValueError(
        f"random_state must be None or a whole number from 0 to {validation.MAX_SEED} (2**63 - 1), got {value!r}"
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU) or a torch device, refused when unavailable."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from None
    if resolved.type not in COMPUTE_DEVICES:
        raise ValueError(
            f"device {device!r} cannot hold the data (a {resolved.type!r} tensor has no values to train on); "
            "use 'auto', 'cpu' or 'cuda'"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for CUDA, which is not available here; use 'auto' or 'cpu'")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} asked for MPS, which is not available here; use 'auto' or 'cpu'")
    return resolved


def scaler_for(standardize: bool | str) -> type[Standardizer] | type[QuantileNormalizer] | None:
    """The per-column scaler a ``standardize`` setting names (None: the columns are used as given)."""
    if standardize is True or standardize == "quantile":
        return QuantileNormalizer
    if standardize == "zscore":
        return Standardizer
    if standardize is False or standardize is None:
        return None
    raise ValueError(f"standardize must be True (or 'quantile'), 'zscore' or False, got {standardize!r}")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the body with ``threads`` intra-op threads (None: one), then restore the caller's number.

    The estimator's products are small: OpenMP threads that spin between them win little on a
    quiet machine and lose badly to any other busy process, so it uses one unless told otherwise,
    and leaves the caller's torch setting as it found it.
    """
    chosen = 1 if threads is None else threads
    before = torch.get_num_threads()
    if chosen != before:
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
