"""Int8 weight-only quantization of the transformer's linear layers, for faster CPU sampling.

    from taming_lite.quantize import quantize_int8
    quantize_int8(model.transformer)     # in place; model.sample(...) as before

Sampling one token at a time reads every weight once per token, so on a CPU its speed is set by
memory traffic. Int8 weights are a quarter of fp32: each `nn.Linear` in the GPT blocks and the head
becomes an `Int8Linear` holding int8 weights with one scale per output channel (symmetric,
scale = max |w| / 127). On a CPU few rows at a time (a sampling step) go through PyTorch's int8
weight-only kernel, `aten._weight_int8pack_mm` (bf16 activations and scales; on the released size it
ran within 8 % of a hand-written VNNI kernel, docs/CHANGELOG.md 2026-12-02; torchao's eager int8 weight-only
path, which converts the weights to floating point on every call, was several times slower: docs/BENCHMARKS.md); many rows (a
prefill, training shapes) and other devices go through a matmul with the dequantized weights. The KV
cache stays fp32 (SDPA reads an fp32 cache faster than a bf16 one on the CPUs measured). PyTorch ops
only: the same path on every CPU.
The three attention projections (query, key, value) become one fused Int8Linear (`attn.qkv`, their
rows stacked: the same int8 numbers and scales, one kernel call instead of three). Embeddings, layer
norms and biases stay fp32. This changes the numbers: measured agreement of greedy tokens with fp32
is reported by `benchmarks/int8_agreement.py`, `benchmarks/released_cpu.py` and tests/test_quantize.py.
Inference only; a quantized model is not saved by `save_pretrained`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gpt import CausalSelfAttention, num_params

SMALL_BATCH_ROWS = 16  # up to this many rows use the int8 kernel, more use dequantized fp32
INT8_DEFAULT_PARAMS = 50_000_000  # the app samples GPTs at least this large with int8 weights on the CPU


class Int8Linear(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()  # (out, in); per output channel, so stacking rows commutes
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0  # (out,)
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        self.register_buffer("scale_bf16", scale.to(torch.bfloat16))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().float(), requires_grad=False)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def dequantized(self) -> torch.Tensor:
        return self.weight_int8.float() * self.scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if x.device.type != "cpu" or rows > SMALL_BATCH_ROWS:
            return F.linear(x, self.dequantized().to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))
        y = torch.ops.aten._weight_int8pack_mm(x.reshape(rows, self.in_features).to(torch.bfloat16),
                                               self.weight_int8, self.scale_bf16)  # (rows, out) bf16
        y = y.to(x.dtype) if self.bias is None else torch.add(self.bias, y)  # fp32 bias + bf16 -> fp32, one op
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def quantize_int8(module: nn.Module) -> nn.Module:
    """Replace every nn.Linear inside `module` by an Int8Linear, in place, and fuse each attention's
    query, key and value into one (`attn.qkv`). Returns the module."""
    for name, child in list(module.named_children()):
        if isinstance(child, CausalSelfAttention) and child.qkv is None:
            child.qkv = Int8Linear(_stacked(child.query, child.key, child.value))
            del child.query, child.key, child.value
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child))
        else:
            quantize_int8(child)
    return module


def _stacked(*linears: nn.Linear) -> nn.Linear:
    """One nn.Linear computing the given ones side by side (their outputs concatenated)."""
    w = linears[0].weight  # the fused layer lives where the model does (CPU, CUDA, ...)
    out = nn.Linear(linears[0].in_features, sum(m.out_features for m in linears), device=w.device, dtype=w.dtype)
    with torch.no_grad():
        out.weight.copy_(torch.cat([m.weight for m in linears]))
        out.bias.copy_(torch.cat([m.bias if m.bias is not None else w.new_zeros(m.out_features) for m in linears]))
    return out


def is_quantized(module: nn.Module) -> bool:
    return any(isinstance(m, Int8Linear) for m in module.modules())


def int8_by_default(gpt: nn.Module, device) -> bool:
    """The app's default: int8 weight-only linears for released-size GPTs (>= INT8_DEFAULT_PARAMS
    parameters; the paper's are 300 M - 1.4 B) on the CPU, where a sampling step is bound by reading
    the weights. The embedded models (~2 M parameters) stay fp32, as do GPUs."""
    return torch.device(device).type == "cpu" and not is_quantized(gpt) and num_params(gpt) >= INT8_DEFAULT_PARAMS


def precision(gpt: nn.Module) -> str:
    """How a status line names a GPT's arithmetic: "int8 weights" if quantized, else its dtype ("float32")."""
    if is_quantized(gpt):
        return "int8 weights"
    return str(next(gpt.parameters()).dtype).removeprefix("torch.")
