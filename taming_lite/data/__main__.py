"""Cache procedural samples to disk.

    python -m taming_lite.data cache --source landscape --n 1000 --size 128 --out data/land
    python -m taming_lite.data cache --source human --n 500 --size 256 --width 192 --format npz --out data/hum

PNG output is a folder in the layout FolderDataset reads (``000000.png``,
``000000.depth.png`` 16-bit, ``000000.labels.png`` ids, ``000000.keypoints.json``);
npz output is ``shard_00000.npz`` files of stacked arrays for NpzDataset.
Sample i uses seed (seed, i), the same as ProceduralDataset item i.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .datasets import render_arrays


# layout: 3D renders, layout-first renders and composites; human_wide: half of the poses over the whole joint ranges
SOURCES = ("landscape", "human", "layout", "human_wide")


def _write_png(out: Path, name: str, arrays: dict) -> None:
    Image.fromarray(arrays["image"]).save(out / f"{name}.png")
    if "depth" in arrays:
        d16 = np.floor(arrays["depth"].astype(np.float64) * 65535.0 + 0.5).astype(np.uint16)
        Image.fromarray(d16).save(out / f"{name}.depth.png")
    if "labels" in arrays:
        Image.fromarray(arrays["labels"]).save(out / f"{name}.labels.png")
    if "keypoints" in arrays:
        kp = [[round(float(x), 2), round(float(y), 2), int(v)] for x, y, v in arrays["keypoints"]]
        (out / f"{name}.keypoints.json").write_text(json.dumps({"keypoints": kp}))


def cache(source: str, n: int, height: int, width: int, seed: int, out, fmt: str = "png",
          shard_size: int = 1000, start: int = 0, progress: bool = True) -> Path:
    """Render samples ``start .. start+n-1`` of ``source`` into ``out``; returns the folder."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if fmt not in ("png", "npz"):
        raise ValueError(f"format must be 'png' or 'npz', got {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buf: dict[str, list] = {}
    seeds: list = []
    shard = start // shard_size if fmt == "npz" else 0
    for i in tqdm(range(start, start + n), desc=f"{source} {height}x{width}", unit="img", disable=not progress):
        arrays = render_arrays(source, (seed, i), height, width)
        if fmt == "png":
            _write_png(out, f"{i:06d}", arrays)
            continue
        for k, v in arrays.items():
            buf.setdefault(k, []).append(v)
        seeds.append(i)
        if len(seeds) == shard_size or i == start + n - 1:
            np.savez_compressed(out / f"shard_{shard:05d}.npz", seeds=np.array(seeds),
                                **{k: np.stack(v) for k, v in buf.items()})
            buf, seeds, shard = {}, [], shard + 1
    meta = dict(source=source, n=n, start=start, height=height, width=width, seed=seed, format=fmt)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m taming_lite.data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache", help="render N samples to a PNG folder or npz shards")
    c.add_argument("--source", choices=SOURCES, default="landscape")
    c.add_argument("--n", type=int, required=True, help="number of samples")
    c.add_argument("--size", type=int, default=128, help="height in px (64..512 recommended)")
    c.add_argument("--width", type=int, default=None, help="width in px (default: = size)")
    c.add_argument("--seed", type=int, default=0, help="base seed; sample i uses (seed, i)")
    c.add_argument("--start", type=int, default=0, help="index of the first sample")
    c.add_argument("--format", choices=("png", "npz"), default="png")
    c.add_argument("--shard-size", type=int, default=1000)
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    out = cache(args.source, args.n, args.size, args.width or args.size, args.seed, args.out,
                args.format, args.shard_size, args.start, progress=not args.quiet)
    print(f"wrote {args.n} {args.source} samples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
