"""Pose to human: 18 OpenPose keypoints drawn as a skeleton image the size of the output."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Task, lowres_condition, placeholder_vqgan, rgb_condition


def skeleton_image(condition, height: int, width: int, canvas: tuple[int, int]):
    """Keypoints (18, 3) in a canvas (H, W) -> the skeleton drawn at height x width; an image: resized (nearest)."""
    import numpy as np
    from PIL import Image

    from ..data.human import draw_skeleton
    from ..images import resize_rgb

    a = np.asarray(condition)
    if a.ndim == 3:
        return resize_rgb(a, height, width, crop=False, resample=Image.NEAREST)
    kp = a.astype(np.float32).copy()
    kp[:, 0] *= width / canvas[1]
    kp[:, 1] *= height / canvas[0]
    return draw_skeleton(kp, height, width)


@dataclass(frozen=True, eq=False)
class Pose(Task):
    def fits(self, config) -> bool:
        return rgb_condition(config) and not lowres_condition(config)  # an RGB condition at the output's size

    def condition_tensor(self, pipe, condition, height: int, width: int):
        """(18, 3) keypoints (x, y, visible) in pixels of the output size, or an (H, W, 3) uint8 skeleton image
        -> (1, 3, Hc, Wc) in [-1, 1]."""
        from ..images import rgb_to_tensor

        return rgb_to_tensor(skeleton_image(condition, *pipe.cond_size(height, width), (height, width)))

    def placeholder_cond_stage(self):
        return placeholder_vqgan(3)


TASK = Pose("pose", "skeleton", "skeleton", "an RGB skeleton image the size of the output", api_name="pose",
            source="human", sources=("human", "human_wide"))
