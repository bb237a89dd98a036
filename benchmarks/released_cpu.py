"""One 256x256 image (16x16 tokens after 256 condition tokens) from a released-size model on the CPU:
a D-RIN-shaped stand-in (24 x 1024 GPT, two f=16 VQGANs at ch 128; random weights, original format:
YAML + Lightning last.ckpt with loss.* keys, tests/released.py) through taming_lite.pipeline.Pipeline.

    python -m benchmarks.released_cpu                 # writes the 1.8 GB stand-in to a temp folder
    python -m benchmarks.released_cpu --dir DIR       # reuse one (written there if missing)
    python -m benchmarks.released_cpu --quick         # a narrow stand-in, 8 tokens: checks that it runs (seconds)

Run it from the repository root (as the other benchmarks): after writing the stand-in it starts
itself again as `python -m benchmarks.released_cpu`, so that `benchmarks` and `taming_lite` import.

Measured in one process, in this order: the load (time, peak RSS: torch.load with mmap=True, the
model built on the meta device, loss.* never read), the condition's encoding, then the 256 tokens
(KV cache, top-k 100, seed 0) with fp32 weights, bf16 weights and int8 weight-only linears
(taming_lite.quantize), each against the weights-read-once bound (the GPT's bytes once per token at
this machine's copy bandwidth), and one decode. Prints a markdown table with the date, CPU and load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the stand-ins: tests/released.py

import released  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from taming_lite.quantize import quantize_int8  # noqa: E402
from taming_lite.sampling import sample_tokens  # noqa: E402
from taming_lite.pipeline import Pipeline  # noqa: E402


def rss_gb() -> float:
    """This process's peak RSS (VmHWM, reset by exec; ru_maxrss is not)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bandwidth_gbs() -> float:
    a = torch.empty(128 * 1024 * 1024, dtype=torch.float32).fill_(1.0)
    b = torch.empty_like(a)
    b.copy_(a)
    best = min(_time(lambda: b.copy_(a)) for _ in range(3))
    return 2 * a.numel() * 4 / best / 1e9


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None)
    p.add_argument("--steps", type=int, default=256, help="image tokens to sample (256: one 16x16 image)")
    p.add_argument("--skip", nargs="*", default=[], choices=["bf16", "int8"])
    p.add_argument("--quick", action="store_true",
                   help="a narrow stand-in (tests/released.py full=False) and 8 tokens: checks that the benchmark runs")
    args = p.parse_args()
    if args.quick and args.steps == 256:
        args.steps = 8
    folder = Path(args.dir or tempfile.mkdtemp(prefix="released_cpu_"))
    if not (folder / "last.ckpt").is_file():
        t = time.perf_counter()
        released.write(folder, "depth", full=not args.quick)
        print(f"wrote the stand-in ({(folder / 'last.ckpt').stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        # start again in a fresh process image, so that the load's peak memory is its own; as a module
        # (`-m`), as documented: re-running this file by path would leave the repository root off sys.path
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.released_cpu", "--dir", str(folder),
                                  "--steps", str(args.steps), *(["--quick"] if args.quick else []),
                                  *(["--skip", *args.skip] if args.skip else [])])
    ckpt_gb = (folder / "last.ckpt").stat().st_size / 1e9
    rss0 = rss_gb()
    t = time.perf_counter()
    pipe = Pipeline.from_pretrained(str(folder), device="cpu")
    load_s, load_rss = time.perf_counter() - t, rss_gb()
    print(f"load {load_s:.1f} s, peak RSS {load_rss:.2f} GB (before {rss0:.2f}; checkpoint {ckpt_gb:.2f} GB)", flush=True)

    depth = np.tile(np.linspace(0, 1, 256, dtype=np.float32)[:, None], (1, 256))
    t = time.perf_counter()
    job = pipe.prepare(depth, (256, 256))
    enc_s = time.perf_counter() - t
    prefix = job.cond.reshape(1, -1)
    gpt = pipe.model.transformer
    wbytes = sum(q.numel() * q.element_size() for n, q in gpt.named_parameters() if n not in ("tok_emb.weight", "pos_emb"))
    bw = bandwidth_gbs()
    rows = []

    def run(name, model, bytes_per_step):
        torch.manual_seed(0)
        t = time.perf_counter()
        out = sample_tokens(model, prefix, args.steps, top_k=100, sample=True, generator=torch.Generator().manual_seed(0))
        s = time.perf_counter() - t
        bound = bytes_per_step / (bw * 1e9) * args.steps
        rows.append((name, s, args.steps / s, bound, bound / s))
        print(f"{name}: {s:.1f} s ({args.steps / s:.1f} tokens/s), bound {bound:.1f} s", flush=True)
        return out[:, prefix.shape[1]:]

    tokens = run("fp32 weights", gpt, wbytes)
    t = time.perf_counter()
    grid = torch.nn.functional.pad(tokens, (0, max(0, 256 - tokens.shape[1])))[:, :256]  # --quick: fewer tokens
    pipe.decode(grid.reshape(1, 16, 16))
    dec_s = time.perf_counter() - t
    if "bf16" not in args.skip:
        run("bf16 weights", gpt.to(torch.bfloat16), wbytes / 2)
        gpt.float()
    if "int8" not in args.skip:
        quantize_int8(gpt)
        run("int8 weights (weight-only linears)", gpt, wbytes / 4)

    load = os.getloadavg()[0]
    print(f"\n{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · {cpu_name()} · "
          f"{torch.get_num_threads()} threads · load average {load:.1f} · copy bandwidth {bw:.1f} GB/s · torch "
          f"{torch.__version__}")
    print(f"load {load_s:.1f} s (peak RSS {load_rss:.2f} GB for a {ckpt_gb:.2f} GB checkpoint) · condition "
          f"encoding {enc_s:.1f} s · decode {dec_s:.1f} s\n")
    print(f"| {args.steps} tokens after 256 condition tokens | seconds | tokens/s | weights-read-once bound (s) | of bound |")
    print("|---|---|---|---|---|")
    for name, s, tps, bound, frac in rows:
        print(f"| {name} | {s:.1f} | {tps:.1f} | {bound:.1f} | {frac:.0%} |")


if __name__ == "__main__":
    main()
