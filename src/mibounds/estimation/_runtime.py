"""What every estimation entry point does at run time (private): the seed, the device, the threads, the warnings."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from mibounds import validation
from mibounds.estimation._file_limits import size
from mibounds.estimation.scaling import QuantileNormalizer, Standardizer
from mibounds.validation.values import available_memory

#: Device types the estimator trains on.
COMPUTE_DEVICES = ("cpu", "cuda", "mps")

#: Memory an estimate holds beyond the given arrays, per row and per value of a row (``bytes =
#: rows * (per row + columns * per value)``), rounded up from peak resident memory over the data
#: (``benchmarks/bench_scale.py``): 185 bytes a row and 20 a value at 1,000,000 rows of 40 columns
#: and 2,000,000 rows of 4 (a float32 copy of the scaled values, the normal scores' sorted columns,
#: the fold plan and the per-row held-out values).
ESTIMATE_BYTES_PER_ROW = 256
ESTIMATE_BYTES_PER_VALUE = 24


def check_estimate_memory(rows: int, columns: int, what: str, held: float = 0.0) -> None:
    """Refuse, in one line, rows that an estimate cannot hold in the memory still available.

    Args:
        rows: Rows of x and y.
        columns: Columns of x and y together.
        what: What holds them, e.g. ``"x and y"`` or ``"reading data.npz"``.
        held: Bytes still to be allocated besides the estimate's own (the arrays of a file not read yet).

    Raises:
        ValueError: Naming the rows, the memory needed and available, and the fix.

    Example:
        >>> check_estimate_memory(10_000, 40, "x and y")  # fits: nothing happens
    """
    need = held + rows * (ESTIMATE_BYTES_PER_ROW + columns * ESTIMATE_BYTES_PER_VALUE)
    available = available_memory()
    if available is not None and need > available:
        fit = float(f"{rows * available / need / 2:.2g}")  # half of what fits, to 2 digits
        raise ValueError(
            f"{what} ({rows:,} rows of {columns} columns) need about {size(need)} to estimate from, more "
            f"than the {size(available)} of memory available; estimate from a random subset of the rows "
            f"(about {fit:,.0f} rows)"
        )


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
def torch_threads(threads: int) -> Iterator[int]:
    """Run the body with ``threads`` intra-op threads, then restore the caller's number.

    The estimator's products are small: OpenMP threads that spin between them win little on a
    quiet machine and lose badly to any other busy process, so each group of members runs on one
    (:func:`~mibounds.estimation.member_groups.thread_plan`), and the caller's torch setting is
    left as it was found.
    """
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
