"""InfoNCE forward+backward at large K: chunked vs materialized vs a plain matmul of the same FLOPs.

For each K (default 4,096, 16,384, 65,536) with d = 128 and each thread count, one fresh
subprocess measures, with ``torch.set_num_threads(threads)``:

- ``chunked``: ``bounds.infonce_embeddings(g, h, temperature=0.1)`` forward + backward (one
  direction, the path ``representation.InfoNCELoss`` takes for large K);
- ``materialized``: ``bounds.infonce(g @ h.T / 0.1)`` forward + backward, where the ``[K, K]``
  matrix fits (``--max-materialized``);
- ``matmul floor``: the 6·K²·d FLOPs of the three matmuls any exact InfoNCE forward+backward
  performs (scores, and the two gradient products), run as plain float32 ``[4096, d] @ [d, 4096]``,
  ``[4096, 4096] @ [4096, d]`` and ``[4096, 4096]ᵀ @ [4096, d]`` products; at large K they are
  timed for at least ``--floor-seconds`` and scaled linearly to the FLOPs (said in the output);
- peak resident memory of the subprocess (``resource.getrusage(...).ru_maxrss``; it includes
  torch itself, about 0.3 GiB), and the resident memory before the first call.

Embeddings are unit-norm random vectors (scores in [-10, 10], as cosine InfoNCE at τ = 0.1).
Times are medians over ``--repeats`` calls after a warm-up call (a single timed call, no warm-up,
when K >= 32,768). Timings on a busy machine are not evidence: the load average is printed.

Usage: python benchmarks/bench_infonce_chunked.py [--sizes 4096 16384 65536] [--threads 1 2]
       [--dim 128] [--repeats 3] [--max-materialized 16384] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from _timing import median_seconds, sync

from mibounds import bounds

GIB = 2**30


def _floor_seconds(k: int, dim: int, device: torch.device, min_seconds: float) -> tuple[float, str]:
    """Seconds of plain matmuls totalling 6 K^2 d FLOPs (timed, or extrapolated from >= min_seconds)."""
    n = min(k, 4096)
    a, b = torch.randn(n, dim, device=device), torch.randn(n, dim, device=device)
    c = torch.randn(n, n, device=device)

    def three() -> None:
        a @ b.T
        c @ b
        c.T @ a

    needed = (k / n) ** 2  # sets of the three products at size n that hold the FLOPs of size k
    three()
    sync(device)
    start, done = time.perf_counter(), 0
    while done < needed and (done == 0 or time.perf_counter() - start < min_seconds):
        three()
        done += 1
    sync(device)
    seconds = (time.perf_counter() - start) * needed / done
    how = "timed" if done >= needed else f"{done} of {needed:.0f} sets timed, scaled"
    return seconds, how


def _measure(
    k: int, dim: int, threads: int, repeats: int, materialized: bool, device_name: str, floor_min_seconds: float
) -> dict[str, object]:
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    gen = torch.Generator().manual_seed(0)
    g = F.normalize(torch.randn(k, dim, generator=gen), dim=1)
    h = F.normalize(g + torch.randn(k, dim, generator=gen), dim=1)
    g, h = g.to(device).requires_grad_(), h.to(device).requires_grad_()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    large = k >= 32_768
    reps, warm = (1, False) if large else (repeats, True)

    def chunked() -> None:
        g.grad = h.grad = None
        (-bounds.infonce_embeddings(g, h, temperature=0.1)).backward()

    def full() -> None:
        g.grad = h.grad = None
        (-bounds.infonce(g @ h.T / 0.1)).backward()

    out: dict[str, object] = {"k": k, "threads": threads, "load": os.getloadavg()[0]}
    out["chunked_s"] = median_seconds(chunked, reps, device, warm)
    out["chunked_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.type == "cuda":
        out["chunked_cuda_peak"] = torch.cuda.max_memory_allocated(device)
    if materialized:
        out["materialized_s"] = median_seconds(full, reps, device, warm)
        out["materialized_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["floor_s"], out["floor_how"] = _floor_seconds(k, dim, device, floor_min_seconds)
    out["rss_before"] = rss_before
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-materialized", type=int, default=16384, help="largest K run materialized")
    parser.add_argument("--floor-seconds", type=float, default=5.0, help="least time spent timing the floor")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement in a fresh process, so ru_maxrss is this configuration's peak
        k, threads = (int(v) for v in args.child.split(","))
        print(
            json.dumps(
                _measure(
                    k, args.dim, threads, args.repeats, k <= args.max_materialized, args.device, args.floor_seconds
                )
            )
        )
        return
    print(
        f"InfoNCE forward+backward, d = {args.dim}, device {args.device}, {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'K':>6} {'thr':>3} {'chunked':>9} {'materialized':>12} {'floor':>8} {'chunk/mat':>9} "
        f"{'chunk/floor':>11} {'mat/floor':>9} {'peak RSS chunked':>16} {'peak RSS mat.':>13}  floor"
    )
    print(header)
    for k in args.sizes:
        for threads in args.threads:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                f"{k},{threads}",
                "--dim",
                str(args.dim),
                "--repeats",
                str(args.repeats),
                "--max-materialized",
                str(args.max_materialized),
                "--floor-seconds",
                str(args.floor_seconds),
                "--device",
                args.device,
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{k:>6} {threads:>3} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            mat = r.get("materialized_s")
            mat_s = f"{mat:11.3f}s" if mat else f"{'(not run)':>12}"
            print(
                f"{k:>6} {threads:>3} {r['chunked_s']:8.3f}s {mat_s} {r['floor_s']:7.3f}s "
                f"{(r['chunked_s'] / mat if mat else float('nan')):9.2f} {r['chunked_s'] / r['floor_s']:11.2f} "
                f"{(mat / r['floor_s'] if mat else float('nan')):9.2f} {r['chunked_peak_rss'] / GIB:15.2f}G "
                f"{(r['materialized_peak_rss'] / GIB if mat else float('nan')):12.2f}G  {r['floor_how']}"
                f" (load {r['load']:.1f}, RSS before the first call {r['rss_before'] / GIB:.2f}G)"
            )


if __name__ == "__main__":
    main()
