"""The one-token decode step (GPT.decode_one) and the C kernels behind it (taming_lite.cpu_kernels):
the same tokens as the general cached path and the uncached forward in fp32, kernels that match
their references, bf16 / int8 steps that run and mostly agree, and the switch that turns them off."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from taming_lite import cpu_kernels
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.quantize import quantize_int8
from taming_lite.sampling import sample_tokens

needs_kernels = pytest.mark.skipif(not cpu_kernels.available(), reason="no AVX-512 VNNI CPU or no C compiler here")


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


@pytest.mark.parametrize("kernels", ["1", "0"])
@pytest.mark.parametrize("batch", [1, 3])
def test_decode_step_gives_the_tokens_of_the_general_path_in_fp32(monkeypatch, kernels, batch):
    monkeypatch.setenv("TAMING_LITE_CPU_KERNELS", kernels)
    gpt = tiny_gpt()
    prefix = torch.randint(0, 48, (batch, 10), generator=torch.Generator().manual_seed(1))
    new, old = run(gpt, prefix, True), run(gpt, prefix, False)
    assert torch.equal(new, old)
    assert torch.equal(new, sample_tokens(gpt, prefix, 60, top_k=20, generator=torch.Generator().manual_seed(5),
                                          use_cache=False))
    assert torch.equal(run(gpt, prefix, True, sample=False), run(gpt, prefix, False, sample=False))


@pytest.mark.parametrize("kernels", ["1", "0"])
def test_decode_step_logits_match_the_general_path(monkeypatch, kernels):
    """Without the C kernels the decode step is the general path's arithmetic exactly; with them, to fp32 rounding."""
    monkeypatch.setenv("TAMING_LITE_CPU_KERNELS", kernels)
    gpt = tiny_gpt(n_embd=64, n_head=4)
    x = torch.randint(0, 48, (2, 40))
    out = {}
    for fast in (True, False):
        gpt.fast_decode = fast
        cache = gpt.new_cache(2, 40)
        out[fast] = [gpt.forward_cached(x[:, :8], cache, 0)] + [gpt.forward_cached(x[:, p : p + 1], cache, p)
                                                               for p in range(8, 39)]
    gpt.fast_decode = True
    torch.testing.assert_close(torch.stack(out[True]), torch.stack(out[False]), rtol=1e-5, atol=1e-5)
    if kernels == "0":
        assert torch.equal(torch.stack(out[True]), torch.stack(out[False]))
    cache = gpt.new_cache(2, 40)
    gpt.forward_cached(x[:, :8], cache, 0)
    assert gpt.forward_cached(x[:, 8:9], cache, 8, last_only=False).shape == (2, 1, 48)


@needs_kernels
@pytest.mark.parametrize("M,K,N", [(1, 32, 96), (2, 1024, 3072), (3, 100, 37), (16, 200, 8)])
def test_int8_linear_kernel_matches_the_dequantized_weights(M, K, N):
    torch.manual_seed(0)
    w = torch.randn(N, K) * 0.02
    scale = w.abs().amax(1) / 127
    wq = torch.round(w / scale[:, None]).to(torch.int8)
    x, bias = torch.randn(M, K) * 3, torch.randn(N)
    y = cpu_kernels.int8_linear(x, wq, wq.sum(1, dtype=torch.int32), scale, bias)
    ref = x.double() @ (wq.double() * scale.double()[:, None]).T + bias.double()
    assert ((y.double() - ref).norm() / ref.norm()) < 1e-4  # 16-bit activations: ~2e-5 measured
    torch.testing.assert_close(cpu_kernels.int8_linear(x, wq, wq.sum(1, dtype=torch.int32), scale, None) + bias, y)


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("B,nh,hs,pos,max_len", [(1, 16, 64, 384, 511), (2, 2, 16, 0, 40), (3, 4, 32, 16, 17),
                                                 (2, 3, 256, 32, 50)])
def test_decode_attention_kernel_writes_the_cache_and_matches_sdpa(dtype, B, nh, hs, pos, max_len):
    torch.manual_seed(0)
    k, v = (torch.randn(B, nh, max_len, hs) * 2).to(dtype), torch.randn(B, nh, max_len, hs).to(dtype)
    qkv = torch.randn(B, 3 * nh * hs)
    assert cpu_kernels.attention_fits(qkv, k, nh)
    want_k, want_v = k.clone(), v.clone()
    q, kn, vn = qkv.view(B, 3, nh, hs).unbind(1)
    want_k[:, :, pos], want_v[:, :, pos] = kn, vn  # the cache as the general path writes it
    y = cpu_kernels.decode_attention(qkv, k, v, pos)
    assert torch.equal(k, want_k) and torch.equal(v, want_v)
    L = pos + 1
    ref = F.scaled_dot_product_attention(q[:, :, None].double(), k[:, :, :L].double(), v[:, :, :L].double())
    torch.testing.assert_close(y.double(), ref.reshape(B, -1), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not cpu_kernels.bf16_available(), reason="no AVX512_BF16 CPU or no C compiler here")
@pytest.mark.parametrize("M,K,N", [(1, 32, 96), (2, 1024, 768), (3, 100, 37)])
def test_bf16_linear_kernel_equals_torch(M, K, N):
    torch.manual_seed(0)
    x, w, b = torch.randn(M, K).bfloat16(), (torch.randn(N, K) * 0.02).bfloat16(), torch.randn(N).bfloat16()
    y = cpu_kernels.bf16_linear(x, w, b)
    assert y.dtype == torch.bfloat16
    ref = (x.double() @ w.double().T + b.double())
    assert ((y.double() - ref).norm() / ref.norm()) < 4e-3  # rounded once to bf16
    assert (y == F.linear(x, w, b)).float().mean() > 0.95  # measured: all equal


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
        assert model.new_cache(1, 8).k.dtype == (torch.bfloat16 if cpu_kernels.available() else torch.float32)
    seq = torch.randint(0, 48, (4, 64), generator=torch.Generator().manual_seed(2))
    agree = teacher_forced_agreement(model, gpt, seq, 8)
    assert agree >= (0.8 if mode == "bf16" else 0.9), agree
    out = sample_tokens(model, seq[:, :8], 20, top_k=20, generator=torch.Generator().manual_seed(3))
    assert out.shape == (4, 28) and torch.equal(out, sample_tokens(model, seq[:, :8], 20, top_k=20,
                                                                   generator=torch.Generator().manual_seed(3)))


def test_kernels_turn_off_by_environment(monkeypatch):
    monkeypatch.setenv("TAMING_LITE_CPU_KERNELS", "0")
    assert not cpu_kernels.available() and not cpu_kernels.bf16_available()
    q = quantize_int8(tiny_gpt())
    assert q.kv_dtype is None  # fp32 cache where the C attention does not read it
    out = sample_tokens(q, torch.zeros(2, 4, dtype=torch.long), 10, sample=False)
    assert out.shape == (2, 14)
