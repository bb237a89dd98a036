"""Sample sheets of the shipped models: one row per held-out condition, condition | 4 samples | ground truth.

    python -m scripts.make_sample_sheets                      # all five tasks -> docs/samples/<task>.png
    python -m scripts.make_sample_sheets --tasks pose --rows 4

Conditions come from the held-out seed of `taming_lite.evaluate` (never seen in training); samples
use top-k 100 and seeds 0..3, as the evaluation does. Completion shows the given upper half over a
grey lower half as its condition.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from demos.common import tensor_to_rgb
from taming_lite.checkpoints import load_pretrained
from taming_lite.data.labels import colorize
from taming_lite.evaluate import _dataset, _grid, condition_key

TASKS = ("completion", "depth", "labels", "superres", "pose")


def to_rgb(x: torch.Tensor, size: int) -> np.ndarray:
    """(C, h, w) in [-1, 1] -> (size, size, 3) uint8; 1 channel as grey, smaller images by nearest."""
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    if x.shape[-1] != size:
        x = F.interpolate(x[None], size=(size, size), mode="nearest")[0]
    return tensor_to_rgb(x[None])[0]


def condition_picture(task: str, item: dict, cond_key: str | None, size: int) -> np.ndarray:
    if task == "labels":
        return colorize(item["label_ids"].numpy())
    if task == "completion":
        img = item["image"].clone()
        img[:, size // 2 :] = 0.0  # grey: to be sampled
        return to_rgb(img, size)
    return to_rgb(item[cond_key], size)


@torch.no_grad()
def sheet(task: str, weights: Path, rows: int, samples: int, gap: int = 2) -> Image.Image:
    model = load_pretrained(weights / task).eval()
    size, h = _grid(model)
    cond_key = condition_key(model, task)
    ds = _dataset(task, size, rows)
    cols = samples + 2
    out = np.full((rows * (size + gap) - gap, cols * (size + gap) - gap, 3), 255, np.uint8)
    for r in range(rows):
        item = ds[r]
        x = item["image"][None]
        _, z = model.encode_to_z(x)
        _, ci = model.encode_to_c(item[cond_key][None] if cond_key else x)
        given = z[:, : h * h // 2] if task == "completion" else z[:, :0]
        tiles = [condition_picture(task, item, cond_key, size)]
        for seed in range(samples):
            tok = model.sample(given, ci, steps=h * h - given.shape[1], sample=True, top_k=100, seed=seed)
            tiles.append(to_rgb(model.decode_to_img(tok, (1, 0, h, h))[0], size))
        tiles.append(to_rgb(item["image"], size))
        for c, tile in enumerate(tiles):
            y0, x0 = r * (size + gap), c * (size + gap)
            out[y0 : y0 + size, x0 : x0 + size] = tile
    return Image.fromarray(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights")
    p.add_argument("--tasks", nargs="*", default=list(TASKS), choices=TASKS)
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--scale", type=int, default=2, help="nearest-neighbour enlargement of the saved sheet")
    p.add_argument("--out", default="docs/samples")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        img = sheet(task, Path(args.weights), args.rows, args.samples)
        img = img.resize((img.width * args.scale, img.height * args.scale), Image.NEAREST)
        path = Path(args.out) / f"{task}.png"
        img.save(path, optimize=True)
        print(f"{path}: {args.rows} conditions x ({args.samples} samples + condition + ground truth)")


if __name__ == "__main__":
    main()
