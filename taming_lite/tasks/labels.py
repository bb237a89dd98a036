"""Labels to landscape: a COCO-Stuff id map, one-hot (our 14 landscape classes, or S-FLCKR's 182)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Task, placeholder_vqgan


@dataclass(frozen=True, eq=False)
class Labels(Task):
    def fits(self, config) -> bool:
        from ..data.labels import COCO_STUFF_CLASSES, NUM_CLASSES

        cs = config.cond_stage
        return cs is not None and bool(cs.n_labels or cs.in_channels not in (1, 3)) and \
            cs.in_channels in (NUM_CLASSES, COCO_STUFF_CLASSES)

    def condition_tensor(self, pipe, condition, height: int, width: int):
        """(H, W) COCO-Stuff ids -> (1, channels, Hc, Wc) one-hot (nearest resize; `data.labels.to_onehot`)."""
        import torch

        from ..data.labels import to_onehot

        return torch.from_numpy(to_onehot(condition, channels=pipe.label_channels,
                                          size=pipe.cond_size(height, width)))[None]

    def placeholder_cond_stage(self):
        from ..data.labels import NUM_CLASSES

        return placeholder_vqgan(NUM_CLASSES, n_labels=NUM_CLASSES)


TASK = Labels("labels", "labels", "labels", "a one-hot label map with {n} classes", api_name="labels",
              sources=("landscape", "layout"))
