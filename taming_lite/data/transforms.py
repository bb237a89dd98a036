"""Array transforms shared by the datasets (numpy + Pillow; area downsampling is taming_lite.superres's)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .. import superres


def as_hw(size) -> tuple[int, int]:
    """``128`` -> (128, 128); ``(h, w)`` -> (h, w)."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def area_downsample(x: np.ndarray, factor: int) -> np.ndarray:
    """`taming_lite.superres.area_downsample` (the mean of each ``factor x factor`` block) of an (H, W[, C])
    array, in float64. H and W must be divisible by ``factor``. uint8 input gives uint8 output (rounded)."""
    t = torch.from_numpy(np.asarray(x, np.float64))
    y = superres.area_downsample((t[None] if x.ndim == 2 else t.permute(2, 0, 1))[None], factor)[0]
    y = (y[0] if x.ndim == 2 else y.permute(1, 2, 0)).numpy()
    if x.dtype == np.uint8:
        return np.floor(y + 0.5).astype(np.uint8)
    return y.astype(x.dtype)


def resize_and_crop(arrays: dict, size, crop: str = "random", rng: np.random.Generator | None = None,
                    resize: bool = True) -> dict:
    """Resize (shorter side to fit) and crop all aligned arrays of one sample the same way.

    ``arrays`` may hold ``image`` (H, W, 3) uint8, ``depth`` (H, W) float32,
    ``labels`` (H, W) uint8 ids and ``keypoints`` (18, 3) pixel coords.
    ``crop`` is "random", "center" or "none" (resize only, to exactly ``size``).
    With ``resize=False`` images must already be at least ``size``.
    """
    th, tw = as_hw(size)
    H, W = arrays["image"].shape[:2]
    out = dict(arrays)
    if crop not in ("random", "center", "none"):
        raise ValueError(f"crop must be 'random', 'center' or 'none', got {crop!r}")
    if crop == "none":
        sy, sx = th / H, tw / W
        nh, nw = th, tw
    elif resize:
        s = max(th / H, tw / W)
        nh, nw = max(th, int(round(H * s))), max(tw, int(round(W * s)))
        sy, sx = nh / H, nw / W
    else:
        if H < th or W < tw:
            raise ValueError(f"image is {H}x{W}, smaller than the crop {th}x{tw}; use resize=True")
        nh, nw, sy, sx = H, W, 1.0, 1.0
    if (nh, nw) != (H, W):
        out["image"] = np.asarray(Image.fromarray(arrays["image"]).resize((nw, nh), Image.BICUBIC))
        if "depth" in arrays:
            out["depth"] = np.asarray(Image.fromarray(np.ascontiguousarray(arrays["depth"], dtype=np.float32))
                                      .resize((nw, nh), Image.BILINEAR)).clip(0, 1)
        if "labels" in arrays:
            out["labels"] = np.asarray(Image.fromarray(arrays["labels"]).resize((nw, nh), Image.NEAREST))
        if "keypoints" in arrays:
            kp = arrays["keypoints"].copy()
            kp[:, 0] *= sx
            kp[:, 1] *= sy
            out["keypoints"] = kp
    if crop == "none":
        return out
    if crop == "random":
        rng = rng if rng is not None else np.random.default_rng()
        y0 = int(rng.integers(nh - th + 1))
        x0 = int(rng.integers(nw - tw + 1))
    else:
        y0, x0 = (nh - th) // 2, (nw - tw) // 2
    for k in ("image", "depth", "labels"):
        if k in out:
            out[k] = out[k][y0:y0 + th, x0:x0 + tw]
    if "keypoints" in out:
        kp = out["keypoints"].astype(np.float32).copy()
        kp[:, 0] -= x0
        kp[:, 1] -= y0
        outside = (kp[:, 0] < 0) | (kp[:, 0] >= tw) | (kp[:, 1] < 0) | (kp[:, 1] >= th)
        kp[outside, 2] = 0.0
        out["keypoints"] = kp
    return out
