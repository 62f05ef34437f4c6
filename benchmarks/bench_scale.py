"""Time and memory of the default estimate as rows, columns and the machine's load grow.

Each measurement runs in a fresh process (so that its peak resident memory is its own): the rows
are drawn as float64 NumPy arrays, then one default ``mibounds.estimate`` (one torch thread unless
the row says otherwise) is timed, with the process's peak resident memory over what it held
before the call, and the data's own size beside it. In the same run, the call is repeated under
``torch.utils.flop_counter.FlopCounterMode`` and plain float32 matmuls of the same FLOPs are timed
here: the ratio says how far the estimator is from what its arithmetic alone costs.

Rows printed:

- ``rows``: n = 10^4, 10^5, 10^6 at d = 20 (Gaussian, 4 nats);
- ``columns``: d = 20, 100, 500, 1,000 at n = 10^4;
- ``threads``: the Python API with its default threads and with ``threads=1``, n = 20,000,
  d = 20, 2 nats, on the quiet machine and beside one CPU-bound process that this script starts
  (each call ``--repeats`` times, in turn; the median time is the one compared).

Targets (issue "Fast where users run it"): n = 10^6 within 60 s and 1 GiB over the memory before
the call; d = 1,000 within 60 s and 2 GiB; the default-threads call under load no slower than
one thread by more than 10 % and at most 1.3x its quiet time; on the quiet machine, the default
call at least 1.5x faster than one thread.

Usage: python benchmarks/bench_scale.py [--rows 10000 100000 1000000] [--columns 20 100 500 1000]
       [--skip-threads] [--repeats 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

from _timing import matmul_seconds

_CHILD = "--child"


def _resident_mib(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` of this process in MiB (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _measure(task_id: str, rows: int, threads: int | None, device: str, count_flops: bool) -> dict[str, float]:
    """One default estimate in this process: wall time, memory before and at peak, FLOPs."""
    import gc

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import mibounds
    from mibounds import tasks

    x, y = (side.numpy() for side in tasks.make(task_id).sample(rows, seed=0, dtype=torch.float64))
    options = {"random_state": 0, "progress": False, "device": device}
    if threads is not None:
        options["threads"] = threads
    gc.collect()
    before = _resident_mib("VmRSS")
    try:  # reset the peak to what is held now, so that VmHWM is this call's peak
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = mibounds.estimate(x, y, **options)
        seconds = time.perf_counter() - start
        peak = _resident_mib("VmHWM")
        flops = 0.0
        if count_flops:
            with FlopCounterMode(display=False) as counter:
                mibounds.estimate(x, y, **options)
            flops = float(counter.get_total_flops())
    return {
        "seconds": seconds,
        "before_mib": before or float("nan"),
        "peak_mib": peak or float("nan"),
        "data_mib": (x.nbytes + y.nbytes) / 2**20,
        "estimate": result.estimate,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "truth": float(tasks.make(task_id).mutual_information),
        "steps": result.steps,
        "threads": float(result.threads or 0),
        "flops": flops,
    }


def _run(task_id: str, rows: int, threads: int | None, device: str, count_flops: bool) -> dict[str, float]:
    """:func:`_measure` in a fresh process."""
    command = [sys.executable, __file__, _CHILD, task_id, str(rows), str(threads), device, str(int(count_flops))]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{task_id} n={rows}: the measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(label: str, m: dict[str, float], device: str = "cpu") -> str:
    over = m["peak_mib"] - m["before_mib"]
    reference = matmul_seconds(m["flops"], device=device) if m["flops"] else 0.0
    ratio = f", ratio {m['seconds'] / reference:.1f} to the same-FLOP matmul" if reference else ""
    return (
        f"{label}: {m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] (truth {m['truth']:.3f}), "
        f"{m['steps']:.0f} steps, {m['seconds']:.1f} s{ratio}; peak {over:,.0f} MiB over the {m['before_mib']:,.0f} "
        f"MiB before the call ({over / max(m['data_mib'], 1e-9):.1f}x the data's {m['data_mib']:,.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--columns", type=int, nargs="*", default=[20, 100, 500, 1000])
    parser.add_argument("--skip-threads", action="store_true", help="leave out the rows with a competing process")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each threads call, in turn; the median is shown (default: 3)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the reference matmuls at the estimates' one thread
    print(f"load average {os.getloadavg()[0]:.1f} (above ~1.5 on 2 cores the times are not evidence)", flush=True)
    for rows in args.rows:
        print(
            _row(f"rows n={rows:,} d=20", _run("gaussian-d20-mi4", rows, 1, args.device, True), args.device), flush=True
        )
    for dim in args.columns:
        print(
            _row(f"columns d={dim} n=10,000", _run(f"gaussian-d{dim}-mi4", 10_000, 1, args.device, True), args.device),
            flush=True,
        )
    if args.skip_threads:
        return
    cell = ("gaussian-d20-mi2", 20_000)
    quiet, busy = _thread_runs(cell, args.device, args.repeats, competing=False), None
    reference_quiet = {threads: _parallel_matmuls(threads) for threads in (1, 2)}
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        busy = _thread_runs(cell, args.device, args.repeats, competing=True)
        reference_busy = {threads: _parallel_matmuls(threads) for threads in (1, 2)}
    finally:
        competitor.kill()
        competitor.wait()
    for name, runs in (("quiet", quiet), ("beside one CPU-bound process", busy)):
        for threads, m in runs.items():
            shown = f"default threads ({m['threads']:.0f})" if threads is None else "threads=1"
            times = ", ".join(f"{t:.1f}" for t in m["all_seconds"])
            print(_row(f"threads: {shown}, {name}", m) + f"; median of {times} s", flush=True)
    print(
        f"threads: default busy / default quiet {busy[None]['seconds'] / quiet[None]['seconds']:.2f} (target <= 1.30); "
        f"default busy / one thread busy {busy[None]['seconds'] / busy[1]['seconds']:.2f} (target <= 1.10); "
        f"one thread quiet / default quiet {quiet[1]['seconds'] / quiet[None]['seconds']:.2f} (target >= 1.50)"
    )
    print(
        "reference, a perfectly parallel workload (chains of 512 x 512 float32 products, no Python between them): "
        f"two threads quiet {reference_quiet[2]:.2f} s, one thread quiet {reference_quiet[1]:.2f} s, two threads "
        f"beside the process {reference_busy[2]:.2f} s, one thread beside it {reference_busy[1]:.2f} s; two busy / two "
        f"quiet {reference_busy[2] / reference_quiet[2]:.2f}, one / two quiet {reference_quiet[1] / reference_quiet[2]:.2f}"
    )


def _parallel_matmuls(threads: int, products: int = 600) -> float:
    """Seconds of ``products`` chained float32 ``[512, 512]`` products shared by ``threads`` threads
    (one torch thread each): work that splits perfectly, the bound on what threads can gain."""
    import threading

    import torch

    a = torch.randn(512, 512)

    def chain(count: int) -> None:
        b = a.clone()
        for _ in range(count):
            b = torch.tanh(a @ b)

    workers = [threading.Thread(target=chain, args=(products // threads,)) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def _thread_runs(
    cell: tuple[str, int], device: str, repeats: int, competing: bool
) -> dict[int | None, dict[str, float]]:
    """The default-threads and one-thread calls, ``repeats`` times each in turn, with their median times."""
    runs: dict[int | None, list[dict[str, float]]] = {None: [], 1: []}
    for _ in range(repeats):
        for threads in runs:
            runs[threads].append(_run(*cell, threads, device, False))
    medians = {}
    for threads, measured in runs.items():
        ordered = sorted(measured, key=lambda m: m["seconds"])
        middle = dict(ordered[len(ordered) // 2])
        middle["all_seconds"] = [m["seconds"] for m in measured]  # type: ignore[assignment]
        medians[threads] = middle
    return medians


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        task, n, threads, device, count = sys.argv[2:7]
        measured = _measure(task, int(n), None if threads == "None" else int(threads), device, count == "1")
        print(json.dumps(measured))
    else:
        main()
