"""Procedural data speed on one core: images/s at 128x128 (and 256x256) for landscapes and humans.

    python -m benchmarks.data_speed [--n 100] [--sizes 128 256]

Target (issue 4): >= 20 landscapes/s at 128x128 on one core.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from benchmarks.machine import cpu_name  # noqa: E402
from taming_lite.data import render_human, render_landscape  # noqa: E402


def rate(fn, size: int, n: int) -> float:
    fn(0, size, size)  # warm up
    t = time.perf_counter()
    for i in range(n):
        fn(i, size, size)
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # pin to one core
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU: {cpu_name()}  (one core, python {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {load:.1f} - other work slows the numbers)")
    print(f"{'renderer':<12}{'size':>10}{'images/s':>12}{'ms/image':>11}")
    for size in args.sizes:
        n = args.n if size <= 128 else max(10, args.n // 4)
        for name, fn in (("landscape", render_landscape), ("human", render_human)):
            r = rate(fn, size, n)
            print(f"{name:<12}{f'{size}x{size}':>10}{r:>12.1f}{1000 / r:>11.1f}")


if __name__ == "__main__":
    main()
