"""Regenerate docs/contact_sheet.png: 16 landscapes (image | depth | labels), 16 humans (image | skeleton);
with --follow, docs/contact_sheet_follow.png: the training pairs of stage 2n (16 of the layout mix: layout-first
renders, composites, 3D renders; 16 humans of the wide-pose source).

    python -m scripts.make_contact_sheet [--out docs/contact_sheet.png] [--size 128] [--follow]
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from taming_lite.data import colorize, render_human, render_landscape
from taming_lite.data.datasets import render_arrays

GAP = 4


def _grid(tiles, cols, bg=255):
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + cols - 1) // cols
    out = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP, 3), bg, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + GAP): r * (h + GAP) + h, c * (w + GAP): c * (w + GAP) + w] = t
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="default: docs/contact_sheet.png (--follow: contact_sheet_follow.png)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--follow", action="store_true", help="the training sources of stage 2n (layout, human_wide)")
    args = ap.parse_args()
    docs = Path(__file__).resolve().parents[1] / "docs"
    args.out = args.out or str(docs / ("contact_sheet_follow.png" if args.follow else "contact_sheet.png"))
    S = args.size
    land = []
    for seed in range(16):
        s = render_arrays("layout", (7, seed), S, S) if args.follow else vars(render_landscape(seed, S, S))
        depth = np.repeat((s["depth"] * 255).astype(np.uint8)[..., None], 3, axis=2)
        land.append(np.concatenate([s["image"], depth, colorize(s["labels"])], axis=1))
    hum = []
    for seed in range(16):
        s = render_arrays("human_wide", (8, seed), S, S * 3 // 4) if args.follow else vars(render_human(seed, S, S * 3 // 4))
        hum.append(np.concatenate([s["image"], s["skeleton"]], axis=1))
    top = _grid(land, 4)
    bottom = _grid(hum, 8)
    w = max(top.shape[1], bottom.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    sheet = np.concatenate([pad(top), np.full((3 * GAP, w, 3), 255, np.uint8), pad(bottom)], axis=0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
