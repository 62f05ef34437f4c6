"""Optional tqdm progress bars: tqdm is an extra (``[progress]``), so without it there is no bar.

One place for every layer (estimation, experiments, representation) to ask for a bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar", "progress_steps"]


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def progress_bar(total: int, enabled: bool, **options: Any) -> Any:
    """A tqdm bar over ``total`` items (``options`` go to tqdm), or None when disabled, empty or
    tqdm is not installed; the caller calls ``update()`` / ``close()`` on it when not None.

    Like tqdm's own ``disable=None``, the bar is drawn only when its stream is a terminal: a
    script whose stderr goes to a log file gets no carriage-return updates in it.
    """
    tqdm = _tqdm() if enabled and total > 0 else None
    return None if tqdm is None else tqdm(total=total, **{"disable": None, **options})


def progress_steps(num_steps: int, enabled: bool, description: str) -> Iterable[int]:
    """``range(num_steps)``, wrapped in a tqdm bar when ``enabled``, tqdm is installed and stderr
    is a terminal."""
    tqdm = _tqdm() if enabled else None
    return range(num_steps) if tqdm is None else tqdm(range(num_steps), desc=description, disable=None)
