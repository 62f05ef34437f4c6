"""Timing helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously; CPU work does not)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device, warm_up: bool = True) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call unless ``warm_up`` is False."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_seconds(flops: float, size: int = 512, device: str = "cpu") -> float:
    """Seconds of plain float32 ``[size, size] @ [size, size]`` products totalling ``flops``: the
    reference a benchmark divides its wall time by (what the arithmetic alone costs here)."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    per_call = 2.0 * size**3
    calls = max(1, round(flops / per_call))
    for _ in range(3):
        a @ b  # warm-up
    sync(torch.device(device))
    start = time.perf_counter()
    for _ in range(calls):
        a @ b
    sync(torch.device(device))
    return time.perf_counter() - start
