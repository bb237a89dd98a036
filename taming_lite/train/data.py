"""Data sets as the trainers see them: `build_dataset(DataConfig)` -> a torch Dataset of dicts.

Every item is a dict of float tensors in [-1, 1] (one-hot in {0, 1} for labels), by key:

    image     (3, S, S)              the RGB render
    depth     (1, S, S)              disparity, near = bright (landscapes)
    labels    (K, S, S)              one-hot label map, K = NUM_CLASSES, channel order of LANDSCAPE_CLASSES
    lowres    (3, S/r, S/r)          area-downsampled image, r = options.factor (default 4)
    skeleton  (3, S, S)              OpenPose-coloured skeleton on black (humans)

The trainers pick keys by name (`data.image_key`, `data.cond_key`), so any data set with these keys
fits. This module is a thin adapter over the procedural renderers in `taming_lite.data`
(`render_landscape`, `render_human`), a folder of the user's images, and `synthetic` (smooth random
fields, fast; used by the tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


def _img(u8: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(u8)).permute(2, 0, 1).float() / 127.5 - 1.0


def _lowres(image: torch.Tensor, factor: int) -> torch.Tensor:
    return F.avg_pool2d(image[None], factor)[0]  # area downsampling


class _Procedural(Dataset):
    """Index i renders seed (seed + i); renders are kept in memory after the first use (`cache`)."""

    def __init__(self, size: int = 128, num_samples: int = 2000, seed: int = 0, cache: bool = True, factor: int = 4):
        self.size, self.n, self.seed, self.cache, self.factor = size, num_samples, seed, cache, factor
        self._memo: dict[int, dict] = {}

    def __len__(self):
        return self.n

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(i)
        if i in self._memo:
            return self._memo[i]
        item = self.render(int(self.seed) + int(i))
        if self.cache:
            self._memo[i] = item
        return item


class LandscapeDataset(_Procedural):
    def render(self, seed: int) -> dict:
        from ..data import render_landscape, to_onehot

        s = render_landscape(seed, self.size, self.size)
        image = _img(s.image)
        return {"image": image, "depth": torch.from_numpy(s.depth)[None].float() * 2 - 1,
                "labels": torch.from_numpy(to_onehot(s.labels)), "lowres": _lowres(image, self.factor)}


class HumanDataset(_Procedural):
    def render(self, seed: int) -> dict:
        from ..data import render_human

        s = render_human(seed, self.size, self.size)
        image = _img(s.image)
        return {"image": image, "skeleton": _img(s.skeleton), "lowres": _lowres(image, self.factor)}


class SyntheticDataset(_Procedural):
    """Smooth random colour fields (bilinear-upsampled 4x4 noise): fast and learnable; for tests."""

    def __init__(self, size: int = 32, num_samples: int = 8, seed: int = 0, cache: bool = True, factor: int = 4,
                 n_labels: int = 4):
        super().__init__(size, num_samples, seed, cache, factor)
        self.n_labels = n_labels

    def render(self, seed: int) -> dict:
        g = torch.Generator().manual_seed(seed)
        low = torch.rand(1, 4, 4, 4, generator=g) * 2 - 1
        field = F.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        image = field[:3]
        labels = F.one_hot(((field[3] + 1) / 2 * self.n_labels).long().clamp(0, self.n_labels - 1),
                           self.n_labels).permute(2, 0, 1).float()
        return {"image": image, "depth": field[3:4], "labels": labels, "lowres": _lowres(image, self.factor),
                "skeleton": image.flip(0)}


class FolderDataset(Dataset):
    """A folder of images (png/jpg/webp), centre-cropped and resized to `size`. Optional same-stem
    companions: `<root>/depth/<stem>.png` (grey, near = bright), `<root>/skeleton/<stem>.png`."""

    EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}

    def __init__(self, root: str, size: int = 128, factor: int = 4, **_):
        self.root, self.size, self.factor = Path(root), size, factor
        if not self.root.is_dir():
            raise FileNotFoundError(f"data.root {root!r} is not a directory")
        self.files = sorted(p for p in self.root.iterdir() if p.suffix.lower() in self.EXTS)
        if not self.files:
            raise FileNotFoundError(f"no images ({', '.join(sorted(self.EXTS))}) in {root}")

    def __len__(self):
        return len(self.files)

    def _load(self, path: Path, mode: str) -> np.ndarray:
        from PIL import Image

        im = Image.open(path).convert(mode)
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        return np.asarray(im.resize((self.size, self.size), Image.BICUBIC))

    def __getitem__(self, i: int) -> dict:
        path = self.files[i]
        image = _img(self._load(path, "RGB"))
        item = {"image": image, "lowres": _lowres(image, self.factor)}
        for key, mode in (("depth", "L"), ("skeleton", "RGB")):
            companion = self.root / key / (path.stem + ".png")
            if companion.is_file():
                arr = self._load(companion, mode)
                item[key] = _img(arr) if mode == "RGB" else torch.from_numpy(arr)[None].float() / 127.5 - 1
        return item


DATASETS = {"landscape": LandscapeDataset, "human": HumanDataset, "synthetic": SyntheticDataset,
            "folder": FolderDataset}


def build_dataset(cfg) -> Dataset:
    """DataConfig -> Dataset (see the module docstring for the keys)."""
    if cfg.dataset not in DATASETS:
        raise ValueError(f"unknown data.dataset {cfg.dataset!r}; choose from {sorted(DATASETS)}")
    if cfg.dataset == "folder":
        if not cfg.root:
            raise ValueError("data.dataset=folder needs data.root=<directory of images>")
        return FolderDataset(cfg.root, cfg.size, **cfg.options)
    return DATASETS[cfg.dataset](size=cfg.size, num_samples=cfg.num_samples, seed=cfg.seed, **cfg.options)


def check_keys(dataset: Dataset, *keys: str | None) -> None:
    item = dataset[0]
    for key in keys:
        if key is not None and key not in item:
            raise KeyError(f"data set {type(dataset).__name__} has no key {key!r}; it has {sorted(item)}")
