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
(taming_lite.quantize), each by three paths side by side: "before" (the general cached forward for every
token, PyTorch's kernels), "torch-native" (GPT.decode_one with PyTorch's kernels: the default) and "C"
(GPT.decode_one with the opt-in taming_lite.cpu_kernels, TAMING_LITE_CPU_KERNELS=1; int8 with a bf16
cache, as they ran by default on AVX-512 VNNI hosts until 2026-12-04; only where taming_lite.cpu_kernels
exists and builds: it was removed after that day's measurement, `git show 06e9446` has it), each against
the weights-read-once bound (the GPT's bytes once per token at this machine's copy bandwidth) and that
bound plus the KV cache's reads (at the mean length); one decode; how many sampled tokens each path
shares with torch-native; then greedy agreement with fp32 (free-running and teacher-forced;
--no-agreement skips it). Prints markdown tables with the date, CPU, its flags and the load.
"""

from __future__ import annotations

import argparse
import copy
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
try:  # the opt-in C kernels, measured side by side on 2026-12-04 (commit 06e9446) and then removed
    from taming_lite import cpu_kernels  # noqa: E402
except ImportError:
    cpu_kernels = None
from taming_lite.quantize import Int8Linear, quantize_int8  # noqa: E402
from taming_lite.pipeline import Pipeline  # noqa: E402
from taming_lite.sampling import iter_sample, sample_tokens  # noqa: E402


def rss_gb() -> float:
    """This process's peak RSS (VmHWM, reset by exec; ru_maxrss is not)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bandwidth_gbs() -> float:
    """Copy bandwidth (read + write bytes per second) of a 512 MB tensor: the median of 5 copies after a warm-up
    (the first copies in a process measured up to 1.7x faster here, 75 vs 44 GB/s)."""
    a = torch.empty(128 * 1024 * 1024, dtype=torch.float32).fill_(1.0)
    b = torch.empty_like(a)
    for _ in range(2):
        b.copy_(a)
    times = sorted(_time(lambda: b.copy_(a)) for _ in range(5))
    return 2 * a.numel() * 4 / times[2] / 1e9


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None)
    p.add_argument("--steps", type=int, default=256, help="image tokens to sample (256: one 16x16 image)")
    p.add_argument("--skip", nargs="*", default=[], choices=["bf16", "int8"])
    p.add_argument("--no-agreement", action="store_true", help="skip the greedy agreement runs (4 x the tokens)")
    p.add_argument("--threads", type=int, default=None, help="torch and kernel threads (default: torch's)")
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
                                  *(["--skip", *args.skip] if args.skip else []),
                                  *(["--no-agreement"] if args.no_agreement else []),
                                  *(["--threads", str(args.threads)] if args.threads else [])])
    if args.threads:
        torch.set_num_threads(args.threads)
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
    cfg = gpt.config
    bw = bandwidth_gbs()
    n_weights = sum(q.numel() for n, q in gpt.named_parameters() if n not in ("tok_emb.weight", "pos_emb"))
    mean_len = prefix.shape[1] + (args.steps - 1) / 2  # keys and values a step reads, on average
    kv_per_elem = 2 * cfg.n_layer * cfg.n_embd * mean_len  # (fp32: 4 bytes each, bf16: 2)
    rows, tokens = [], {}

    def use(model, path: str):
        """before: the general cached forward for every token; torch-native: GPT.decode_one (the default);
        C: GPT.decode_one with the opt-in taming_lite.cpu_kernels (int8 with a bf16 cache, as they were the
        default on AVX-512 VNNI hosts until 2026-12-04)."""
        os.environ["TAMING_LITE_CPU_KERNELS"] = "1" if path == "C" else "0"
        model.fast_decode = path != "before"
        model.kv_dtype = torch.bfloat16 if (path == "C" and is_int8(model)) else None

    def run(name, model, path, weight_bytes):
        use(model, path)
        kv_bytes = kv_per_elem * model.new_cache(1, 1).k.element_size()
        it = iter_sample(model, prefix, args.steps, top_k=100, sample=True, generator=torch.Generator().manual_seed(0))
        t, cpu = time.perf_counter(), time.process_time()
        out = next(it)
        first = time.perf_counter() - t  # the prefill (256 condition tokens) and the first token
        for out in it:
            pass
        s, cpu = time.perf_counter() - t, time.process_time() - cpu
        bound = weight_bytes / (bw * 1e9) * args.steps
        bound_kv = (weight_bytes + kv_bytes) / (bw * 1e9) * args.steps
        steps = bound * (args.steps - 1) / args.steps / max(s - first, 1e-9)  # the one-token steps alone
        rows.append((name, s, first, cpu, args.steps / s, bound, bound / s, bound_kv / s, steps))
        print(f"{name}: {s:.1f} s ({args.steps / s:.1f} tokens/s; prefill + first token {first:.1f} s; CPU {cpu:.1f} s), "
              f"bound {bound:.1f} s ({bound / s:.0%}; steps alone {steps:.0%}), with the KV cache's reads "
              f"{bound_kv:.1f} s ({bound_kv / s:.0%})", flush=True)
        tokens[name] = out[:, prefix.shape[1]:]
        return tokens[name]

    models = {"fp32": gpt}
    if "bf16" not in args.skip:
        models["bf16"] = copy.deepcopy(gpt).to(torch.bfloat16)
    if "int8" not in args.skip:
        models["int8"] = quantize_int8(copy.deepcopy(gpt))
    kernels = cpu_kernels is not None and cpu_kernels.available()
    paths = ["before", "torch-native"] + (["C"] if kernels else [])
    print(f"cpu_kernels: {'built (the C rows)' if kernels else 'not available here (no C rows)'}", flush=True)
    same_tokens = []
    for mode, model in models.items():
        wbytes = n_weights * {"fp32": 4, "bf16": 2, "int8": 1}[mode]
        names = {}
        for path in paths:
            use(model, path)
            cache = str(model.new_cache(1, 1).k.dtype).removeprefix("torch.").replace("float32", "fp32").replace(
                "bfloat16", "bf16")
            names[path] = f"{mode}, {path} ({DESCRIBE[path]}, {cache} cache)"
            run(names[path], model, path, wbytes)
        ref = tokens[names["torch-native"]]
        same_tokens.append((mode, {p: (tokens[n] == ref).float().mean().item() for p, n in names.items() if p != "torch-native"}))
        if mode == "fp32":
            t = time.perf_counter()
            grid = torch.nn.functional.pad(ref, (0, max(0, 256 - args.steps)))[:, :256]  # --quick
            pipe.decode(grid.reshape(1, 16, 16))
            dec_s = time.perf_counter() - t
    agreement = []
    if not args.no_agreement and len(models) > 1:
        # greedy: fp32 (torch-native) free-running as the reference, each mode free-running against it; and
        # teacher-forced along fp32's sampled tokens (seed 0, top-k 100: less repetitive than a greedy run of
        # random weights): how often each mode's argmax equals fp32's, one cached step at a time as sampling does
        use(gpt, "torch-native")
        ref = sample_tokens(gpt, prefix, args.steps, sample=False)
        walk = torch.cat((prefix, tokens[[r[0] for r in rows if r[0].startswith("fp32, torch-native")][0]]), 1)
        ref_forced = forced_argmax(gpt, walk, prefix.shape[1])
        for mode, model in models.items():
            if mode == "fp32":
                continue
            for path in paths[1:]:
                use(model, path)
                free = sample_tokens(model, prefix, args.steps, sample=False)[:, prefix.shape[1]:]
                forced = (forced_argmax(model, walk, prefix.shape[1]) == ref_forced).float().mean().item()
                diff = (free != ref[:, prefix.shape[1]:]).nonzero()
                first = int(diff[0, 1]) if len(diff) else args.steps
                label = f"{mode} {path}"
                agreement.append((label, forced, (free == ref[:, prefix.shape[1]:]).float().mean().item(), first))
                print(f"greedy agreement {label}: teacher-forced {forced:.1%}, free-running {agreement[-1][2]:.1%} "
                      f"(first difference at token {first})", flush=True)
    os.environ.pop("TAMING_LITE_CPU_KERNELS", None)

    load = os.getloadavg()[0]
    others = sum(1 for _ in _busy_processes())
    print(f"\n{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · {cpu_name()} · "
          f"{torch.get_num_threads()} threads · load average {load:.1f} ({others} other busy processes) · "
          f"copy bandwidth {bw:.1f} GB/s · torch {torch.__version__}")
    print(f"load {load_s:.1f} s (peak RSS {load_rss:.2f} GB for a {ckpt_gb:.2f} GB checkpoint) · condition "
          f"encoding {enc_s:.1f} s · decode {dec_s:.1f} s")
    print(f"CPU flags: {' '.join(sorted(f for f in cpu_flags() if f.startswith(FLAG_PREFIXES))) or 'none listed'}")
    print("sampled tokens (seed 0) equal to the torch-native path's: " + "; ".join(
        f"{mode}: " + ", ".join(f"{p} {frac:.1%}" for p, frac in d.items()) for mode, d in same_tokens) + "\n")
    print(f"| {args.steps} tokens after {prefix.shape[1]} condition tokens | seconds | of which prefill + 1st "
          "token | CPU s | tokens/s | weights-read-once bound (s) | of bound | of bound with the KV cache's reads "
          "| the steps alone, of bound |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s, first, cpu, tps, bound, frac, frac_kv, steps in rows:
        print(f"| {name} | {s:.1f} | {first:.1f} | {cpu:.1f} | {tps:.1f} | {bound:.1f} | {frac:.0%} | {frac_kv:.0%} "
              f"| {steps:.0%} |")
    if agreement:
        print(f"\n| vs fp32 (torch-native), {args.steps} tokens | argmax along fp32's sampled tokens | greedy free-running "
              "tokens | first greedy difference |")
        print("|---|---|---|---|")
        for label, forced, free, first in agreement:
            print(f"| {label} | {forced:.1%} | {free:.1%} | {first} |")


@torch.no_grad()
def forced_argmax(model, seq, start) -> torch.Tensor:
    """The model's argmax after seq[:, :p] for every p >= start (B, len - start): one prefill, then cached steps."""
    cache = model.new_cache(seq.shape[0], seq.shape[1] - 1)
    preds = [model.forward_cached(seq[:, :start], cache, 0)]
    preds += [model.forward_cached(seq[:, p : p + 1], cache, p) for p in range(start, seq.shape[1] - 1)]
    return torch.stack(preds, 1).argmax(-1)


DESCRIBE = {"before": "general cached forward, PyTorch kernels", "torch-native": "decode_one, PyTorch kernels",
            "C": "decode_one, cpu_kernels"}
FLAG_PREFIXES = ("avx2", "avx512", "amx", "fma", "f16c", "sse4", "neon", "asimd")


def cpu_flags() -> list[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith(("flags", "Features")):
            return line.split(":", 1)[1].split()
    return []


def is_int8(model) -> bool:
    return any(isinstance(m, Int8Linear) for m in model.modules())


def _busy_processes():
    """Other processes using a CPU now (state R), to say how loaded the machine was."""
    me = os.getpid()
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != me:
            try:
                if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R":
                    yield d.name
            except (OSError, IndexError):
                pass


if __name__ == "__main__":
    main()
