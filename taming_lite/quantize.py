"""Int8 weight-only quantization of the transformer's linear layers, for faster CPU sampling.

    from taming_lite.quantize import quantize_int8
    quantize_int8(model.transformer)     # in place; model.sample(...) as before

Sampling one token at a time reads every weight once per token, so on a CPU its speed is set by
memory traffic. Int8 weights are a quarter of fp32: each `nn.Linear` in the GPT blocks and the head
becomes an `Int8Linear` holding int8 weights with one scale per output channel (symmetric,
scale = max |w| / 127). Few rows at a time (a sampling step) go through PyTorch's int8
weight-only kernel (`aten._weight_int8pack_mm`, bf16 activations); many rows (a prefill, training
shapes) through an fp32 matmul with the dequantized weights, which is compute-bound anyway.
Embeddings, layer norms and biases stay fp32. This changes the numbers: measured agreement of
greedy tokens with fp32 is reported by `benchmarks/sampling.py --int8` and tests/test_quantize.py.
Inference only; a quantized model is not saved by `save_pretrained`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SMALL_BATCH_ROWS = 16  # up to this many rows use the int8 kernel, more use dequantized fp32


class Int8Linear(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()  # (out, in)
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
                                               self.weight_int8, self.scale_bf16).to(x.dtype)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def quantize_int8(module: nn.Module) -> nn.Module:
    """Replace every nn.Linear inside `module` by an Int8Linear, in place; returns the module."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child))
        else:
            quantize_int8(child)
    return module


def is_quantized(module: nn.Module) -> bool:
    return any(isinstance(m, Int8Linear) for m in module.modules())
