"""Sample sheets of the shipped models: one row per held-out condition, condition | 4 samples | ground truth.

    python -m scripts.make_sample_sheets                      # all five tasks -> docs/samples/<task>.png
    python -m scripts.make_sample_sheets --tasks pose --rows 4
    python -m scripts.make_sample_sheets --tasks vqgan_image  # reconstructions: render | reconstruction pairs

Tiles are the decoder's output size (a 128-px decoder: 128-px tiles, the ground truth rendered at 128 px,
the condition enlarged by nearest neighbour).

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

from taming_lite.checkpoints import load_pretrained
from taming_lite.data.labels import colorize
from taming_lite.evaluate import _dataset, _grid, condition_key
from taming_lite.tasks import TASK_NAMES as TASKS, tensor_to_rgb

RECONSTRUCTIONS = "vqgan_image"


def to_rgb(x: torch.Tensor, size: int) -> np.ndarray:
    """(C, h, w) in [-1, 1] -> (size, size, 3) uint8; 1 channel as grey, smaller images by nearest."""
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    if x.shape[-1] != size:
        x = F.interpolate(x[None], size=(size, size), mode="nearest")[0]
    return tensor_to_rgb(x[None])[0]


def condition_picture(task: str, item: dict, cond_key: str | None, size: int) -> np.ndarray:
    """The condition of a held-out item, shown at size x size px."""
    if task == "labels":
        return np.asarray(Image.fromarray(colorize(item["label_ids"].numpy())).resize((size, size), Image.NEAREST))
    if task == "completion":
        img = item["image"].clone()
        img[:, img.shape[-2] // 2 :] = 0.0  # grey: to be sampled
        return to_rgb(img, size)
    return to_rgb(item[cond_key], size)


def output_size(model) -> int:
    """Pixels of a decoded image's side: the first stage's input size x upsample / downsample factor."""
    fs = model.first_stage_model.config if hasattr(model, "first_stage_model") else model.config
    return fs.resolution * fs.upsample_factor // fs.downsample_factor


@torch.no_grad()
def sheet(task: str, weights: Path, rows: int, samples: int, gap: int = 2) -> Image.Image:
    model = load_pretrained(weights / task).eval()
    size, h = _grid(model)
    cond_key = condition_key(model, task)
    ds = _dataset(task, size, rows)
    S = output_size(model)
    ds_out = ds if S == size else _dataset(task, S, rows)  # the ground truth at the output size
    cols = samples + 2
    out = np.full((rows * (S + gap) - gap, cols * (S + gap) - gap, 3), 255, np.uint8)
    for r in range(rows):
        item = ds[r]
        x = item["image"][None]
        _, z = model.encode_to_z(x)
        _, ci = model.encode_to_c(item[cond_key][None] if cond_key else x)
        given = z[:, : h * h // 2] if task == "completion" else z[:, :0]
        tiles = [condition_picture(task, item, cond_key, S)]
        for seed in range(samples):
            tok = model.sample(given, ci, steps=h * h - given.shape[1], sample=True, top_k=100, seed=seed)
            tiles.append(to_rgb(model.decode_to_img(tok, (1, 0, h, h))[0], S))
        tiles.append(to_rgb(ds_out[r]["image"], S))
        for c, tile in enumerate(tiles):
            y0, x0 = r * (S + gap), c * (S + gap)
            out[y0 : y0 + S, x0 : x0 + S] = tile
    return Image.fromarray(out)


@torch.no_grad()
def reconstruction_sheet(weights: Path, rows: int, pairs: int = 4, gap: int = 2) -> Image.Image:
    """Held-out landscapes (even columns: the render at the decoder's output size) and the image VQGAN's
    reconstructions of their renders at its input size (odd columns)."""
    vq = load_pretrained(weights / RECONSTRUCTIONS).eval()
    size, S = vq.config.resolution, output_size(vq)
    n = rows * pairs
    ds, ds_out = _dataset("completion", size, n), _dataset("completion", S, n)
    out = np.full((rows * (S + gap) - gap, 2 * pairs * (S + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, pairs)
        rec = vq.reconstruct(ds[i]["image"][None])[0]
        for k, tile in enumerate((to_rgb(ds_out[i]["image"], S), to_rgb(rec, S))):
            y0, x0 = r * (S + gap), (2 * c + k) * (S + gap)
            out[y0 : y0 + S, x0 : x0 + S] = tile
    return Image.fromarray(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights")
    p.add_argument("--tasks", nargs="*", default=list(TASKS) + [RECONSTRUCTIONS], choices=TASKS + (RECONSTRUCTIONS,))
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--scale", type=int, default=None,
                   help="nearest-neighbour enlargement of the saved sheet (default: 2 for 64-px tiles, 1 from 128)")
    p.add_argument("--out", default="docs/samples")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        if task == RECONSTRUCTIONS:
            img = reconstruction_sheet(Path(args.weights), args.rows)
            path = Path(args.out) / f"{task}_reconstructions.png"
            what = f"{args.rows} rows x 4 (render | reconstruction)"
        else:
            img, path = sheet(task, Path(args.weights), args.rows, args.samples), Path(args.out) / f"{task}.png"
            what = f"{args.rows} conditions x ({args.samples} samples + condition + ground truth)"
        tile = (img.height + 2) // args.rows - 2
        scale = args.scale or (2 if tile < 128 else 1)
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        img.save(path, optimize=True)
        print(f"{path}: {what}, {tile}-px tiles")


if __name__ == "__main__":
    main()
