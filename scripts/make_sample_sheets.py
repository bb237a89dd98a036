"""Sample sheets of the shipped models, sampled through `Pipeline` as the app samples them.

    python -m scripts.make_sample_sheets                      # held-out renders, all five tasks -> docs/samples/<task>.png
    python -m scripts.make_sample_sheets --tasks pose --rows 4
    python -m scripts.make_sample_sheets --user-style         # drawn conditions -> docs/samples/<task>_user_style.png
    python -m scripts.make_sample_sheets --tasks vqgan_image  # reconstructions: render | reconstruction pairs

Held-out sheets: one row per held-out render (the evaluation's seed, never seen in training):
condition | 4 samples | ground truth. User-style sheets (labels, depth, pose): one row per drawn condition,
the named examples of `taming_lite.data.user_style` first (the painted maps, drawn depth maps and poses the
app offers), then its random ones: condition | 4 samples. Samples are seeds 0..3 with the model's defaults
(top-k 100, the guidance of its config; `--guidance` overrides). Tiles are the decoder's output size (a
128-px decoder: 128-px tiles, the ground truth rendered at 128 px, the condition enlarged by nearest
neighbour). Completion shows the given upper half over a grey lower half as its condition.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from taming_lite.checkpoints import load_pretrained
from taming_lite.data import user_style
from taming_lite.data.datasets import make_example
from taming_lite.data.labels import colorize
from taming_lite.evaluate import _dataset, condition_key, held_out_condition
from taming_lite.images import resize_rgb, tensor_to_rgb
from taming_lite.pipeline import Pipeline
from taming_lite.tasks import TASK_NAMES as TASKS

RECONSTRUCTIONS = "vqgan_image"
GAP = 2


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


def samples_of(pipe: Pipeline, job, n: int, guidance: float | None) -> list[np.ndarray]:
    """n samples of a job, seeds 0..n-1, one image each (what the app shows for those seeds)."""
    return [pipe.sample(job, seed=s, num_samples=1, guidance=guidance)[0] for s in range(n)]


def grid(rows: list[list[np.ndarray]], S: int) -> Image.Image:
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (S + GAP) - GAP, cols * (S + GAP) - GAP, 3), 255, np.uint8)
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            out[r * (S + GAP): r * (S + GAP) + S, c * (S + GAP): c * (S + GAP) + S] = resize_rgb(tile, S, S, crop=False, resample=Image.NEAREST)
    return Image.fromarray(out)


@torch.no_grad()
def sheet(task: str, weights: Path, rows: int, samples: int, guidance: float | None = None) -> Image.Image:
    """Held-out renders: condition | samples | ground truth."""
    pipe = Pipeline.from_pretrained(weights / task, device="cpu")
    S, h = pipe.image_size, pipe.window[0]
    size = h * pipe.in_stride  # the renders' (input) size
    cond_key = condition_key(pipe.model, task)
    ds, ds_out = _dataset(task, size, rows), _dataset(task, S, rows)  # the ground truth at the output size
    out = []
    for r in range(rows):
        arrays = ds.arrays(r)
        item = make_example(task, arrays)
        job = pipe.prepare(held_out_condition(task, arrays, item, cond_key, S / size), size=(S, S),
                           given_rows=h // 2 if task == "completion" else 0)
        out.append([condition_picture(task, item, cond_key, S), *samples_of(pipe, job, samples, guidance),
                    to_rgb(ds_out[r]["image"], S)])
    return grid(out, S)


def user_conditions(task: str, rows: int, S: int) -> list:
    """The named user-style conditions of a task first, then random ones, `rows` in all, at the output size."""
    named = {"labels": (user_style.NAMED_LABEL_MAPS, user_style.named_label_map),
             "depth": (user_style.NAMED_DEPTH_MAPS, user_style.named_depth_map),
             "pose": (user_style.NAMED_POSES, user_style.named_pose)}[task]
    out = [named[1](name, S, S) for name in list(named[0])[:rows]]
    return out + user_style.conditions(task, rows - len(out), S)


@torch.no_grad()
def user_sheet(task: str, weights: Path, rows: int, samples: int, guidance: float | None = None) -> Image.Image:
    """Drawn (user-style) conditions: condition | samples."""
    pipe = Pipeline.from_pretrained(weights / task, device="cpu")
    S = pipe.image_size
    out = []
    for c in user_conditions(task, rows, S):
        job = pipe.prepare(c, size=(S, S))
        out.append([user_style.show(task, c, S, S), *samples_of(pipe, job, samples, guidance)])
    return grid(out, S)


@torch.no_grad()
def reconstruction_sheet(weights: Path, rows: int, pairs: int = 4) -> Image.Image:
    """Held-out landscapes (even columns: the render at the decoder's output size) and the image VQGAN's
    reconstructions of their renders at its input size (odd columns)."""
    vq = load_pretrained(weights / RECONSTRUCTIONS).eval()
    size = vq.config.resolution
    S = size * vq.config.upsample_factor // vq.config.downsample_factor
    n = rows * pairs
    ds, ds_out = _dataset("completion", size, n), _dataset("completion", S, n)
    out = [[] for _ in range(rows)]
    for i in range(n):
        rec = vq.reconstruct(ds[i]["image"][None])[0]
        out[i // pairs] += [to_rgb(ds_out[i]["image"], S), to_rgb(rec, S)]
    return grid(out, S)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights")
    p.add_argument("--tasks", nargs="*", default=None, choices=TASKS + (RECONSTRUCTIONS,),
                   help="default: all five and vqgan_image (--user-style: labels, depth, pose)")
    p.add_argument("--user-style", action="store_true", help="drawn conditions (taming_lite.data.user_style)")
    p.add_argument("--rows", type=int, default=None, help="default: 3 (--user-style: 8)")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--guidance", type=float, default=None, help="default: the model's")
    p.add_argument("--scale", type=int, default=None,
                   help="nearest-neighbour enlargement of the saved sheet (default: 2 for 64-px tiles, 1 from 128)")
    p.add_argument("--out", default="docs/samples")
    args = p.parse_args()
    tasks = args.tasks or (list(user_style.TASKS) if args.user_style else list(TASKS) + [RECONSTRUCTIONS])
    rows = args.rows or (8 if args.user_style else 3)
    if args.user_style and not set(tasks) <= set(user_style.TASKS):
        p.error(f"--user-style sheets exist for {', '.join(user_style.TASKS)}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for task in tasks:
        if task == RECONSTRUCTIONS:
            img = reconstruction_sheet(Path(args.weights), rows)
            path = Path(args.out) / f"{task}_reconstructions.png"
            what = f"{rows} rows x 4 (render | reconstruction)"
        elif args.user_style:
            img = user_sheet(task, Path(args.weights), rows, args.samples, args.guidance)
            path = Path(args.out) / f"{task}_user_style.png"
            what = f"{rows} drawn conditions x (condition + {args.samples} samples)"
        else:
            img = sheet(task, Path(args.weights), rows, args.samples, args.guidance)
            path = Path(args.out) / f"{task}.png"
            what = f"{rows} conditions x ({args.samples} samples + condition + ground truth)"
        tile = (img.height + GAP) // rows - GAP
        scale = args.scale or (2 if tile < 128 else 1)
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        img.save(path, optimize=True)
        print(f"{path}: {what}, {tile}-px tiles")


if __name__ == "__main__":
    main()
