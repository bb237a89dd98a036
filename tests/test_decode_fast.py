"""The one-token decode step (GPT.decode_one): the same logits and tokens as the general cached path and
the uncached forward in fp32, bf16 / int8 steps that run and mostly agree with fp32, and pinned tokens
for a fixed seed (the default path is PyTorch ops only, with nothing chosen by the CPU's features)."""

from __future__ import annotations

import copy

import pytest
import torch

from taming_lite.gpt import GPT, GPTConfig
from taming_lite.quantize import quantize_int8
from taming_lite.sampling import sample_tokens


def tiny_gpt(seed=0, n_embd=32, n_head=2, block_size=96, vocab=48):
    torch.manual_seed(seed)
    gpt = GPT(GPTConfig(vocab_size=vocab, block_size=block_size, n_layer=2, n_head=n_head, n_embd=n_embd)).eval()
    with torch.no_grad():  # spread-out logits, as in test_sampling
        for p in gpt.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return gpt


def run(gpt, prefix, fast: bool, steps=60, **kw):
    gpt.fast_decode = fast
    try:
        return sample_tokens(gpt, prefix, steps, top_k=20, generator=torch.Generator().manual_seed(5), **kw)
    finally:
        gpt.fast_decode = True


@pytest.mark.parametrize("batch", [1, 3])
def test_decode_step_gives_the_tokens_of_the_general_path_in_fp32(batch):
    gpt = tiny_gpt()
    prefix = torch.randint(0, 48, (batch, 10), generator=torch.Generator().manual_seed(1))
    new, old = run(gpt, prefix, True), run(gpt, prefix, False)
    assert torch.equal(new, old)
    assert torch.equal(new, sample_tokens(gpt, prefix, 60, top_k=20, generator=torch.Generator().manual_seed(5),
                                          use_cache=False))
    assert torch.equal(run(gpt, prefix, True, sample=False), run(gpt, prefix, False, sample=False))


def test_decode_step_logits_match_the_general_path():
    """In fp32 the decode step is the general path's arithmetic exactly."""
    gpt = tiny_gpt(n_embd=64, n_head=4)
    x = torch.randint(0, 48, (2, 40))
    out = {}
    for fast in (True, False):
        gpt.fast_decode = fast
        cache = gpt.new_cache(2, 40)
        out[fast] = [gpt.forward_cached(x[:, :8], cache, 0)] + [gpt.forward_cached(x[:, p : p + 1], cache, p)
                                                               for p in range(8, 39)]
    gpt.fast_decode = True
    assert torch.equal(torch.stack(out[True]), torch.stack(out[False]))
    cache = gpt.new_cache(2, 40)
    gpt.forward_cached(x[:, :8], cache, 0)
    assert gpt.forward_cached(x[:, 8:9], cache, 8, last_only=False).shape == (2, 1, 48)


def teacher_forced_agreement(model, ref, seq, start):
    """How often model's next-token argmax equals ref's, one cached step at a time from `start`."""
    preds = {}
    for name, g in (("model", model), ("ref", ref)):
        cache = g.new_cache(seq.shape[0], seq.shape[1])
        out = [g.forward_cached(seq[:, :start], cache, 0)]
        out += [g.forward_cached(seq[:, p : p + 1], cache, p) for p in range(start, seq.shape[1] - 1)]
        preds[name] = torch.stack(out, 1).argmax(-1)
    return (preds["model"] == preds["ref"]).float().mean().item()


@pytest.mark.parametrize("mode", ["bf16", "int8"])
def test_bf16_and_int8_steps_run_and_mostly_agree_with_fp32(mode):
    gpt = tiny_gpt(n_embd=64, n_head=4)
    model = copy.deepcopy(gpt)
    model = model.bfloat16() if mode == "bf16" else quantize_int8(model)
    if mode == "int8":
        assert model.new_cache(1, 8).k.dtype == torch.float32  # on every host
    seq = torch.randint(0, 48, (4, 64), generator=torch.Generator().manual_seed(2))
    agree = teacher_forced_agreement(model, gpt, seq, 8)
    assert agree >= (0.8 if mode == "bf16" else 0.9), agree
    out = sample_tokens(model, seq[:, :8], 20, top_k=20, generator=torch.Generator().manual_seed(3))
    assert out.shape == (4, 28) and torch.equal(out, sample_tokens(model, seq[:, :8], 20, top_k=20,
                                                                   generator=torch.Generator().manual_seed(3)))


# Tokens of tiny_gpt() after PREFIX, seed 5, top-k 20, by the default decode path (computed 2026-12-04 on an
# AMD EPYC with AVX-512, torch 2.14.1). The path has no branch on CPU features (no bf16 cache or kernel chosen
# by the host), so any CPU should give these; a mismatch elsewhere would come from PyTorch's own kernels.
PREFIX = [[3, 14, 15, 9, 26, 5]]
PINNED_FP32 = [31, 8, 41, 37, 42, 8, 8, 25, 3, 45, 19, 18, 3, 22, 20, 18, 44, 25, 6, 41, 19, 8, 3, 42]
PINNED_INT8 = [31, 8, 41, 37, 42, 8, 8, 25, 3, 45, 18, 21, 8, 20, 27, 42, 44, 16, 4, 42, 20, 8, 2, 26]
PINNED = {"fp32": PINNED_FP32, "int8": PINNED_INT8}


@pytest.mark.parametrize("mode", ["fp32", "int8"])
def test_same_seed_gives_the_pinned_tokens(mode):
    gpt = tiny_gpt()
    model = gpt if mode == "fp32" else quantize_int8(copy.deepcopy(gpt))
    out = sample_tokens(model, torch.tensor(PREFIX), 24, top_k=20, generator=torch.Generator().manual_seed(5))
    assert out[0, len(PREFIX[0]):].tolist() == PINNED[mode]
