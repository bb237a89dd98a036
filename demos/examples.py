"""Example inputs for the tabs, rendered once by the procedural data generators (deterministic by
seed) into a cache folder, so that one click on an example gives a result and the repo ships no
image files. `known_highres` lets the super-resolution tab show PSNR for its own examples.

The labels, depth and pose examples are mostly what a person draws (`taming_lite.data.user_style`'s named
examples: a sea under snowy mountains, a near wall on the right, arms up ...), with one or two renders of the
training renderer kept beside them: `label_maps`, `depth_maps` (the same entries as `landscapes`, a "labels"
or "depth" file each) and `pose_presets`."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

_lock = threading.Lock()
EXAMPLE_SEEDS = (3, 7, 11)
POSE_SEEDS = (5, 8)


def cache_dir() -> Path:
    d = Path(os.environ.get("TAMING_LITE_EXAMPLES", Path(tempfile.gettempdir()) / "taming_lite_examples"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _save(arr: np.ndarray, name: str) -> str:
    path = cache_dir() / name
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}.png")
        Image.fromarray(arr).save(tmp)
        os.replace(tmp, path)
    return str(path)


def _digest(rgb: np.ndarray) -> str:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return hashlib.sha256(str(rgb.shape).encode() + rgb.tobytes()).hexdigest()


@lru_cache(maxsize=None)
def landscapes(size: int) -> list[dict]:
    """[{image, depth, labels}] file paths of landscapes rendered at size x size."""
    from taming_lite.data.labels import colorize
    from taming_lite.data.landscape import render

    out = []
    with _lock:
        for s in EXAMPLE_SEEDS:
            ls = render(seed=s, height=size, width=size)
            out.append(dict(
                image=_save(ls.image, f"landscape_{s}_{size}.png"),
                depth=_save(np.round(ls.depth * 255).astype(np.uint8), f"depth_{s}_{size}.png"),
                labels=_save(colorize(ls.labels), f"labels_{s}_{size}.png"),
            ))
    return out


def _named(arr: np.ndarray, kind: str, name: str, size: int) -> str:
    """A named example's file; its name carries a digest of the content (a changed drawing is a new file)."""
    slug = "".join(c if c.isalnum() else "_" for c in name)
    return _save(arr, f"user_{kind}_{slug}_{size}_{_digest(np.atleast_3d(arr))[:10]}.png")


@lru_cache(maxsize=None)
def label_maps(size: int) -> list[dict]:
    """[{name, labels}]: the named user-style label maps (palette PNGs), then one render's map."""
    from taming_lite.data.labels import colorize
    from taming_lite.data.user_style import NAMED_LABEL_MAPS, named_label_map

    with _lock:
        out = [dict(name=n, labels=_named(colorize(named_label_map(n, size, size)), "labels", n, size))
               for n in NAMED_LABEL_MAPS]
    return out + [dict(name=f"render {EXAMPLE_SEEDS[0]}", labels=landscapes(size)[0]["labels"])]


@lru_cache(maxsize=None)
def depth_maps(size: int) -> list[dict]:
    """[{name, depth}]: the named user-style depth maps (8-bit PNGs, near = white), then one render's depth."""
    from taming_lite.data.user_style import NAMED_DEPTH_MAPS, named_depth_map

    with _lock:
        out = [dict(name=n, depth=_named(np.round(named_depth_map(n, size, size) * 255).astype(np.uint8), "depth", n,
                                         size)) for n in NAMED_DEPTH_MAPS]
    return out + [dict(name=f"render {EXAMPLE_SEEDS[0]}", depth=landscapes(size)[0]["depth"])]


_HIGHRES: dict[str, str] = {}


@lru_cache(maxsize=None)
def superres(size: int, factor: int) -> list[str]:
    """Low-resolution example inputs (area-downsampled by `factor`); their high-res originals are
    remembered by content hash for PSNR."""
    from taming_lite.data.human import render as render_human
    from taming_lite.data.landscape import render

    out = []
    with _lock:
        highs = [render(seed=s, height=size, width=size).image for s in EXAMPLE_SEEDS[:2]]
        highs.append(render_human(POSE_SEEDS[0], size, size).image)
        for i, hi in enumerate(highs):
            lo = np.asarray(Image.fromarray(hi).resize((size // factor, size // factor), Image.BOX))
            _HIGHRES[_digest(lo)] = _save(hi, f"sr_high_{i}_{size}.png")
            out.append(_save(lo, f"sr_low_{i}_{size}_x{factor}.png"))
    return out


def known_highres(lowres_rgb: np.ndarray) -> np.ndarray | None:
    path = _HIGHRES.get(_digest(lowres_rgb))
    return None if path is None else np.asarray(Image.open(path).convert("RGB"))


RENDERED_POSES = ("waving", "t_pose")  # presets of the human renderer kept among the user-style poses


@lru_cache(maxsize=None)
def pose_presets(size: int) -> dict[str, str]:
    """Preset name -> keypoints JSON at size x size: the named user-style skeletons (`user_style.NAMED_POSES`)
    first, then the renderer's figure in RENDERED_POSES."""
    from taming_lite.data.human import render
    from taming_lite.data.user_style import NAMED_POSES, named_pose

    from .inputs import keypoints_to_json

    out = {name: keypoints_to_json(named_pose(name, size, size), size, size) for name in NAMED_POSES}
    for name in RENDERED_POSES:
        out[name] = keypoints_to_json(render(POSE_SEEDS[0], size, size, pose=name).keypoints, size, size)
    return out


def openpose_json(keypoints_json: str) -> str:
    """The same keypoints in OpenPose's output layout (an example of the accepted upload format)."""
    data = json.loads(keypoints_json)
    flat = [float(v) for kp in data["keypoints"] for v in kp]
    return json.dumps({"canvas_width": data["width"], "canvas_height": data["height"],
                       "people": [{"pose_keypoints_2d": flat}]})
