"""One place that chooses where models run: CUDA, then Apple MPS, then CPU.

Override with an argument ("cpu", "cuda", "cuda:1", "mps", "auto") or the environment variable
TAMING_LITE_DEVICE. Reduced precision (fp16/bf16 autocast, fp16 weights by default) is used only on CUDA.
"""

from __future__ import annotations

import contextlib
import os

import torch

ENV_VAR = "TAMING_LITE_DEVICE"


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """Resolve a device: explicit name > $TAMING_LITE_DEVICE > CUDA > MPS > CPU.
    An explicit device that is not available raises ValueError saying what is."""
    if isinstance(name, torch.device):
        return name
    name = (name or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist; {torch.cuda.device_count()} CUDA device(s) available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but MPS is not available here; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda' or 'mps'")
    return dev


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for a device: None (fp32) off CUDA; bf16 where supported, else fp16."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision in ("bf16", "auto"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    raise ValueError(f"unknown precision {precision!r}; use 'auto', 'fp32', 'fp16' or 'bf16'")


def autocast(device: torch.device, precision: str = "auto"):
    """Context manager: autocast on CUDA, a no-op elsewhere (CPU and MPS run in fp32)."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (sampling is memory-bound), fp32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32
