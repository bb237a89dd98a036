"""Consistency of super-resolution samples with their low-resolution input.

A sampled high-resolution image need not downsample back to the image it was conditioned on: the
transformer sees the input only through the cond-stage tokens, and the first stage decodes tokens
with its own error. `back_project` corrects a sample until its area downsampling (`area_downsample`, the
operator that made the low-resolution inputs: the data sets call it too) equals the input:
iterative back-projection (Irani & Peleg, 1991),

    y <- y + up(low - down(y))      down = average of factor x factor blocks, up = bicubic

It changes only what the input determines (each block's mean) and keeps the sample's detail inside
each block, so it cannot add detail the sample lacks. The app shows samples before and after it,
and `taming_lite.evaluate` reports both.

    from taming_lite.superres import back_project
    fixed = back_project(sample, low, factor=4)     # (B, 3, H, W) and (B, 3, H/4, W/4), in [-1, 1]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def area_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/factor, W/factor): the mean of each factor x factor block."""
    if x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"image size {tuple(x.shape[-2:])} is not divisible by the factor {factor}")
    return F.avg_pool2d(x, factor)


def back_project(image: torch.Tensor, low: torch.Tensor, factor: int, iters: int = 20,
                 clamp: tuple[float, float] | None = (-1.0, 1.0)) -> torch.Tensor:
    """Iterative back-projection of `image` (B, C, H, W) onto `low` (B, C, H/factor, W/factor).

    Returns a copy whose area downsampling matches `low` (to float precision after ~20 iterations;
    clamping to the image range at the end can leave a small error where `low` is at the range's edge)."""
    if image.dim() != 4 or low.dim() != 4 or image.shape[:2] != low.shape[:2]:
        raise ValueError(f"expected (B, C, H, W) image and low-res input with the same B, C; got "
                         f"{tuple(image.shape)} and {tuple(low.shape)}")
    if (image.shape[-2], image.shape[-1]) != (low.shape[-2] * factor, low.shape[-1] * factor):
        raise ValueError(f"image {tuple(image.shape[-2:])} is not {factor}x the low-res input {tuple(low.shape[-2:])}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    y = image.float()
    low = low.to(y)
    for _ in range(iters):
        residual = low - area_downsample(y, factor)
        y = y + F.interpolate(residual, scale_factor=factor, mode="bicubic", align_corners=False)
    return y.clamp(*clamp) if clamp is not None else y

