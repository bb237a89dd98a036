"""The app's input layer: everything a user (or an API client) sends is checked here.

Plain functions, no Gradio: each returns clean numpy data or raises `InputError` (a ValueError)
with a message that says what to do. The tabs turn an InputError into a `gr.Error`.

    load_image(path)            -> PIL image, refused by pixel count *before* decoding
    to_rgb(img) / load_rgb      -> (H, W, 3) uint8 from any PIL mode (documented below)
    load_depth(path, invert)    -> (H, W) float32 in [0, 1], near = 1 (bright)
    label_map_from_rgb(rgb)     -> (H, W) COCO-Stuff ids, off-palette colours snapped (and said so)
    canvas_to_rgb(editor_value) -> (H, W, 3) uint8 of a gr.ImageEditor value; refuses an empty canvas
    parse_keypoints(text, h, w) -> (18, 3) float32 x, y, visibility from JSON (plain or OpenPose)
    sampling_params(...)        -> (SamplingSettings, samples): the controls, validated once
    snap_size(n, stride, ...)   -> an output size that is a multiple of the token stride

Image modes (PIL):  1, L, P, RGB -> RGB;  LA, RGBA, P with transparency -> composited on white;
CMYK, YCbCr, LAB, HSV -> converted to RGB;  I;16 (16-bit) -> divided by 257;  I (32-bit int) and
F (float) -> stretched from their min..max to 0..255.  EXIF orientation is applied; animated
images use their first frame.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from taming_lite.sampling import SamplingSettings

MAX_PIXELS = 4096 * 4096  # largest image accepted (about 16.8 megapixels)
MAX_SIDE = 16384
MAX_JSON_CHARS = 200_000
MAX_SEED = 2**31 - 1
MAX_SAMPLES = 8


class InputError(ValueError):
    """Bad user input; the message says what to do."""


# --------------------------------------------------------------------------- images


def _check_size(w: int, h: int, what: str = "image") -> None:
    if w < 1 or h < 1:
        raise InputError(f"the {what} is empty ({w} x {h} pixels); upload a real image")
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        raise InputError(f"the {what} is {w} x {h} = {w * h:,} pixels, over the limit of {MAX_PIXELS:,} pixels "
                         f"(4096 x 4096); resize it and try again")


def load_image(source) -> Image.Image:
    """Open a path, bytes or PIL image; check its size from the header before any pixel is decoded;
    apply EXIF orientation; first frame of an animation. Returns a loaded PIL image (any mode)."""
    if source is None:
        raise InputError("no image given; upload an image or pick an example")
    if isinstance(source, Image.Image):
        _check_size(*source.size)
        return source
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size == 0:
            raise InputError(f"expected an (H, W) or (H, W, C) image array, got shape {source.shape}")
        _check_size(source.shape[1], source.shape[0])
        return Image.fromarray(_array_to_uint8(source))
    if isinstance(source, (bytes, bytearray)):
        fp, name = io.BytesIO(source), "the upload"
    else:
        path = Path(os.fspath(source))
        if not path.is_file():
            raise InputError(f"image file not found: {path.name}; upload it again")
        fp, name = str(path), path.name
    with _image_errors(name):
        im = Image.open(fp)  # reads the header only
        _check_size(*im.size)
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im.load()
        im = ImageOps.exif_transpose(im) or im
    return im


@contextlib.contextmanager
def _image_errors(name: str):
    """PIL's errors while opening or decoding `name` -> InputError saying what to do."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{name} claims a size over {MAX_PIXELS:,} pixels (a decompression bomb?); "
                         "upload an image of at most 4096 x 4096") from None
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image PIL can read; upload a PNG, JPEG or WebP file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InputError(f"could not read {name} ({str(e)[:120]}); the file may be truncated or corrupt, "
                         "upload it again or save it as PNG") from None


def check_image_file(path) -> None:
    """Header-only check of an uploaded file (no pixel decoded): readable as an image and within
    the pixel limit. Raises InputError otherwise."""
    name = Path(os.fspath(path)).name
    with _image_errors(name), Image.open(os.fspath(path)) as im:
        _check_size(*im.size)


def _array_to_uint8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError("the image contains NaN or infinite values; fix or fill them and try again")
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1.0:
        return np.round(a * 255).astype(np.uint8)
    if lo >= 0 and hi <= 255:
        return np.round(a).astype(np.uint8)
    return _stretch(a)


def _stretch(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.full(a.shape, 128, np.uint8)
    return np.round((a - lo) / (hi - lo) * 255).astype(np.uint8)


def _on_white(im: Image.Image) -> Image.Image:
    im = im.convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, im).convert("RGB")


def to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8, as documented at the top of this module."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im, dtype=np.float64) / 257.0
        g = np.round(a).clip(0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all():
            raise InputError("the image contains NaN or infinite values; fix or fill them and try again")
        return np.repeat(_stretch(a)[..., None], 3, axis=2)
    if mode in ("LA", "RGBA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        return np.asarray(_on_white(im))
    return np.asarray(im.convert("RGB"))


def load_rgb(source) -> np.ndarray:
    return to_rgb(load_image(source))


# --------------------------------------------------------------------------- depth


def depth_from_array(a: np.ndarray, invert: bool = False) -> tuple[np.ndarray, list[str]]:
    """(H, W) or (H, W, C) numbers -> (H, W) float32 in [0, 1] (near = 1), and notes for the user.
    Refuses NaN / inf; a constant map is accepted (flat) with a note."""
    notes = []
    a = np.asarray(a)
    if a.ndim == 3:
        if a.shape[2] in (3, 4):
            a = a[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        elif a.shape[2] == 1:
            a = a[..., 0]
    if a.ndim != 2 or a.size == 0:
        raise InputError(f"a depth map must be a 2D grid of numbers, got shape {a.shape}")
    _check_size(a.shape[1], a.shape[0], "depth map")
    if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
        raise InputError(f"a depth map must hold numbers, got {a.dtype}")
    a = a.astype(np.float64)
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise InputError(f"the depth map has {bad} NaN or infinite values; fill them (e.g. with the farthest "
                         "depth) and try again")
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        notes.append("the depth map is constant: the model sees a flat wall")
        d = np.full(a.shape, 0.5, np.float32)
    else:
        d = ((a - lo) / (hi - lo)).astype(np.float32)
    if invert:
        d = 1.0 - d
        notes.append("depth inverted (now near = bright)")
    return d, notes


def load_depth(source, invert: bool = False) -> tuple[np.ndarray, list[str]]:
    """A depth image (any mode, 8/16-bit, float TIFF) or a .npy file -> (depth in [0, 1], notes).
    Convention: near = bright = 1. Tick `invert` for maps where near is dark."""
    if source is None:
        raise InputError("no depth map given; upload one (near = bright), draw one, or pick an example")
    if isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".npy"):
        try:
            arr = np.load(os.fspath(source), allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError, EOFError) as e:
            raise InputError(f"could not read the .npy depth file ({str(e)[:100]}); save it with np.save") from None
        if arr.ndim >= 2:
            _check_size(arr.shape[1], arr.shape[0], "depth map")
        return depth_from_array(np.array(arr), invert)
    im = load_image(source)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return depth_from_array(np.asarray(im), invert)
    return depth_from_array(to_rgb(im), invert)


# --------------------------------------------------------------------------- label maps


def label_map_from_rgb(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Painted or uploaded colours (H, W, 3) -> COCO-Stuff ids (H, W) by nearest palette colour,
    with a note when some pixels were not palette colours."""
    from taming_lite.data.labels import LABEL_IDS, LABEL_NAMES, PALETTE, snap_to_labels

    rgb = np.asarray(rgb)[..., :3]
    ids = snap_to_labels(rgb)
    exact = (rgb.astype(np.int32)[..., None, :] == PALETTE.astype(np.int32)).all(-1).any(-1)
    notes = []
    off = 1.0 - float(exact.mean())
    if off > 0:
        notes.append(f"{off:.1%} of the pixels were not palette colours and were snapped to the nearest class")
    present = [LABEL_NAMES[int(i)] for i in LABEL_IDS if (ids == i).any()]
    if len(present) == 1:
        notes.append(f"a single class ({present[0]}) covers the whole map")
    return ids, notes


def canvas_to_rgb(value) -> np.ndarray:
    """A gr.ImageEditor value {'background', 'layers', 'composite'} (numpy RGBA) -> (H, W, 3) uint8.
    An empty canvas (no background, nothing painted) is refused."""
    if value is None:
        raise InputError("the canvas is empty: paint on it with the palette colours, or upload a label map")
    if not isinstance(value, dict):
        return load_rgb(value)
    bg = value.get("background")
    layers = [x for x in (value.get("layers") or []) if x is not None]
    painted = any(_has_alpha_content(x) for x in layers)
    if (bg is None or not _has_alpha_content(bg)) and not painted:
        raise InputError("the canvas is empty: paint on it with the palette colours, or upload a label map")
    comp = value.get("composite")
    if comp is None and not painted:  # a loaded map not painted over (the browser sends no composite then)
        comp = bg
    if comp is None:
        raise InputError("the canvas could not be read; paint again or upload a label map")
    return load_rgb(comp)


def _has_alpha_content(x) -> bool:
    if isinstance(x, (str, os.PathLike)):
        x = np.asarray(load_image(x).convert("RGBA"))
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[2] == 4:
        return bool((a[..., 3] > 0).any())
    return a.size > 0


# --------------------------------------------------------------------------- keypoints

N_KEYPOINTS = 18


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: expected a number, got {json.dumps(v)[:40]}")
    v = float(v)
    if not math.isfinite(v):
        raise InputError(f"{where}: expected a finite number, got {v}")
    return v


def parse_keypoints(text, height: int, width: int) -> np.ndarray:
    """Keypoints JSON -> (18, 3) float32 (x, y, visibility), pixel coordinates in a width x height canvas.

    Accepted forms:
      - 18 entries [x, y] or [x, y, v] (v <= 0 or null entry: keypoint missing), in OpenPose order;
      - a flat list of 36 or 54 numbers;
      - {"keypoints": <either of the above>, "width": W, "height": H};
      - OpenPose output {"people": [{"pose_keypoints_2d": [54 numbers]}], "canvas_width": W, "canvas_height": H}
        (the first person).
    Coordinates are pixels of the given canvas size (default: the model's image size) and are
    rescaled to (width, height). A visible keypoint outside the canvas is refused.
    """
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", errors="replace")
    if isinstance(text, str):
        if not text.strip():
            raise InputError("the keypoints JSON is empty; pick a preset pose or paste 18 [x, y] pairs")
        if len(text) > MAX_JSON_CHARS:
            raise InputError(f"the keypoints JSON is {len(text):,} characters, over the {MAX_JSON_CHARS:,} limit")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"the keypoints are not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                             "expected a list of 18 [x, y] pairs or OpenPose JSON") from None
    else:
        data = text
    canvas_w, canvas_h = width, height
    if isinstance(data, dict):
        if "people" in data:
            people = data["people"]
            if not isinstance(people, list) or not people:
                raise InputError("OpenPose JSON has no people; expected people[0].pose_keypoints_2d")
            if not isinstance(people[0], dict) or "pose_keypoints_2d" not in people[0]:
                raise InputError("OpenPose JSON: people[0] has no 'pose_keypoints_2d'")
            kp = people[0]["pose_keypoints_2d"]
            canvas_w = data.get("canvas_width", canvas_w)
            canvas_h = data.get("canvas_height", canvas_h)
        elif "keypoints" in data:
            kp = data["keypoints"]
            canvas_w = data.get("width", canvas_w)
            canvas_h = data.get("height", canvas_h)
        else:
            raise InputError("keypoints JSON object needs 'keypoints' (18 [x, y] pairs) or OpenPose 'people'")
        canvas_w = _number(canvas_w, "canvas width")
        canvas_h = _number(canvas_h, "canvas height")
        if canvas_w < 1 or canvas_h < 1 or canvas_w * canvas_h > MAX_PIXELS:
            raise InputError(f"canvas size {canvas_w:g} x {canvas_h:g} is not usable; give a positive size "
                             f"of at most {MAX_PIXELS:,} pixels")
    else:
        kp = data
    if not isinstance(kp, list):
        raise InputError(f"keypoints must be a list, got {type(kp).__name__}")
    from taming_lite.data.human import KEYPOINT_NAMES

    rows: list[list[float]] = []
    if kp and all(not isinstance(v, (list, type(None))) for v in kp):  # flat list of numbers
        if len(kp) not in (2 * N_KEYPOINTS, 3 * N_KEYPOINTS):
            raise InputError(f"a flat keypoint list needs 36 or 54 numbers (18 keypoints), got {len(kp)}")
        step = len(kp) // N_KEYPOINTS
        kp = [kp[i * step:(i + 1) * step] for i in range(N_KEYPOINTS)]
    if len(kp) != N_KEYPOINTS:
        raise InputError(f"expected {N_KEYPOINTS} keypoints in OpenPose order ({', '.join(KEYPOINT_NAMES)}), "
                         f"got {len(kp)}")
    for i, item in enumerate(kp):
        where = f"keypoint {i} ({KEYPOINT_NAMES[i]})"
        if item is None:
            rows.append([0.0, 0.0, 0.0])
            continue
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise InputError(f"{where}: expected [x, y] or [x, y, visibility], got {json.dumps(item)[:40]}")
        x, y = _number(item[0], where + " x"), _number(item[1], where + " y")
        v = _number(item[2], where + " visibility") if len(item) == 3 else 1.0
        if v > 0 and not (0 <= x <= canvas_w and 0 <= y <= canvas_h):
            raise InputError(f"{where} at ({x:g}, {y:g}) is outside the {canvas_w:g} x {canvas_h:g} canvas; "
                             "move it inside or set its visibility to 0")
        rows.append([x, y, 1.0 if v > 0 else 0.0])
    out = np.array(rows, dtype=np.float64)
    if not (out[:, 2] > 0).any():
        raise InputError("no keypoint is visible; give at least the neck and a few limbs")
    out[:, 0] *= width / canvas_w
    out[:, 1] *= height / canvas_h
    return out.astype(np.float32)


def keypoints_to_json(kp: np.ndarray, height: int, width: int) -> str:
    """(18, 3) keypoints -> the JSON form the pose tab edits."""
    pts = [[round(float(x), 1), round(float(y), 1), int(v > 0)] for x, y, v in np.asarray(kp)]
    body = ",\n".join("    " + json.dumps(p) for p in pts)
    return f'{{\n  "width": {int(width)},\n  "height": {int(height)},\n  "keypoints": [\n{body}\n  ]\n}}'


# --------------------------------------------------------------------------- sampling parameters


def _as_int(v, name: str) -> int:
    if isinstance(v, bool):
        raise InputError(f"{name} must be a whole number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number, got {v!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise InputError(f"{name} must be a whole number, got {v!r}")
    return int(f)


def sampling_params(seed, temperature, top_k, top_p, num_samples, vocab_size: int, settings=None,
                    guidance=None) -> tuple[SamplingSettings, int]:
    """The shared sampling controls -> (SamplingSettings, number of samples): the app's one validation of them.
    `settings(**user)` makes the SamplingSettings over the model's defaults (`Pipeline.settings`; default: over
    SamplingSettings' own); guidance None: the model's.

    The API's spellings become the library's: top_k 0 = no limit -> None (values above the vocabulary are
    clamped to it); top_p 1 = off -> None; seed must be in [0, 2**31 - 1]."""
    from taming_lite.sampling import SamplingSettings

    seed = _as_int(seed, "seed")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed must be between 0 and {MAX_SEED}, got {seed}")
    n = _as_int(num_samples, "number of samples")
    if not 1 <= n <= MAX_SAMPLES:
        raise InputError(f"number of samples must be between 1 and {MAX_SAMPLES}, got {n}")
    k = None if top_k is None else _as_int(top_k, "top-k")
    if k is not None and k < 0:
        raise InputError(f"top-k must be >= 0 (0 = no limit), got {k}")
    user = dict(seed=seed, temperature=temperature, top_k=min(k, vocab_size) if k else None, top_p=top_p)
    if guidance is not None:
        user["guidance"] = guidance
    try:
        return (settings or SamplingSettings.resolve)(**user), n
    except ValueError as e:
        raise InputError(str(e).replace("top_k", "top-k").replace("top_p", "top-p")) from None


def snap_size(value, stride: int, lo: int, hi: int, name: str = "size") -> tuple[int, str | None]:
    """Round a pixel size to a multiple of the token stride within [lo, hi]; (size, note or None)."""
    v = _as_int(round(float(value)) if isinstance(value, float) and math.isfinite(value) else value, name)
    snapped = int(min(max(round(v / stride) * stride, lo), hi))
    note = None if snapped == v else f"{name} {v} -> {snapped} (a multiple of {stride} between {lo} and {hi})"
    return snapped, note
