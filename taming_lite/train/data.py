"""Data sets as the trainers see them: `build_dataset(DataConfig)` -> a torch Dataset of dicts.

The five task data sets come from `taming_lite.data.datasets` (procedural renders, a folder of your
own images, or an npz cache); `data.dataset` names the task, `data.root` a folder or cache:

    completion  image                                   (options: source = landscape | human | both)
    depth       image, depth (1, S, S), near = bright
    labels      image, labels (K, S, S) one-hot, label_ids
    superres    image, lowres4 (3, S/4, S/4), lowres8   (options: source)
    pose        image, skeleton (3, S, S), keypoints

All images are float in [-1, 1]. The trainers pick keys by name (`data.image_key`, `data.cond_key`),
so a VQGAN is trained on any key of any of these (the depth VQGAN on `depth` of `depth`, ...).

`synthetic` (smooth random fields with the same keys, 4 label classes by default) is fast and is
what the tests and the benchmark use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..superres import area_downsample
from ..tasks import TASK_NAMES as TASKS


class SyntheticDataset(Dataset):
    """Smooth random colour fields (bilinear-upsampled 4x4 noise), item i from seed (seed + i)."""

    def __init__(self, size: int = 32, length: int = 8, seed: int = 0, n_labels: int = 4):
        self.size, self.length, self.seed, self.n_labels = size, length, seed, n_labels

    def __len__(self):
        return self.length

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        g = torch.Generator().manual_seed(self.seed + int(i))
        low = torch.rand(1, 4, 4, 4, generator=g) * 2 - 1
        field = F.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        image = field[:3]
        classes = ((field[3] + 1) / 2 * self.n_labels).long().clamp(0, self.n_labels - 1)
        return {"image": image, "depth": field[3:4], "labels": F.one_hot(classes, self.n_labels).permute(2, 0, 1).float(),
                "lowres4": area_downsample(image[None], 4)[0], "lowres8": area_downsample(image[None], 8)[0],
                "skeleton": image.flip(0)}


def build_dataset(cfg) -> Dataset:
    """DataConfig -> Dataset (see the module docstring for the keys)."""
    if cfg.dataset == "synthetic":
        return SyntheticDataset(size=cfg.size, length=cfg.num_samples, seed=cfg.seed, **cfg.options)
    if cfg.dataset not in TASKS:
        raise ValueError(f"unknown data.dataset {cfg.dataset!r}; choose a task {TASKS} or 'synthetic'")
    from ..data.datasets import make_dataset

    if cfg.root:  # a folder of your images (+ side files) or an npz cache
        return make_dataset(cfg.dataset, root=cfg.root, **({"size": cfg.size} if not str(cfg.root).endswith(".npz")
                                                            else {}), **cfg.options)
    return make_dataset(cfg.dataset, size=cfg.size, length=cfg.num_samples, seed=cfg.seed, **cfg.options)


def check_keys(dataset: Dataset, *keys: str | None) -> None:
    item = dataset[0]
    for key in keys:
        if key is not None and key not in item:
            raise KeyError(f"data set {type(dataset).__name__} has no key {key!r}; it has {sorted(item)}")
