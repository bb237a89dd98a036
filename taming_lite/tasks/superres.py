"""Super-resolution: a small RGB image through a VQGAN whose grid matches the output's (4x or 8x)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import PLACEHOLDER_IMAGE_SIZE, Task, lowres_condition, placeholder_vqgan, rgb_condition


@dataclass(frozen=True, eq=False)
class Superres(Task):
    def fits(self, config) -> bool:
        return rgb_condition(config) and lowres_condition(config)

    def condition_tensor(self, pipe, condition, height: int, width: int):
        """A small (h, w, 3) uint8 image -> (1, 3, Hc, Wc) in [-1, 1] (stretched to the condition size)."""
        from ..images import resize_rgb, rgb_to_tensor

        return rgb_to_tensor(resize_rgb(condition, *pipe.cond_size(height, width), crop=False))

    def placeholder_cond_stage(self):
        return placeholder_vqgan(3, PLACEHOLDER_IMAGE_SIZE // 4, (1, 2))  # 16 x 16 input, stride 2: the same 8 x 8 grid


TASK = Superres("superres", "lowres", "lowres4", "a low-resolution RGB image (condition grid from a smaller input)",
                api_name="superres", sources=("landscape", "human", "both", "mix"))
