"""Completion: the lower rows of an image from its upper rows (an unconditional model with a start token, or a
class-conditional one with the class as its one condition token)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Job, Task


@dataclass(frozen=True, eq=False)
class Completion(Task):
    def fits(self, config) -> bool:
        return config.cond_stage is None

    def prepare(self, pipe, condition, height: int, width: int, given_rows: int = 0,
                class_id: int | None = None) -> Job:
        """`condition`: the (H, W, 3) uint8 image whose upper `given_rows` token rows are kept (stretched to the
        output size); `class_id`: the class of a class-conditional model (ignored by the others)."""
        import torch

        from ..device import autocast
        from ..images import resize_rgb, rgb_to_tensor

        h, w = pipe.tokens(height, width)
        notes: list[str] = []
        rows = int(given_rows)
        if not 0 <= rows <= h:
            notes.append(f"given rows {rows} -> {min(max(rows, 0), h)} (the output has {h} token rows)")
            rows = min(max(rows, 0), h)
        z = torch.zeros((1, h, w), dtype=torch.long, device=pipe.device)
        shown = None
        if condition is not None:
            rgb = resize_rgb(condition, h * pipe.in_stride, w * pipe.in_stride, crop=False)
            with autocast(pipe.device):
                _, idx = pipe.model.encode_to_z(rgb_to_tensor(rgb, pipe.device, pipe.dtype))
            z = idx.reshape(1, h, w)
            shown = resize_rgb(condition, height, width, crop=False)
        elif rows:
            raise ValueError("given rows need an image to take them from")
        n_classes = pipe.n_classes
        if n_classes:
            if class_id is None or not 0 <= int(class_id) < n_classes:
                raise ValueError(f"this model is class-conditional: give a class id in 0..{n_classes - 1}, "
                                 f"got {class_id!r}")
            _, cond = pipe.model.encode_to_c(torch.tensor([int(class_id)], device=pipe.device))
        else:
            cond = torch.full((1, 1), pipe.model.config.sos_token, dtype=torch.long, device=pipe.device)
        return Job(cond, z, rows * w, height, width, shown, notes)


TASK = Completion("completion", "image", None, "no condition (an unconditional model with a start token)",
                  api_name="complete", sources=("landscape", "human", "both", "mix"))
