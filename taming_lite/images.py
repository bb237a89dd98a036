"""Array conversions shared by the tasks, the pipeline and the app: images <-> tensors, and resizing.

    rgb_to_tensor(rgb)                  # (H, W, 3) uint8 -> (1, 3, H, W) in [-1, 1]
    resize_rgb(rgb, 64, 64, crop=True)  # centre-crop to the aspect ratio, then resize; crop=False: stretch

Imports nothing of taming_lite.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps


def rgb_to_tensor(rgb: np.ndarray, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.array(rgb, dtype=np.uint8)).float().permute(2, 0, 1)[None] / 127.5 - 1.0
    return t.to(device=device, dtype=dtype)


def tensor_to_rgb(x: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in about [-1, 1] -> list of (H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(x)


def resize_rgb(rgb: np.ndarray, height: int, width: int, *, crop: bool, resample=Image.BICUBIC) -> np.ndarray:
    """(H, W, 3) uint8 -> exactly (height, width, 3). crop=True: centre-crop to the target's aspect ratio first
    (nothing is distorted, the borders may go: a user's photo); crop=False: stretch the whole image (nothing is
    lost: a condition the model must see whole, a tile)."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.shape[:2] == (height, width):
        return rgb
    if crop:
        return np.asarray(ImageOps.fit(Image.fromarray(rgb), (int(width), int(height)), method=resample))
    return np.asarray(Image.fromarray(rgb).resize((width, height), resample))


def resize_depth(d: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) float -> (height, width) float32, bilinear (stretched)."""
    return np.array(Image.fromarray(np.asarray(d, np.float32), mode="F").resize((width, height), Image.BILINEAR))

