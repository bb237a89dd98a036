"""The sampling step's two memory-bound kernels for x86 CPUs with AVX-512 VNNI, in C (cpu_kernels.c).

    from taming_lite import cpu_kernels
    cpu_kernels.available()          # False: no such CPU, no C compiler, or TAMING_LITE_CPU_KERNELS=0
    y = cpu_kernels.int8_linear(x, weight_int8, rowsum, scale, bias)   # x (M, K) fp32 -> (M, N) fp32
    y = cpu_kernels.decode_attention(qkv, k, v, pos)   # one token's (B, 3C) against a KVCache layer -> (B, C)

One token of a released-size GPT reads all its weights once (302 MB in int8 for 24 x 1024) and the KV
cache once; everything else is small. PyTorch's int8 weight-only kernel converts every weight to fp32
before multiplying (about 17 GB/s per core here, below what memory delivers), and its attention for one
query (SDPA) reads an fp32 cache at a third of the memory's speed and a bf16 one far slower. The C
versions: `int8_linear` quantizes each row of x to 16 bits (more exact than the bf16 activations and
scales of `aten._weight_int8pack_mm`) and multiplies the int8 weights as stored with VNNI integer dot
products, exact in integers; `decode_attention` reads keys and values in one pass each, fp32 or bf16.

The library is compiled once with the system's C compiler (`cc`, about a second), cached under
~/.cache/taming_lite/kernels (TAMING_LITE_KERNELS_DIR), and loaded with ctypes; no PyTorch headers.
Where anything is missing, `available()` is False and the callers use their PyTorch path, so the
project runs anywhere; `TAMING_LITE_CPU_KERNELS=0` turns the kernels off (e.g. to compare).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("cpu_kernels.c")
FLAGS = ["-O3", "-fopenmp", "-mavx512f", "-mavx512bw", "-mavx512vnni", "-shared", "-fPIC"]
CPU_FLAGS = {"avx512f", "avx512bw", "avx512_vnni"}  # and avx512_bf16 for bf16_linear
MAX_HEAD = 256  # decode_attention's largest head size (a multiple of 16)

_lib: ctypes.CDLL | None = None
_tried = False
_lock = threading.Lock()
_P, _I, _F, _C = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> frozenset[str]:
    if platform.machine() not in ("x86_64", "AMD64"):
        return frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))


def cpu_supported() -> bool:
    return CPU_FLAGS <= _cpu_flags()


def _build() -> Path:
    """The compiled library for this source and these flags (built once, then reused)."""
    tag = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    folder = Path(os.environ.get("TAMING_LITE_KERNELS_DIR", Path.home() / ".cache" / "taming_lite" / "kernels"))
    lib = folder / f"cpu_kernels_{tag}.so"
    if lib.is_file():
        return lib
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc or gcc) found")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".so", delete=False) as tmp:
        pass
    try:
        subprocess.run([cc, *FLAGS, str(SOURCE), "-o", tmp.name, "-lm"], check=True, capture_output=True, text=True)
        os.replace(tmp.name, lib)  # atomic: another process building the same file at once is harmless
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"{cc} failed: {e.stderr.strip()[:500]}") from None
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return lib


def _load() -> ctypes.CDLL | None:
    global _lib, _tried
    with _lock:
        if _tried:
            return _lib
        _tried = True
        if not cpu_supported():
            return None
        try:
            lib = ctypes.CDLL(str(_build()))
        except (OSError, RuntimeError) as e:
            warnings.warn(f"taming_lite.cpu_kernels: not built ({e}); sampling uses the PyTorch kernels", stacklevel=3)
            return None
        lib.int8_linear.argtypes = [_P, _P, _P, _P, _P, _P, _I, _I, _I, _C]
        lib.int8_linear.restype = None
        lib.decode_attention.argtypes = [_P, _P, _P, _C, _P, _I, _I, _I, _I, _I, _F, _C]
        lib.decode_attention.restype = None
        lib.bf16_linear.argtypes = [_P, _P, _P, _P, _I, _I, _I, _C]
        lib.bf16_linear.restype = None
        _lib = lib
        return lib


def available() -> bool:
    """Whether the kernels can be used in this process (built on the first call)."""
    return _lib is not None if _tried else _load() is not None


def enabled() -> bool:
    """Whether the decode step uses them: only when asked for (TAMING_LITE_CPU_KERNELS=1) and available."""
    return os.environ.get("TAMING_LITE_CPU_KERNELS", "0") == "1" and available()


def bf16_available() -> bool:
    """Whether bf16_linear can be used (the CPU also has AVX512_BF16)."""
    return available() and "avx512_bf16" in _cpu_flags()


def bf16_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (M, K), weight (N, K), bias (N,) or None, all bf16 and contiguous -> F.linear(x, weight, bias),
    (M, N) bf16, summed in fp32 and rounded once."""
    M, K = x.shape
    N = weight.shape[0]
    y = torch.empty(M, N, dtype=torch.bfloat16)
    _lib.bf16_linear(x.data_ptr(), weight.data_ptr(), None if bias is None else bias.data_ptr(), y.data_ptr(),
                     M, N, K, torch.get_num_threads())
    return y


def int8_linear(x: torch.Tensor, weight: torch.Tensor, rowsum: torch.Tensor, scale: torch.Tensor,
                bias: torch.Tensor | None) -> torch.Tensor:
    """x (M, K) fp32, weight (N, K) int8, rowsum (N,) int32 = weight.sum(1), scale (N,) fp32, bias (N,) fp32
    or None, all on the CPU -> x @ (weight * scale[:, None]).T + bias, (M, N) fp32."""
    x = x.contiguous()
    M, K = x.shape
    N = weight.shape[0]
    y = torch.empty(M, N, dtype=torch.float32)
    _lib.int8_linear(x.data_ptr(), weight.data_ptr(), rowsum.data_ptr(), scale.data_ptr(),
                     None if bias is None else bias.data_ptr(), y.data_ptr(), M, N, K, torch.get_num_threads())
    return y


def attention_fits(qkv: torch.Tensor, k: torch.Tensor, n_head: int) -> bool:
    """Whether decode_attention takes these: CPU, qkv (B, 3C) fp32 contiguous, a cache layer k (B, nh, max_len, hs)
    fp32 or bf16 contiguous, hs a multiple of 16 up to MAX_HEAD."""
    hs = qkv.shape[-1] // (3 * n_head)
    return (qkv.device.type == "cpu" and qkv.dtype == torch.float32 and qkv.dim() == 2 and qkv.is_contiguous()
            and k.dtype in (torch.float32, torch.bfloat16) and k.is_contiguous() and k.shape[1] == n_head
            and k.shape[-1] == hs and hs % 16 == 0 and hs <= MAX_HEAD)


def decode_attention(qkv: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pos: int) -> torch.Tensor:
    """qkv (B, 3C) fp32: one token's query | key | value; k, v (B, nh, max_len, hs), one layer of a KVCache.
    Writes the key and value at `pos` (as `k[:, :, pos] = ...` would), then returns
    softmax(q k[:, :, :pos+1]^T / sqrt(hs)) v[:, :, :pos+1] as (B, C) fp32."""
    B, nh, max_len, hs = k.shape
    y = torch.empty(B, nh * hs, dtype=torch.float32)
    _lib.decode_attention(qkv.data_ptr(), k.data_ptr(), v.data_ptr(), int(k.dtype == torch.bfloat16), y.data_ptr(),
                          B, nh, pos, max_len, hs, hs ** -0.5, torch.get_num_threads())
    return y
