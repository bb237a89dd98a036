"""Depth to image: a 1-channel depth map (near = bright) through a depth VQGAN."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Task, placeholder_vqgan


@dataclass(frozen=True, eq=False)
class Depth(Task):
    def fits(self, config) -> bool:
        cs = config.cond_stage
        return cs is not None and not cs.n_labels and cs.in_channels == 1

    def condition_tensor(self, pipe, condition, height: int, width: int):
        """(H, W) float in [0, 1], near = bright -> (1, 1, Hc, Wc) in [-1, 1] (D-RIN's models: min-max
        normalised first, as their MiDaS training depth was: `pipe.depth_minmax`)."""
        import numpy as np
        import torch

        from ..images import resize_depth

        d = resize_depth(np.asarray(condition, np.float32), *pipe.cond_size(height, width))
        if pipe.depth_minmax:
            lo, hi = float(d.min()), float(d.max())
            d = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
        return torch.from_numpy(d)[None, None] * 2 - 1

    def placeholder_cond_stage(self):
        return placeholder_vqgan(1)


TASK = Depth("depth", "depth", "depth", "a 1-channel depth map", api_name="depth", sources=("landscape", "layout"))
