"""Optional tqdm progress over training steps (tqdm is an extra: without it, no bar)."""

from __future__ import annotations

from collections.abc import Iterable


def progress_steps(num_steps: int, enabled: bool, description: str) -> Iterable[int]:
    """``range(num_steps)``, wrapped in a tqdm bar when ``enabled`` and tqdm is installed."""
    steps = range(num_steps)
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return steps
        return tqdm(steps, desc=description)
    return steps
