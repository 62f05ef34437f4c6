"""The fold members of an estimate in groups, each group on a thread of its own.

The F members of a cross-fitted estimate are independent until their early-stopping checks (and
fully independent when they are evaluated), so they are trained and evaluated in G groups at once,
one Python thread a group with one torch thread each. The work is coarse: a group runs a whole
segment of training steps (up to the next check) or a member's whole held-out evaluation between
two joins, and no thread spins while it waits. On a busy machine the groups simply share the cores
with the other processes; torch's own intra-op threads, by contrast, meet at a barrier inside every
small product and wait on the slowest of them (docs/performance.md).

A member's arithmetic is the same whatever its group, to float32 rounding: the stacked critics
compute member m from member m's weights alone, the loss of a group is its members' sum over F (the
gradient of a member is that of the mean over all F), and the batches are drawn in the same order;
only some reductions of a stack (its gradient sums) round differently with the number of members
in it, so weights drift apart by a few units in the last place. One group is the whole stack, as
before groups existed; a run is repeatable with the same ``threads``
(``tests/estimation/test_member_groups.py``).

Python's interpreter lock serializes the Python part of every step (about a fifth of a step at
the default batch), which bounds what more groups can gain: the default uses two groups where two
cores are usable (:func:`default_groups`).

Example:
    >>> member_groups(5, 2)
    [[0, 1, 2], [3, 4]]
    >>> run_in_groups(lambda group: sum(group), [[0, 1, 2], [3, 4]])
    [3, 7]
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = [
    "DEFAULT_MAX_GROUPS",
    "default_groups",
    "map_members",
    "member_groups",
    "run_in_groups",
    "thread_plan",
    "usable_cores",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

#: Most groups the default uses: beyond two, the steps' Python work (under the interpreter lock)
#: takes longer than the arithmetic the extra cores would share (measured on 2 cores: five
#: one-member groups were slower than two groups of three and two; docs/performance.md).
DEFAULT_MAX_GROUPS = 2


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity mask, capped by a cgroup v2 CPU quota.

    Example:
        >>> usable_cores() >= 1
        True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:  # a container's quota, e.g. "200000 100000" for two cores ("max ..." for none)
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as limit:
            quota, period = limit.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def default_groups(members: int) -> int:
    """Groups an estimate uses when not told: as many as usable cores, at most
    :data:`DEFAULT_MAX_GROUPS` and at most ``members``."""
    return max(1, min(usable_cores(), DEFAULT_MAX_GROUPS, members))


def member_groups(members: int, groups: int) -> list[list[int]]:
    """``range(members)`` cut into ``min(groups, members)`` runs of consecutive members, sizes
    differing by at most one (the larger first)."""
    count = max(1, min(groups, members))
    size, extra = divmod(members, count)
    cuts = [0]
    for g in range(count):
        cuts.append(cuts[-1] + size + (g < extra))
    return [list(range(cuts[g], cuts[g + 1])) for g in range(count)]


def run_in_groups(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(item) for item in items]``: the first on this thread, each other one on a worker thread.

    The workers are kept from call to call (a training run joins its groups at every check), and
    each call runs in a copy of the caller's context (context variables such as
    :func:`~mibounds.validation.tensors.finite_scan_skipped` hold there too). The first exception
    raised is re-raised here, after every call has ended.
    """
    if len(items) == 1:
        return [fn(items[0])]
    pool = _workers(len(items) - 1)
    futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items[1:]]
    try:
        first = fn(items[0])
    finally:
        wait(futures)
    return [first, *(future.result() for future in futures)]


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _workers(count: int) -> ThreadPoolExecutor:
    """A pool of at least ``count`` worker threads, made once (and again only to grow)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < count:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL, _POOL_SIZE = ThreadPoolExecutor(max_workers=count, thread_name_prefix="mibounds-group"), count
        return _POOL


def map_members(fn: Callable[[int], _R], members: int, groups: int) -> list[_R]:
    """``[fn(m) for m in range(members)]``, the members cut into ``groups`` (:func:`member_groups`),
    each group on a thread of its own (:func:`run_in_groups`); the results in member order.

    Example:
        >>> map_members(lambda m: m * m, 5, 2)
        [0, 1, 4, 9, 16]
    """
    parts = run_in_groups(lambda group: [fn(m) for m in group], member_groups(members, groups))
    return [value for part in parts for value in part]


def thread_plan(threads: int | None, members: int) -> tuple[int, int]:
    """``(groups, torch threads a group)`` for the ``threads`` setting of an estimate of ``members`` members.

    None: :func:`default_groups` of one torch thread each. A number: that many threads, in as many
    groups as there are members at most, the rest as torch threads within each group.

    Example:
        >>> thread_plan(1, 5), thread_plan(2, 5), thread_plan(16, 5)
        ((1, 1), (2, 1), (5, 3))
    """
    if threads is None:
        return default_groups(members), 1
    groups = max(1, min(threads, members))
    return groups, max(1, threads // groups)
