"""Int8 weight-only quantization (taming_lite.quantize): close to fp32, every linear replaced,
sampling still works and is deterministic, and the measured greedy agreement on the fixtures."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from safetensors.torch import load_file

from taming_lite import load_original
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.quantize import SMALL_BATCH_ROWS, Int8Linear, is_quantized, quantize_int8
from taming_lite.sampling import sample_tokens


@pytest.mark.parametrize("rows", [1, 4, SMALL_BATCH_ROWS + 1, 64])  # int8 kernel and dequantized paths
def test_int8_linear_is_close_to_fp32(rows):
    torch.manual_seed(0)
    lin = nn.Linear(96, 160)
    q = Int8Linear(lin)
    x = torch.randn(2, rows, 96)
    ref, out = lin(x), q(x)
    assert out.shape == ref.shape and out.dtype == torch.float32
    rel = (out - ref).norm() / ref.norm()
    assert rel < 0.02, rel  # int8 weights (and bf16 activations on the small-batch path)
    assert q.weight_int8.dtype == torch.int8 and q.weight_int8.abs().max() <= 127


def test_dequantized_path_is_exact_in_its_own_terms():
    torch.manual_seed(1)
    lin = nn.Linear(32, 48)
    q = Int8Linear(lin)
    x = torch.randn(SMALL_BATCH_ROWS + 3, 32)
    torch.testing.assert_close(q(x), x @ q.dequantized().T + lin.bias, rtol=1e-5, atol=1e-5)


def test_quantize_replaces_every_linear_and_keeps_the_rest():
    gpt = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    q = quantize_int8(copy.deepcopy(gpt))
    assert is_quantized(q) and not is_quantized(gpt)
    assert not any(isinstance(m, nn.Linear) for m in q.modules())
    assert sum(isinstance(m, Int8Linear) for m in q.modules()) == 2 * 4 + 1  # qkv fused, proj, fc, fc2; head
    assert all(b.attn.qkv.out_features == 3 * 32 and not hasattr(b.attn, "query") for b in q.blocks)
    assert torch.equal(q.tok_emb.weight, gpt.tok_emb.weight) and torch.equal(q.pos_emb, gpt.pos_emb)
    x = torch.randint(0, 64, (2, 20))
    a, b = gpt(x)[0], q(x)[0]
    cos = torch.nn.functional.cosine_similarity(a.flatten(1), b.flatten(1))
    assert (cos > 0.999).all()


def test_fused_qkv_computes_the_three_quantized_projections():
    """Stacking query | key | value rows before quantizing gives the same int8 numbers and scales
    (one scale per output row), so the fused layer equals the three quantized separately."""
    torch.manual_seed(3)
    attn = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=32)).blocks[0].attn
    separate = [Int8Linear(m) for m in (attn.query, attn.key, attn.value)]
    holder = nn.Sequential(attn)  # quantize_int8 fuses the attention modules among a module's children
    quantize_int8(holder)
    fused = holder[0].qkv
    for rows in (1, SMALL_BATCH_ROWS + 1):
        x = torch.randn(rows, 32)
        torch.testing.assert_close(fused(x), torch.cat([m(x) for m in separate], -1), rtol=0, atol=0)


def test_quantized_layers_stay_on_the_models_device():
    """The fused qkv is built where the model lives (here the meta device stands in for a GPU)."""
    gpt = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=32)).to("meta")
    q = quantize_int8(gpt)
    assert {t.device.type for t in list(q.parameters()) + list(q.buffers())} == {"meta"}


def test_quantized_sampling_is_deterministic_by_seed():
    torch.manual_seed(2)
    q = quantize_int8(GPT(GPTConfig(vocab_size=64, block_size=48, n_layer=2, n_head=2, n_embd=32)).eval())
    prefix = torch.randint(0, 64, (3, 8))
    a = sample_tokens(q, prefix, 30, top_k=20, generator=torch.Generator().manual_seed(5))
    b = sample_tokens(q, prefix, 30, top_k=20, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (3, 38)


@torch.no_grad()
def test_greedy_agreement_on_the_reference_fixture(reference_dir):
    """The stated agreement: on the original implementation's conditional fixture (a random-init
    model, so its logits are flatter than a trained model's), the int8 model's next-token argmax
    agrees with the original greedy sequence for >= 90% of positions (measured 94%); the shipped
    trained models measure 96-97% (docs/BENCHMARKS.md)."""
    m = load_original(reference_dir / "net2net.yaml", reference_dir / "net2net.ckpt")
    d = load_file(reference_dir / "net2net_io.safetensors")
    _, ci = m.encode_to_c(d["c"])
    greedy = d["greedy_lower_half"]  # (B, 256) the given upper half + 128 greedy tokens
    q = quantize_int8(copy.deepcopy(m.transformer))
    seq = torch.cat((ci, greedy), 1)
    start = ci.shape[1] + 128  # predict the greedy tokens one cached step at a time, as sampling does
    cache = q.new_cache(seq.shape[0], seq.shape[1])
    preds = [q.forward_cached(seq[:, :start], cache, 0)]
    preds += [q.forward_cached(seq[:, p : p + 1], cache, p) for p in range(start, seq.shape[1] - 1)]
    agree = (torch.stack(preds, 1).argmax(-1) == greedy[:, 128:]).float().mean().item()
    print(f'int8 teacher-forced greedy agreement on the fixture: {agree:.3f}')
    assert agree >= 0.90, agree


def test_int8_by_default_for_released_size_gpts_on_the_cpu():
    from taming_lite.quantize import INT8_DEFAULT_PARAMS, int8_by_default, precision

    with torch.device("meta"):  # the released D-RIN size without allocating it
        big = GPT(GPTConfig(vocab_size=1024, block_size=512, n_layer=24, n_head=16, n_embd=1024))
    small = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32))
    assert sum(p.numel() for p in big.parameters()) > INT8_DEFAULT_PARAMS
    assert int8_by_default(big, "cpu") and not int8_by_default(big, "cuda") and not int8_by_default(small, "cpu")
    assert precision(small) == "float32" and precision(quantize_int8(small)) == "int8 weights"
    assert not int8_by_default(small, "cpu")  # already quantized
