"""Portable noise and math helpers shared by the procedural renderers.

Determinism across machines
---------------------------
Every renderer in this package is a pure function of its seed, and we want the
*same bytes* on every machine. Two things can break that:

* random streams: we only use ``numpy.random.Generator(PCG64)`` and only its
  ``random()`` / ``integers()`` methods, which are pure integer arithmetic
  (``standard_normal`` and friends may call the platform ``exp``/``log``);
* floating point: ``+ - * /``, ``sqrt`` and comparisons are correctly rounded by
  IEEE-754, so they give identical float64 results everywhere, but ``np.exp``,
  ``np.sin``, ``np.power`` ... are computed by SIMD or libm code that differs
  between CPUs (e.g. AVX-512 SVML) in the last bit, and BLAS (``@``, ``dot``)
  may fuse multiply-adds. The renderers therefore use only element-wise
  ``+ - * / sqrt min max floor`` on float64 arrays (one ufunc per operation, so
  no compiler can fuse them), and the polynomial ``sin``/``cos`` below for the
  few angles they need. Results are quantized to uint8 at the very end.
"""
from __future__ import annotations

import numpy as np

PI = 3.141592653589793


def make_rng(seed) -> np.random.Generator:
    """The one way renderers turn a seed (int or tuple of ints) into a stream."""
    if isinstance(seed, (tuple, list)):
        seed = [int(s) for s in seed]
    else:
        seed = int(seed)
    return np.random.Generator(np.random.PCG64(seed))


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(rng.random())


def choice(rng: np.random.Generator, options, weights=None):
    """Pick one of ``options`` (optionally weighted) with integer-free arithmetic."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    total = float(sum(weights))
    u = float(rng.random()) * total
    acc = 0.0
    for opt, w in zip(options, weights):
        acc += w
        if u < acc:
            return opt
    return options[-1]


# --- portable trigonometry (plain float arithmetic, identical everywhere) ---

def sin(x: float) -> float:
    """sin(x) by range reduction and a Taylor series; |error| < 1e-15."""
    x = float(x)
    k = np.floor(x / (2 * PI) + 0.5)
    x = x - k * 2 * PI  # now in [-pi, pi]
    if x > PI / 2:
        x = PI - x
    elif x < -PI / 2:
        x = -PI - x
    x2 = x * x
    term, total = x, x
    for n in range(1, 12):
        term = -term * x2 / ((2 * n) * (2 * n + 1))
        total += term
    return float(total)


def cos(x: float) -> float:
    return sin(float(x) + PI / 2)


# --- value noise ---------------------------------------------------------

def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def _upsample_periodic(lattice: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Smoothly interpolate a periodic lattice along ``axis`` to ``size`` samples."""
    n = lattice.shape[axis]
    t = np.arange(size, dtype=np.float64) * (n / size)
    i0 = np.floor(t).astype(np.int64)
    f = _smooth(t - i0)
    i1 = (i0 + 1) % n
    a = np.take(lattice, i0, axis=axis)
    b = np.take(lattice, i1, axis=axis)
    shape = [1] * lattice.ndim
    shape[axis] = size
    f = f.reshape(shape)
    return a + (b - a) * f


def value_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Periodic value noise on a (size, size, channels) grid, values in [0, 1]."""
    lattice = rng.random((cells, cells, channels))
    g = _upsample_periodic(lattice, size, 0)
    return _upsample_periodic(g, size, 1)


def fbm(rng: np.random.Generator, size: int, base_cells: int = 4, octaves: int = 6,
        gain: float = 0.5, channels: int = 1, ridged: bool = False) -> np.ndarray:
    """Fractal (periodic) noise: sum of value-noise octaves, normalised to [0, 1].

    ``ridged=True`` folds each octave (1 - |2n - 1|) which gives sharp crests,
    the classic look of mountain ridges.
    """
    total = np.zeros((size, size, channels))
    amp, norm, cells = 1.0, 0.0, base_cells
    for _ in range(octaves):
        if cells > size:
            break
        n = value_noise(rng, size, cells, channels)
        if ridged:
            n = 1.0 - np.abs(2.0 * n - 1.0)
            n = n * n
        total += amp * n
        norm += amp
        amp *= gain
        cells *= 2
    return total / norm


def sample_periodic(grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear sample of a periodic (S0, S1, C) grid at row ``u``, column ``v`` (in cells).

    S0 and S1 must be powers of two. Returns an array of shape ``u.shape + (C,)``.
    """
    s0, s1, c = grid.shape
    flat = grid.reshape(s0 * s1, c)
    fu = np.floor(u)
    fv = np.floor(v)
    du = (u - fu)[..., None]
    dv = (v - fv)[..., None]
    i0 = fu.astype(np.int64) & (s0 - 1)
    j0 = fv.astype(np.int64) & (s1 - 1)
    j1 = (j0 + 1) & (s1 - 1)
    r0 = i0 * s1
    r1 = ((i0 + 1) & (s0 - 1)) * s1
    a = flat[r0 + j0]
    b = flat[r0 + j1]
    top = a + (b - a) * dv
    a = flat[r1 + j0]
    b = flat[r1 + j1]
    bot = a + (b - a) * dv
    return top + (bot - top) * du


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lerp(a, b, t):
    return a + (b - a) * t


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float RGB in [0, 1] -> uint8 with round-half-up (portable)."""
    return np.floor(np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
