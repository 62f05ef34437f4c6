"""Optional tqdm progress bars: tqdm is an extra (``[progress]``), so without it there is no bar.

One place for every layer (estimation, experiments, representation) to ask for a bar. Work long
enough to need an estimate of the time left even where no bar can be drawn (stderr is a log file,
or tqdm is not installed) asks for plain lines instead (:class:`PlainProgress`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

__all__ = ["PlainProgress", "progress_bar", "progress_steps"]

#: Seconds before the first plain progress line; the next come at doubling intervals, up to
#: :data:`PLAIN_LONGEST` apart.
PLAIN_FIRST = 10.0
PLAIN_LONGEST = 300.0


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def progress_bar(total: int, enabled: bool, *, plain: str | None = None, **options: Any) -> Any:
    """A tqdm bar over ``total`` items (``options`` go to tqdm), or None when disabled, empty or
    tqdm is not installed; the caller calls ``update()`` / ``close()`` on it when not None.

    Like tqdm's own ``disable=None``, the bar is drawn only when its stream is a terminal: a
    script whose stderr goes to a log file gets no carriage-return updates in it.

    Args:
        total: Items to count.
        enabled: Whether progress is wanted at all.
        plain: Where no bar can be drawn (stderr is not a terminal, or no tqdm), write plain lines
            to stderr instead, each starting with these words: a :class:`PlainProgress` (for work
            that can take minutes, whose caller needs the time left in a log too).
        **options: For tqdm (``desc``, ``unit``, ...).
    """
    if not enabled or total <= 0:
        return None
    tqdm = _tqdm()
    if plain is not None and (tqdm is None or not _is_terminal(options.get("file", sys.stderr))):
        return PlainProgress(total, plain)
    return None if tqdm is None else tqdm(total=total, **{"disable": None, **options})


def progress_steps(num_steps: int, enabled: bool, description: str) -> Iterable[int]:
    """``range(num_steps)``, wrapped in a tqdm bar when ``enabled``, tqdm is installed and stderr
    is a terminal."""
    tqdm = _tqdm() if enabled else None
    return range(num_steps) if tqdm is None else tqdm(range(num_steps), desc=description, disable=None)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """Progress as plain lines, for a log: ``ranking features: 12 of 5,000 in 10 s; about 1 h 9 min
    left``, after :data:`PLAIN_FIRST` seconds and then at doubling intervals (so a long run
    writes few lines), none once all is done. The same ``update()`` / ``close()`` / ``write()`` as
    a tqdm bar.

    Args:
        total: Items to count.
        label: The words before the counts.
        stream: Where the lines go (default: stderr at the time of writing).
        clock: Seconds, monotonic (for tests).

    Example:
        >>> import io
        >>> ticks = iter([0.0, 12.0, 15.0, 40.0])
        >>> stream = io.StringIO()
        >>> progress = PlainProgress(100, "ranking features", stream=stream, clock=lambda: next(ticks))
        >>> for _ in range(3):
        ...     progress.update()
        >>> print(stream.getvalue().strip())
        ranking features: 1 of 100 in 12 s; about 20 min left
        ranking features: 3 of 100 in 40 s; about 22 min left
    """

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._interval = PLAIN_FIRST
        self._next = self._start + PLAIN_FIRST

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done; write a line when its time has come."""
        self.done += n
        now = self._clock()
        if now < self._next or self.done >= self.total:
            return
        elapsed = now - self._start
        left = elapsed / self.done * (self.total - self.done)
        self.write(
            f"{self.label}: {self.done:,} of {self.total:,} in {_duration(elapsed)}; about {_duration(left)} left"
        )
        self._interval = min(2 * self._interval, PLAIN_LONGEST)
        self._next = now + self._interval

    def write(self, message: str, file: TextIO | None = None) -> None:
        """Write one line (as ``tqdm.write``)."""
        print(message, file=file or self._stream or sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to clear: the lines stay in the log."""


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"1 h 8 min"``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds < 600 else f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
