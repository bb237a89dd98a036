"""torch Datasets for the five tasks, procedural (seeded, endless) or from a folder / cache.

Every dataset yields a dict of tensors; images are float (C, H, W) in [-1, 1]:

| task         | keys                                                               |
|--------------|--------------------------------------------------------------------|
| "completion" | image                                                              |
| "depth"      | image, depth (1, H, W), near = 1                                   |
| "labels"     | image, labels (NUM_CLASSES, H, W) one-hot float, label_ids (H, W) long |
| "superres"   | image, lowres4 (3, H/4, W/4), lowres8 (3, H/8, W/8), area-downsampled |
| "pose"       | image, skeleton (3, H, W), keypoints (18, 3) float (x, y, visibility) |

Procedural datasets map ``index -> seed (seed, index)``, so item i is the same on
every machine and any index is valid (``length`` only sets the epoch size).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import folder as F
from .human import draw_skeleton
from .human import render as render_human
from .labels import ids_to_index, to_onehot
from .landscape import render as render_landscape
from .layout import render_mix
from ..tasks import TASK_NAMES as TASKS  # the task table lives in taming_lite.tasks
from ..tasks import spec
from .transforms import area_downsample, as_hw, resize_and_crop


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div(127.5).sub(1.0)


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """float (3, H, W) in [-1, 1] -> uint8 (H, W, 3)."""
    x = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


def render_arrays(source: str, seed, h: int, w: int) -> dict:
    """One procedural sample as arrays: landscape / layout -> image, depth, labels; human / human_wide ->
    image, keypoints, skeleton (human_wide: every other seed, by its last part, in a pose sampled over the
    whole joint ranges)."""
    if source in ("landscape", "layout"):
        s = (render_landscape if source == "landscape" else render_mix)(seed, h, w)
        return {"image": s.image, "depth": s.depth, "labels": s.labels}
    if source not in ("human", "human_wide"):
        raise ValueError(f"unknown source {source!r}")
    pose = "random" if source == "human_wide" and int(np.atleast_1d(seed)[-1]) % 2 else None
    s = render_human(seed, h, w, pose=pose)
    return {"image": s.image, "keypoints": s.keypoints, "skeleton": s.skeleton}


def make_example(task: str, arrays: dict) -> dict:
    """numpy sample (image, depth, labels, keypoints ...) -> the task's dict of tensors."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
    img = arrays["image"]
    out = {"image": image_to_tensor(img)}
    if task == "depth":
        out["depth"] = torch.from_numpy(np.ascontiguousarray(arrays["depth"], dtype=np.float32))[None] * 2.0 - 1.0
    elif task == "labels":
        ids = arrays["labels"]
        out["labels"] = torch.from_numpy(to_onehot(ids))
        out["label_ids"] = torch.from_numpy(ids.astype(np.int64))
    elif task == "superres":
        out["lowres4"] = image_to_tensor(area_downsample(img, 4))
        out["lowres8"] = image_to_tensor(area_downsample(img, 8))
    elif task == "pose":
        kp = np.asarray(arrays["keypoints"], dtype=np.float32)
        skel = arrays.get("skeleton")
        if skel is None:
            skel = draw_skeleton(kp, img.shape[0], img.shape[1])
        out["skeleton"] = image_to_tensor(skel)
        out["keypoints"] = torch.from_numpy(kp.copy())
    return out


class ProceduralDataset(Dataset):
    """Seeded, on-the-fly renders for one task.

    ``size``: int or (height, width); ``length``: epoch size; ``seed``: base seed;
    ``source``: "landscape", "human" or "both" (alternating; completion/superres only); "layout" (depth,
    labels: 3D renders mixed with layout-first renders and composites, `layout.render_mix`); "human_wide"
    (pose: every other figure in a pose sampled over the whole joint ranges, `human.render(pose="random")`);
    "mix" (completion/superres: the layout mix and humans of both kinds, what drawn conditions ask the image
    first stage to draw).
    """

    def __init__(self, task: str, size=128, length: int = 100_000, seed: int = 0, source: str | None = None):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
        self.task, self.size, self.length, self.seed = task, as_hw(size), int(length), int(seed)
        self.source = source or spec(task).source  # the renderer its data comes from by default
        allowed = spec(task).sources
        if self.source not in allowed:
            raise ValueError(f"task {task!r} supports source in {allowed}, got {self.source!r}")
        if task == "superres" and (self.size[0] % 8 or self.size[1] % 8):
            raise ValueError(f"superres needs a size divisible by 8, got {self.size}")

    def __len__(self) -> int:
        return self.length

    def seed_for(self, index: int) -> tuple[int, int]:
        return (self.seed, int(index))

    def arrays(self, index: int) -> dict:
        """The numpy sample behind item ``index`` (uint8 image, float depth, ids, keypoints)."""
        if index < 0:
            raise IndexError(index)
        h, w = self.size
        src = self.source
        if src == "both":
            src = "landscape" if index % 2 == 0 else "human"
        elif src == "mix":  # half the layout mix, a quarter standing humans, a quarter in wide poses (odd seeds)
            src = ("layout", "human", "layout", "human_wide")[index % 4]
        return render_arrays(src, self.seed_for(index), h, w)

    def __getitem__(self, index: int) -> dict:
        return make_example(self.task, self.arrays(index))


class CompletionDataset(ProceduralDataset):
    def __init__(self, size=128, length=100_000, seed=0, source="landscape"):
        super().__init__("completion", size, length, seed, source)


class DepthDataset(ProceduralDataset):
    def __init__(self, size=128, length=100_000, seed=0):
        super().__init__("depth", size, length, seed)


class LabelDataset(ProceduralDataset):
    def __init__(self, size=128, length=100_000, seed=0):
        super().__init__("labels", size, length, seed)


class SuperResDataset(ProceduralDataset):
    def __init__(self, size=128, length=100_000, seed=0, source="landscape"):
        super().__init__("superres", size, length, seed, source)


class PoseDataset(ProceduralDataset):
    def __init__(self, size=128, length=100_000, seed=0):
        super().__init__("pose", size, length, seed)


class FolderDataset(Dataset):
    """The same task dicts from your own folder (see ``folder.py`` for the layout).

    ``crop``: "random" (training), "center" (evaluation) or "none" (resize to size).
    Images are first scaled so the shorter side fits ``size``. Random crops use
    ``seed`` and the index, so an epoch is reproducible.
    """

    _NEEDS = {"completion": (), "superres": (), "depth": ("depth",), "labels": ("labels",),
              "pose": ("keypoints",)}

    def __init__(self, root, task: str, size=128, crop: str = "random", seed: int = 0):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
        if crop not in ("random", "center", "none"):
            raise ValueError(f"crop must be 'random', 'center' or 'none', got {crop!r}")
        self.root, self.task, self.size, self.crop, self.seed = Path(root), task, as_hw(size), crop, int(seed)
        if task == "superres" and (self.size[0] % 8 or self.size[1] % 8):
            raise ValueError(f"superres needs a size divisible by 8, got {self.size}")
        self.items = F.scan_folder(root, require=self._NEEDS[task])
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def arrays(self, index: int) -> dict:
        item = self.items[index]
        arrays = F.load_item(item, need=self._NEEDS[self.task])
        rng = np.random.Generator(np.random.PCG64([self.seed, self.epoch, int(index)]))
        return resize_and_crop(arrays, self.size, crop=self.crop, rng=rng)

    def __getitem__(self, index: int) -> dict:
        try:
            return make_example(self.task, self.arrays(index))
        except (ValueError, FileNotFoundError) as e:
            raise type(e)(f"{self.root / self.items[index].stem}: {e}") from None


class NpzDataset(Dataset):
    """Samples cached by ``python -m taming_lite.data cache --format npz`` (all shards of a folder)."""

    def __init__(self, path, task: str):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
        path = Path(path)
        files = sorted(path.glob("shard_*.npz")) if path.is_dir() else [path]
        if not files:
            raise FileNotFoundError(f"no shard_*.npz files in {str(path)!r}")
        self.task = task
        self.shards = [dict(np.load(f)) for f in files]
        self.index = [(s, i) for s, sh in enumerate(self.shards) for i in range(len(sh["image"]))]
        need = {"depth": "depth", "labels": "labels", "pose": "keypoints"}.get(task)
        if need and need not in self.shards[0]:
            raise ValueError(f"{str(path)!r} has no {need!r} arrays; cache it from the matching renderer")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict:
        s, i = self.index[index]
        arrays = {k: v[i] for k, v in self.shards[s].items() if k != "seeds"}
        if "labels" in arrays:
            ids_to_index(arrays["labels"])
        return make_example(self.task, arrays)


def make_dataset(task: str, root=None, **kwargs) -> Dataset:
    """``root=None``: procedural; a folder of images: FolderDataset; npz cache: NpzDataset."""
    if root is None:
        return ProceduralDataset(task, **kwargs)
    root = Path(root)
    if root.suffix == ".npz" or (root.is_dir() and any(root.glob("shard_*.npz"))):
        return NpzDataset(root, task)
    return FolderDataset(root, task, **kwargs)
