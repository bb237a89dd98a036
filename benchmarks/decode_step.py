"""Where one int8 decode step of a released-size GPT (24 x 1024, 16 heads; random weights) spends its time
on the CPU: the linears, the attention over the KV cache and the whole step, each way measured in the same
run, interleaved (min of --reps; a shared machine's noise moves every row alike).

    python -m benchmarks.decode_step                 # position 384 (the mean length of a 16x16 image after 256)
    python -m benchmarks.decode_step --torchao DIR   # also torchao's Int8WeightOnlyConfig (eager), importable from DIR

Linears (one step's 24 x (qkv, proj, fc, fc2) + head, int8 weights, one row): `aten._weight_int8pack_mm`
(bf16 activations and scales; the torch-native default), the C `int8_linear` (opt-in cpu_kernels), torchao's
int8 weight-only (eager: int8 -> fp32 weights each call, then a matmul). Attention (24 layers, one query):
SDPA over an fp32 cache, SDPA in bf16 over a bf16 cache, the C kernel over either. Steps: GPT.decode_one
torch-native (fp32 cache, bf16 cache), with the C kernels (bf16 cache), and the general cached forward.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F

try:  # the opt-in C kernels, measured on 2026-12-04 (commit 06e9446) and then removed
    from taming_lite import cpu_kernels
except ImportError:
    cpu_kernels = None
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.quantize import Int8Linear, quantize_int8


def best(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


@torch.no_grad()
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pos", type=int, default=384)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each row: min over all)")
    p.add_argument("--torchao", default=None, help="a folder torchao imports from (pip install --target DIR torchao)")
    p.add_argument("--layers", type=int, default=24)
    args = p.parse_args()
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=1024, block_size=512, n_layer=args.layers, n_head=16, n_embd=1024)
    gpt = GPT(cfg).eval()
    q8 = quantize_int8(copy.deepcopy(gpt))
    lins = [m for m in q8.modules() if isinstance(m, Int8Linear)]
    for m in lins:  # the C kernel's extra input
        m.rowsum = m.weight_int8.sum(1, dtype=torch.int32)
    x_of = {id(m): torch.randn(1, m.in_features) for m in lins}
    nh, hs, L = cfg.n_head, cfg.n_embd // cfg.n_head, args.pos
    caches = {dt: (torch.randn(cfg.n_layer, 1, nh, 511, hs).to(dt), torch.randn(cfg.n_layer, 1, nh, 511, hs).to(dt))
              for dt in (torch.float32, torch.bfloat16)}
    qkv = torch.randn(1, 3 * cfg.n_embd)

    def lin_aten():
        for m in lins:
            torch.ops.aten._weight_int8pack_mm(x_of[id(m)].to(torch.bfloat16), m.weight_int8, m.scale_bf16)

    def lin_c():
        for m in lins:
            cpu_kernels.int8_linear(x_of[id(m)], m.weight_int8, m.rowsum, m.scale, m.bias)

    def attn_sdpa(dt):
        k, v = caches[dt]
        q = qkv[:, : cfg.n_embd].view(1, nh, 1, hs).to(dt)
        for i in range(cfg.n_layer):
            F.scaled_dot_product_attention(q, k[i, :, :, : L + 1], v[i, :, :, : L + 1])

    def attn_c(dt):
        k, v = caches[dt]
        for i in range(cfg.n_layer):
            cpu_kernels.decode_attention(qkv, k[i], v[i], L)

    prefix = torch.randint(0, 1024, (1, L))

    def stepper(model, kv_dtype, kernels: bool, fast=True):
        model.kv_dtype = kv_dtype
        cache = model.new_cache(1, 511)
        os.environ["TAMING_LITE_CPU_KERNELS"] = "1" if kernels else "0"
        model.fast_decode = fast
        model.forward_cached(prefix, cache, 0)
        tok = torch.zeros(1, 1, dtype=torch.long)

        def step():
            os.environ["TAMING_LITE_CPU_KERNELS"] = "1" if kernels else "0"
            model.fast_decode = fast
            model.forward_cached(tok, cache, L)
        return step

    rows = {
        "linears: aten._weight_int8pack_mm (torch-native)": lin_aten,
        "attention: SDPA, fp32 cache": lambda: attn_sdpa(torch.float32),
        "attention: SDPA in bf16, bf16 cache": lambda: attn_sdpa(torch.bfloat16),
        "step: general cached forward, fp32 cache (before)": stepper(q8, None, False, fast=False),
        "step: decode_one torch-native, fp32 cache": stepper(q8, None, False),
        "step: decode_one torch-native, bf16 cache": stepper(q8, torch.bfloat16, False),
    }
    if cpu_kernels is not None and cpu_kernels.available():
        rows["linears: C int8_linear (opt-in)"] = lin_c
        rows["attention: C, fp32 cache"] = lambda: attn_c(torch.float32)
        rows["attention: C, bf16 cache"] = lambda: attn_c(torch.bfloat16)
        rows["step: decode_one with C kernels, bf16 cache"] = stepper(q8, torch.bfloat16, True)
    if args.torchao:
        sys.path.insert(0, args.torchao)
        import torchao
        from torchao.quantization import Int8WeightOnlyConfig, quantize_

        ao = copy.deepcopy(gpt)
        quantize_(ao, Int8WeightOnlyConfig())
        ao_lins = [m for m in ao.modules() if isinstance(m, torch.nn.Linear)]
        xs = {id(m): torch.randn(1, m.in_features) for m in ao_lins}
        rows[f"linears: torchao {torchao.__version__} Int8WeightOnlyConfig, eager"] = lambda: [m(xs[id(m)]) for m in ao_lins]
        rows["step: torchao int8 weight-only, decode_one, fp32 cache"] = stepper(ao, None, False)
    del gpt
    res = {k: float("inf") for k in rows}
    for _ in range(args.rounds):
        for name, fn in rows.items():
            res[name] = min(res[name], best(fn, args.reps))
    os.environ.pop("TAMING_LITE_CPU_KERNELS", None)
    print(f"\n{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {torch.get_num_threads()} threads, "
          f"{cfg.n_layer} x {cfg.n_embd}, position {L}, load average {os.getloadavg()}")
    print("| int8 decode step, one token | ms (min) |\n|---|---|")
    for name, ms in res.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
