"""Int8 weight-only sampling vs fp32 on the shipped trained models (weights/depth, weights/completion).

    python -m benchmarks.int8_agreement

For 4 seeds: fp32 samples a sequence (top-k 100) after a condition (depth: a depth ramp through the
model's condition VQGAN; completion: a random start token); then, for int8 (`aten._weight_int8pack_mm`,
bf16 activations and scales, an fp32 KV cache: the only int8 path since the C kernels went, 2026-12-04):
how often the int8 model's argmax equals fp32's along that sequence (one cached step at a time), and
how many tokens of a free-running greedy sequence equal fp32's greedy ones.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from benchmarks.released_cpu import forced_argmax
from taming_lite.quantize import quantize_int8
from taming_lite.sampling import sample_tokens
from taming_lite.pipeline import Pipeline


@torch.no_grad()
def agreement(task: str, seeds: int = 4) -> tuple[int, list[float]]:
    pipe = Pipeline.from_pretrained(f"weights/{task}", device="cpu")
    gpt = pipe.model.transformer
    rows = []
    for seed in range(seeds):
        if task == "depth":
            S = pipe.image_size
            depth = np.tile(np.linspace(0, 1, S, dtype=np.float32)[:, None], (1, S)) ** (1 + seed)
            prefix = pipe.prepare(depth, (S, S)).cond.reshape(1, -1)
        else:
            prefix = torch.randint(0, gpt.config.vocab_size, (1, 1), generator=torch.Generator().manual_seed(seed))
        P = prefix.shape[1]
        n = min(256, gpt.config.block_size - P + 1)
        seq = sample_tokens(gpt, prefix, n, top_k=100, generator=torch.Generator().manual_seed(seed))
        ref, greedy = forced_argmax(gpt, seq, P), sample_tokens(gpt, prefix, n, sample=False)[:, P:]
        q = quantize_int8(copy.deepcopy(gpt))
        rows.append([(forced_argmax(q, seq, P) == ref).float().mean().item(),
                     (sample_tokens(q, prefix, n, sample=False)[:, P:] == greedy).float().mean().item()])
    return n, list(np.mean(rows, 0))


def main():
    print("| shipped model, int8 vs fp32 | tokens x seeds | argmax along fp32's samples | free greedy |")
    print("|---|---|---|---|")
    for task in ("depth", "completion"):
        n, (a, b) = agreement(task)
        print(f"| {task} | {n} x 4 | {a:.1%} | {b:.1%} |", flush=True)


if __name__ == "__main__":
    main()
