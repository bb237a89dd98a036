"""Your own data: a folder of images with optional aligned side files (numpy + Pillow).

Layout (one stem per sample)::

    photos/
      beach.png                 the image (also .jpg .jpeg .webp .bmp)
      beach.depth.png           optional: depth, grayscale 8 or 16 bit, near = bright
      beach.labels.png          optional: COCO-Stuff ids as pixel values (mode L or P),
                                or an RGB painting in the LANDSCAPE_CLASSES palette
      beach.keypoints.json      optional: 18 OpenPose keypoints (formats: see load_keypoints)

Images of any mode are converted to RGB: palette (P) through its palette, 16-bit
(I;16, I) scaled to 8 bit, grayscale (L) replicated, alpha (LA, RGBA, PA)
composited over white.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .human import KEYPOINT_NAMES, _as_keypoints
from .labels import ids_to_index, snap_to_labels

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
SIDE_FILES = {"depth": ".depth.png", "labels": ".labels.png", "keypoints": ".keypoints.json"}


@dataclass
class FolderItem:
    stem: str
    image: Path
    depth: Path | None = None
    labels: Path | None = None
    keypoints: Path | None = None


def scan_folder(root, require: tuple[str, ...] = ()) -> list[FolderItem]:
    """List the samples of a folder, sorted by stem.

    ``require`` names side files every sample must have ("depth", "labels",
    "keypoints"); a missing one raises ``FileNotFoundError`` listing the stems.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist or is not a folder")
    for r in require:
        if r not in SIDE_FILES:
            raise ValueError(f"unknown side file {r!r}; choose from {list(SIDE_FILES)}")
    items = []
    for p in sorted(root.iterdir()):
        name = p.name.lower()
        if not p.is_file() or not name.endswith(IMAGE_EXTS):
            continue
        if name.endswith(".depth.png") or name.endswith(".labels.png"):
            continue
        stem = p.name[: -len(p.suffix)]
        item = FolderItem(stem=stem, image=p)
        for key, suffix in SIDE_FILES.items():
            side = root / (stem + suffix)
            if side.is_file():
                setattr(item, key, side)
        items.append(item)
    if not items:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTS)}) found in {str(root)!r}")
    for r in require:
        missing = [it.stem for it in items if getattr(it, r) is None]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise FileNotFoundError(
                f"{len(missing)} of {len(items)} images in {str(root)!r} have no {SIDE_FILES[r]} file "
                f"(e.g. {shown}); add <stem>{SIDE_FILES[r]} next to each <stem>.png")
    # side files without an image are almost always a naming mistake
    stems = {it.stem for it in items}
    orphans = [p.name for p in root.iterdir()
               if any(p.name.endswith(s) for s in SIDE_FILES.values())
               and p.name[: -len(next(s for s in SIDE_FILES.values() if p.name.endswith(s)))] not in stems]
    if orphans:
        raise FileNotFoundError(f"side files without a matching image in {str(root)!r}: {sorted(orphans)[:5]}")
    return items


def _open(path) -> Image.Image:
    try:
        im = Image.open(path)
        im.load()
        return im
    except Exception as e:  # PIL raises many kinds
        raise ValueError(f"cannot read image {str(path)!r}: {e}") from None


def _sixteen_to_float(im: Image.Image) -> np.ndarray:
    a = np.asarray(im).astype(np.float64)
    return a / 65535.0


def load_image(path) -> np.ndarray:
    """Any image file -> RGB uint8 (H, W, 3); see the module docstring for modes."""
    im = _open(path)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = _sixteen_to_float(im) if im.mode != "I" or np.asarray(im).max() > 255 else np.asarray(im) / 255.0
        g = np.floor(np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "F":
        g = np.floor(np.clip(np.asarray(im), 0, 1) * 255 + 0.5).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    if im.mode in ("LA", "PA", "RGBA", "La", "RGBa"):
        rgba = np.asarray(im.convert("RGBA")).astype(np.float64) / 255.0
        a = rgba[..., 3:4]
        rgb = rgba[..., :3] * a + (1.0 - a)
        return np.floor(rgb * 255 + 0.5).astype(np.uint8)
    return np.asarray(im.convert("RGB"))


def load_depth(path) -> np.ndarray:
    """Depth/disparity file -> float32 (H, W) in [0, 1], near = bright (values are not renormalised)."""
    im = _open(path)
    if im.mode in ("I;16", "I;16B", "I;16L"):
        d = _sixteen_to_float(im)
    elif im.mode == "I":
        a = np.asarray(im).astype(np.float64)
        d = a / (65535.0 if a.max() > 255 else 255.0)
    elif im.mode == "F":
        d = np.asarray(im).astype(np.float64)
    else:
        if im.mode not in ("L", "LA"):
            # colour depth maps: use the luminance
            im = im.convert("L")
        d = np.asarray(im.convert("L")).astype(np.float64) / 255.0
    return np.clip(d, 0.0, 1.0).astype(np.float32)


def load_labels(path) -> np.ndarray:
    """Label file -> COCO-Stuff ids uint8 (H, W).

    L / P images hold ids as pixel values (a P image's palette is ignored);
    RGB(A) images are paintings snapped to the nearest palette colour.
    Unknown ids raise ``ValueError``.
    """
    im = _open(path)
    if im.mode in ("L", "P"):
        ids = np.asarray(im).astype(np.uint8)
    elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im)
        if a.max() > 255:
            raise ValueError(f"{str(path)!r}: label ids must be < 256, found {int(a.max())}")
        ids = a.astype(np.uint8)
    else:
        ids = snap_to_labels(np.asarray(im.convert("RGB")))
    try:
        ids_to_index(ids)
    except ValueError as e:
        raise ValueError(f"{str(path)!r}: {e}") from None
    return ids


def load_keypoints(path) -> np.ndarray:
    """Keypoints JSON -> float32 (18, 3) (x, y, visibility) in pixels.

    Accepted: a list of 18 ``[x, y]`` / ``[x, y, v]`` (``null`` = missing), a flat
    list of 36 or 54 numbers, ``{"keypoints": ...}`` with either, or OpenPose
    output ``{"people": [{"pose_keypoints_2d": [...]}]}`` (first person; a
    confidence of 0 means missing).
    """
    try:
        data = json.loads(Path(path).read_text())
    except Exception as e:
        raise ValueError(f"cannot parse keypoints JSON {str(path)!r}: {e}") from None
    try:
        if isinstance(data, dict) and "people" in data:
            if not data["people"]:
                raise ValueError("the OpenPose file lists no people")
            data = data["people"][0]["pose_keypoints_2d"]
        elif isinstance(data, dict) and "keypoints" in data:
            data = data["keypoints"]
        kp = _as_keypoints(data)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{str(path)!r}: {e}. Expected 18 keypoints in the order {KEYPOINT_NAMES}") from None
    kp[~np.isfinite(kp[:, 0]) | ~np.isfinite(kp[:, 1]), 2] = 0.0
    kp[:, :2] = np.nan_to_num(kp[:, :2], nan=-1.0)
    return kp.astype(np.float32)


def load_item(item: FolderItem, need: tuple[str, ...] = ()) -> dict:
    """Read one sample's image and side files (those in ``need``, or all present), check alignment."""
    out = {"image": load_image(item.image)}
    H, W = out["image"].shape[:2]
    for key in ("depth", "labels", "keypoints"):
        path = getattr(item, key)
        if path is None:
            if key in need:
                raise FileNotFoundError(f"{item.stem}: missing {item.stem}{SIDE_FILES[key]}")
            continue
        if need and key not in need:
            continue
        if key == "keypoints":
            out[key] = load_keypoints(path)
            continue
        arr = load_depth(path) if key == "depth" else load_labels(path)
        if arr.shape != (H, W):
            raise ValueError(f"{str(path)!r} is {arr.shape[1]}x{arr.shape[0]} (WxH) but its image "
                             f"{item.image.name!r} is {W}x{H}; side files must be pixel-aligned")
        out[key] = arr
    return out
