"""Sampling benchmark: our KV-cached sampler vs the original algorithms, same weights, same process.

    python -m benchmarks.sampling            # the full table (a few minutes on a 2-core CPU)
    python -m benchmarks.sampling --quick    # fewer tokens, for a smoke run

(a) original `sample`: re-runs the whole sequence for every token (no cache);
(b) original `sample_with_past`: cache grown with torch.cat at every token;
(c) ours: preallocated KV cache, one prefill, then one token per step (taming_lite.sampling).
GPT 8 layers x 512 dim x 8 heads, vocab 1024, 256 conditioning + 256 image tokens, top-k 100, fp32.

(a) costs the same per token as a forward of the current sequence, so by default it is timed on
`--a-tokens` tokens starting at the middle of the sequence (cond + 128 tokens: the average
length) and its rate is taken as the rate for the whole run; `--full` times it on all 256.

Also measured in the same run: this machine's memory bandwidth (large tensor copy) and fp32
matmul throughput, the per-token bound (weights read once per step vs FLOPs per step) and the
fraction of that bound each sampler reaches; sliding-window sampling of a 32x32 grid with a
16x16 window (ours vs the original per-token window recompute); VQGAN f16 encode/decode at
256x256 (ours vs the original attention).
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch

from benchmarks.machine import cpu_name
from benchmarks.original import (OriginalGPT, sample_no_cache, sample_with_past, sliding_window_per_token,
                      use_original_attention)

from taming_lite.gpt import GPT, GPTConfig, num_params
from taming_lite.quantize import quantize_int8
from taming_lite.sampling import sample_sliding_window, sample_tokens
from taming_lite.vqgan import VQGAN, VQGANConfig


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def machine_bounds():
    """Memory bandwidth (GB/s, copy of 512 MB: read + write) and fp32 GEMM throughput (GFLOP/s)."""
    a = torch.empty(128 * 1024 * 1024, dtype=torch.float32).fill_(1.0)
    b = torch.empty_like(a)
    b.copy_(a)
    t, _ = timed(lambda: b.copy_(a), repeat=5)
    bw = 2 * a.numel() * 4 / t / 1e9
    del a, b
    n = 2048
    x, y = torch.randn(n, n), torch.randn(n, n)
    x @ y
    t, _ = timed(lambda: x @ y, repeat=5)
    return bw, 2 * n**3 / t / 1e9


def bench_samplers(args, gpt, gpt_int8, orig, bw, flops):
    rows = []
    L_c, steps = 256, args.steps
    wbytes = sum(p.numel() * p.element_size() for n, p in gpt.named_parameters() if n not in ("tok_emb.weight", "pos_emb"))
    for B in args.batches:
        g = torch.Generator().manual_seed(0)
        prefix = torch.randint(0, 1024, (B, L_c), generator=g)
        # per-token bound: weights read once per step, or 2 * params * B FLOPs, whichever is slower
        t_bw = wbytes / (bw * 1e9)
        t_fl = 2 * (wbytes / 4) * B / (flops * 1e9)
        bound = max(t_bw, t_fl)
        kind = "memory" if t_bw >= t_fl else "compute"
        a_steps = steps if args.full else args.a_tokens
        a_prefix = prefix if args.full else torch.cat((prefix, torch.randint(0, 1024, (B, steps // 2), generator=g)), 1)
        torch.manual_seed(0)
        ta, _ = timed(lambda: sample_no_cache(orig, a_prefix, a_steps, top_k=100))
        torch.manual_seed(0)
        tb, _ = timed(lambda: sample_with_past(orig, prefix, steps, top_k=100))
        tc, _ = timed(lambda: sample_tokens(gpt, prefix, steps, top_k=100, sample=True,
                                            generator=torch.Generator().manual_seed(0)), repeat=2)
        per = {"a": ta / a_steps, "b": tb / steps, "c": tc / steps}
        names = [("a", "(a) original, no cache"), ("b", "(b) original sample_with_past"), ("c", "(c) ours, KV cache")]
        if args.int8:
            tq, _ = timed(lambda: sample_tokens(gpt_int8, prefix, steps, top_k=100, sample=True,
                                                generator=torch.Generator().manual_seed(0)), repeat=2)
            per["q"] = tq / steps
            names.append(("q", "(c) ours, KV cache + int8 weights"))
        for key, name in names:
            b = bound / 4 if key == "q" else bound  # int8 weights: a quarter of the bytes to read
            rows.append((B, name, B / per[key], per["a"] / per[key], per["b"] / per[key], b / per[key], kind))
    return rows



def bench_sliding(args, gpt, gpt_int8, orig):
    H = W = args.grid
    g = torch.Generator().manual_seed(1)
    cond = torch.randint(0, 1024, (1, H, W), generator=g)
    z = torch.zeros(1, H, W, dtype=torch.long)
    n_orig = H * W if args.full else args.window_tokens
    torch.manual_seed(0)
    t_orig, _ = timed(lambda: sliding_window_per_token(orig, cond, z.clone(), window=16, top_k=100, tokens=n_orig))
    ours = {}
    variants = [("ours, KV-cached blocks of 8 tokens, caches continued", gpt, 1),
                ("ours, as above, window moved every 2 rows (row_step 2)", gpt, 2)]
    if args.int8:
        variants.append(("ours, blocks of 8 + int8 weights", gpt_int8, 1))
    for name, model, row_step in variants:
        ours[name], _ = timed(lambda: sample_sliding_window(model, cond, z, window=(16, 16), top_k=100, sample=True,
                                                             row_step=row_step, generator=torch.Generator().manual_seed(0)))
    per_orig = t_orig / n_orig
    return H * W, per_orig * H * W, ours, n_orig


def bench_vqgan(args):
    cfg = VQGANConfig(ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, attn_resolutions=(16,), z_channels=256,
                      resolution=256, embed_dim=256, n_embed=1024)
    torch.manual_seed(0)
    ours = VQGAN(cfg).eval()
    orig = use_original_attention(copy.deepcopy(ours))
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    rows = []
    with torch.no_grad():
        for name, m in (("original attention", orig), ("ours (SDPA)", ours)):
            m.encode(x)
            te, (q, _, idx) = timed(lambda: m.encode(x), repeat=args.vq_repeat)
            td, dec = timed(lambda: m.decode(q), repeat=args.vq_repeat)
            rows.append((name, te, td, idx, dec))
    same = torch.equal(rows[0][3], rows[1][3]) and (rows[0][4] - rows[1][4]).abs().max().item() < 1e-3
    return rows, same


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer tokens: a smoke run, not for quoting")
    p.add_argument("--full", action="store_true", help="time (a) and the original sliding window on every token")
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--a-tokens", type=int, default=32)
    p.add_argument("--window-tokens", type=int, default=32)
    p.add_argument("--grid", type=int, default=32)
    p.add_argument("--vq-repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--int8", action="store_true", help="also time ours with int8 weight-only linears")
    p.add_argument("--skip", nargs="*", default=[], choices=["samplers", "window", "vqgan"])
    args = p.parse_args()
    args.batches = (1, 4)
    if args.quick:
        args.steps, args.a_tokens, args.window_tokens, args.grid, args.vq_repeat = 32, 4, 4, 20, 1
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"# taming-lite sampling benchmark, {time.strftime('%Y-%m-%d')}")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, capability {torch.backends.cpu.get_cpu_capability()}")
    bw, flops = machine_bounds()
    print(f"measured: memory bandwidth {bw:.1f} GB/s (copy), fp32 matmul {flops:.0f} GFLOP/s (2048^3)")

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=1024, block_size=512, n_layer=8, n_head=8, n_embd=512)).eval()
    orig = OriginalGPT.from_ours(gpt)
    gpt_int8 = quantize_int8(copy.deepcopy(gpt)) if args.int8 else None  # int8 weight-only linears
    print(f"GPT: 8 layers x 512 x 8 heads, vocab 1024, {num_params(gpt) / 1e6:.1f} M parameters, "
          f"{args.steps} new tokens after 256 conditioning tokens, top-k 100, fp32")

    if "samplers" not in args.skip:
        rows = bench_samplers(args, gpt, gpt_int8, orig, bw, flops)
        print("\n| batch | sampler | tokens/s | x (a) | x (b) | of bound | bound |")
        print("|---|---|---|---|---|---|---|")
        for B, name, tps, xa, xb, frac, kind in rows:
            print(f"| {B} | {name} | {tps:.1f} | {xa:.1f} | {xb:.2f} | {frac:.0%} | {kind} |")
        note = "all tokens" if args.full else f"{args.a_tokens} tokens at the mean sequence length"
        print(f"(a) timed on {note}; (b), (c) on all {args.steps} tokens.")

    if "window" not in args.skip:
        n, t_orig, ours, n_orig = bench_sliding(args, gpt, gpt_int8, orig)
        print(f"\nSliding window, {args.grid}x{args.grid} tokens, 16x16 window, 256 conditioning tokens per window:")
        print("| scheme | seconds | tokens/s | speed-up |")
        print("|---|---|---|---|")
        print(f"| original, one full-window forward per token | {t_orig:.1f} | {n / t_orig:.1f} | 1.0 |")
        for name, t_ours in ours.items():
            print(f"| {name} | {t_ours:.1f} | {n / t_ours:.1f} | {t_orig / t_ours:.1f} |")
        if n_orig < n:
            print(f"(original timed on {n_orig} tokens; every token costs the same full-window forward)")

    if "vqgan" not in args.skip:
        rows, same = bench_vqgan(args)
        print("\nVQGAN f16 (official config, ch 128, ch_mult 1,1,2,2,4), one 256x256 image:")
        print("| attention | encode s | decode s |")
        print("|---|---|---|")
        for name, te, td, _, _ in rows:
            print(f"| {name} | {te:.2f} | {td:.2f} |")
        print(f"same indices and decodings (atol 1e-3): {same}")


if __name__ == "__main__":
    main()
