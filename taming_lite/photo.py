"""From a photo to a condition: depth, a label map or a pose estimated from a user's picture, as the paper's
conditional models were trained (D-RIN on MiDaS depth of ImageNet photos, S-FLCKR on segmentations of Flickr
landscapes, the pose model on keypoints detected in photos of people).

    pre = load("depth", "Intel/dpt-hybrid-midas", device="cuda")   # or a folder saved with save_pretrained
    found = pre(rgb)             # Detected: .condition (what the tab's pipeline takes), .shown (an RGB view), .notes

The estimators are `transformers` models (optional: TransformersMissing says how to install it), their files
resolved like every other model (taming_lite.hub.resolve_transformers: the HF cache first, HF_HUB_OFFLINE,
a quick HubUnavailable), loaded once per name, device and dtype, and kept (`load`).

Conversions (each tested on constructed inputs):
- depth: the estimators' output is relative inverse depth (disparity: near = large; MiDaS, DPT, Depth
  Anything); it is min-max normalised per image to [0, 1], near = 1, as the original repository prepared
  D-RIN's MiDaS maps (taming/data/imagenet.py: `(depth - min) / max(1e-8, max - min)`, then `2 * d - 1`,
  which our pipeline applies). A metric model's depth is turned into disparity (1 / depth) first.
- labels: every class of the COCO panoptic label set (Mask2Former, 133 classes) maps to one of the label
  tab's COCO-Stuff landscape ids or to UNKNOWN (`PANOPTIC_TO_LANDSCAPE`); unknown pixels (people, cars,
  buildings, roads ...) take the class of the nearest known pixel; a photo with no landscape class at all
  is refused with a message.
- pose: the person detector's largest "person" box (the choice said in the notes), ViTPose's 17 COCO
  keypoints in it, mapped onto our 18 OpenPose keypoints (`COCO_TO_OPENPOSE`): the neck is the
  shoulders' midpoint, a joint under the score threshold is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import hub
from .data.human import draw_skeleton
from .data.labels import LABEL_BY_NAME, colorize
from .device import default_dtype, pick_device

NONE = "None"  # the preprocessor choice that keeps the tab's input as the condition
INSTALL = "pip install 'transformers>=4.49'"  # ViTPose arrived in 4.49
# the real models, per tab: Hub repo id -> (approximate download in MB, what it is)
MODELS: dict[str, dict[str, tuple[int, str]]] = {
    "depth": {"Intel/dpt-hybrid-midas": (490, "DPT-Hybrid, MiDaS v3.0: the lineage of D-RIN's depth maps"),
              "depth-anything/Depth-Anything-V2-Small-hf": (100, "Depth Anything V2 Small: fast")},
    "labels": {"facebook/mask2former-swin-tiny-coco-panoptic": (190, "Mask2Former, COCO panoptic classes")},
    "pose": {"usyd-community/vitpose-base-simple": (360, "ViTPose-B with the RT-DETR person detector")},
}
PERSON_DETECTOR = ("PekingU/rtdetr_r50vd_coco_o365", 170)  # repo id, MB: the person boxes ViTPose needs
DETECTOR_FOLDER = "detector"  # a pose folder may hold its person detector in this subfolder
MAX_SIDE = 1024        # photos are downscaled to this longest side before estimation
PERSON_THRESHOLD = 0.3  # detector score for a person box
KEYPOINT_THRESHOLD = 0.3  # ViTPose score for a visible joint (OpenPose's and ControlNet's usual cut)
KEEP = 4               # preprocessors kept loaded (per name, device, dtype)
CONFIG = "config.json"
TYPES = {"depth": ("dpt", "depth_anything", "glpn", "zoedepth"), "labels": ("mask2former", "maskformer"),
         "pose": ("vitpose",)}
PROCEDURAL_NOTE = ("⚠️ this model was trained here on procedural scenes (rendered {what}), not on photographs: "
                   "a photo's {cond} is a hint, not a promise (the paper's models were trained on conditions "
                   "estimated from photos)")


class PhotoError(ValueError):
    """A photo or a preprocessor cannot be used; the message says what to do."""


# --------------------------------------------------------------------------- depth


def depth_from_prediction(pred, metric: bool = False) -> np.ndarray:
    """An estimator's (H, W) output -> (H, W) float32 in [0, 1], near = 1 (D-RIN's min-max per image).
    `pred`: relative inverse depth (near = large), or metric depth (near = small) when `metric`."""
    d = np.asarray(pred, np.float64)
    if d.ndim != 2 or d.size == 0 or not np.isfinite(d).all():
        raise PhotoError(f"the depth estimator gave no usable map (shape {d.shape}, finite: {np.isfinite(d).all()})")
    if metric:
        d = 1.0 / np.maximum(d, 1e-6)
    lo, hi = float(d.min()), float(d.max())
    if hi - lo < 1e-12:
        return np.full(d.shape, 0.5, np.float32)
    return ((d - lo) / (hi - lo)).astype(np.float32)


def depth_view(depth: np.ndarray) -> np.ndarray:
    """(H, W) depth in [0, 1] -> a grey (H, W, 3) uint8 view, near = bright."""
    g = np.round(np.clip(depth, 0, 1) * 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


# --------------------------------------------------------------------------- labels

UNKNOWN = None  # a class the label tab has no colour for
# The COCO panoptic classes (Mask2Former/MaskFormer "coco-panoptic" checkpoints, in their id order): 80 things, 53 stuff.
COCO_THINGS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush")
COCO_PANOPTIC_STUFF = (
    "banner", "blanket", "bridge", "cardboard", "counter", "curtain", "door-stuff", "floor-wood", "flower", "fruit",
    "gravel", "house", "light", "mirror-stuff", "net", "pillow", "platform", "playingfield", "railroad", "river",
    "road", "roof", "sand", "sea", "shelf", "snow", "stairs", "tent", "towel", "wall-brick", "wall-stone",
    "wall-tile", "wall-wood", "water-other", "window-blind", "window-other", "tree-merged", "fence-merged",
    "ceiling-merged", "sky-other-merged", "cabinet-merged", "table-merged", "floor-other-merged", "pavement-merged",
    "mountain-merged", "grass-merged", "dirt-merged", "paper-merged", "food-other-merged", "building-other-merged",
    "rock-merged", "wall-other-merged", "rug-merged")
COCO_PANOPTIC_CLASSES = COCO_THINGS + COCO_PANOPTIC_STUFF
# panoptic class -> the landscape class (COCO-Stuff id, taming_lite.data.labels) it is, or UNKNOWN.
# The merged classes hold their COCO-Stuff members (sky-other-merged: sky-other + clouds; mountain-merged:
# mountain + hill; tree-merged: tree + branch; grass-merged: grass + leaves + moss + plant-other + straw).
_LANDSCAPE = {
    "sky-other-merged": "sky-other", "mountain-merged": "mountain", "rock-merged": "rock", "snow": "snow",
    "grass-merged": "grass", "playingfield": "grass", "tree-merged": "tree", "flower": "bush", "sand": "sand",
    "sea": "sea", "river": "river", "water-other": "water-other", "dirt-merged": "dirt", "gravel": "dirt",
}
PANOPTIC_TO_LANDSCAPE: dict[str, int | None] = {
    name: LABEL_BY_NAME[_LANDSCAPE[name]] if name in _LANDSCAPE else UNKNOWN for name in COCO_PANOPTIC_CLASSES}


def landscape_id(name: str) -> int | None:
    """A segmenter's class name -> the label tab's COCO-Stuff id, or UNKNOWN (also for names not in the table)."""
    name = str(name).strip().lower()
    if name in PANOPTIC_TO_LANDSCAPE:
        return PANOPTIC_TO_LANDSCAPE[name]
    return LABEL_BY_NAME.get(name, UNKNOWN)  # a segmenter that already speaks our landscape names


def labels_from_classes(classes, id2label: dict) -> tuple[np.ndarray, list[str]]:
    """A segmenter's (H, W) class indices + its id2label -> (H, W) uint8 COCO-Stuff landscape ids, notes.
    Unknown pixels take the class of the nearest known pixel; no known pixel at all: PhotoError."""
    from scipy import ndimage

    classes = np.asarray(classes, np.int64)
    lut = np.full(max([int(k) for k in id2label] + [int(classes.max(initial=0))]) + 1, -1, np.int64)
    for k, name in id2label.items():
        cid = landscape_id(name)
        lut[int(k)] = -1 if cid is None else cid
    ids = lut[np.clip(classes, 0, len(lut) - 1)]
    ids[classes < 0] = -1
    unknown = ids < 0
    if unknown.all():
        found = sorted({str(id2label.get(int(c), c)) for c in np.unique(classes)[:8]})
        raise PhotoError(f"the segmenter found no landscape class in this photo (only: {', '.join(found)}); the "
                         f"label tab paints sky, water, grass, trees, rock ...: try a landscape photo, or paint")
    notes = []
    if unknown.any():
        names = {str(id2label.get(int(c), c)) for c in np.unique(classes[unknown])}
        _, (iy, ix) = ndimage.distance_transform_edt(unknown, return_indices=True)
        ids = ids[iy, ix]
        notes.append(f"{unknown.mean():.0%} of the photo were classes the label tab has not "
                     f"({', '.join(sorted(names)[:5])}{' ...' if len(names) > 5 else ''}): filled with the nearest "
                     f"landscape class")
    return ids.astype(np.uint8), notes


# --------------------------------------------------------------------------- pose

COCO_KEYPOINTS = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
                  "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
NECK = -1  # no COCO joint: the shoulders' midpoint
# OpenPose keypoint i (taming_lite.data.human.KEYPOINT_NAMES order) <- COCO keypoint COCO_TO_OPENPOSE[i]
COCO_TO_OPENPOSE = (0, NECK, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)


def openpose_from_coco(xy, scores, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """17 COCO keypoints (17, 2) with scores (17,) -> 18 OpenPose keypoints (18, 3) x, y, visible.
    A joint under `threshold` is missing (0, 0, 0); the neck is the shoulders' midpoint when both are there."""
    xy, scores = np.asarray(xy, np.float64).reshape(17, 2), np.asarray(scores, np.float64).reshape(17)
    seen = (scores >= threshold) & np.isfinite(xy).all(1)
    out = np.zeros((18, 3), np.float32)
    for i, c in enumerate(COCO_TO_OPENPOSE):
        if c == NECK:
            if seen[5] and seen[6]:
                out[i] = [*(xy[5] + xy[6]) / 2, 1]
        elif seen[c]:
            out[i] = [*xy[c], 1]
    return out


def largest_box(boxes) -> int:
    """The index of the largest (x0, y0, x1, y1) box."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return int(np.argmax((b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)))


# --------------------------------------------------------------------------- photos


def prepare_photo(rgb, height: int | None = None, width: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) uint8 -> centre-cropped to height:width's aspect ratio (if given) and downscaled to at most
    MAX_SIDE px per side, with notes. Photos under 8 px a side are refused."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise PhotoError(f"a photo must be an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    if min(h, w) < 8:
        raise PhotoError(f"the photo is {w} x {h} pixels: too small to estimate anything from; upload a photo of "
                         f"at least 64 pixels a side")
    notes = []
    if height and width and abs(h * width - w * height) > max(h, w):
        th, tw = (h, round(h * width / height)) if w * height > h * width else (round(w * height / width), w)
        top, left = (h - th) // 2, (w - tw) // 2
        rgb = rgb[top:top + th, left:left + tw]
        notes.append(f"photo centre-cropped from {w}x{h} to {tw}x{th} (the output's aspect ratio)")
        h, w = th, tw
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        rgb = np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))
    return np.ascontiguousarray(rgb), notes


@dataclass
class Detected:
    """What a preprocessor found: the condition for the tab's pipeline, an RGB view of it, notes for the user."""

    condition: np.ndarray  # depth (H, W) float32 [0, 1] near = 1 | label ids (H, W) uint8 | keypoints (18, 3)
    shown: np.ndarray      # (H, W, 3) uint8
    notes: list[str] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # (height, width) of the photo it was estimated on


@dataclass
class Preprocessor:
    """A transformers estimator (+ its image processor, + a person detector for poses) on a device in a dtype."""

    task: str
    name: str
    model: torch.nn.Module
    processor: object
    device: torch.device
    detector: torch.nn.Module | None = None
    detector_processor: object = None
    load_seconds: float = 0.0
    loaded_from: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _inputs(self, batch) -> dict:
        return {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                for k, v in batch.items() if isinstance(v, torch.Tensor)}

    @torch.no_grad()
    def __call__(self, rgb: np.ndarray) -> Detected:
        """(H, W, 3) uint8 (prepare_photo'd) -> Detected at the photo's size."""
        t0 = time.perf_counter()
        rgb = np.array(rgb, np.uint8)  # a writable copy (torch warns on read-only arrays)
        with self.lock:  # one image at a time per model (the same weights serve every session)
            found = getattr(self, f"_{self.task}")(rgb)
        found.size = rgb.shape[:2]
        found.notes.insert(0, f"{self.task} estimated from the photo by `{self.name}` in "
                              f"{time.perf_counter() - t0:.1f} s on {self.device.type}")
        return found

    def _depth(self, rgb) -> Detected:
        out = self.model(**self._inputs(self.processor(images=rgb, return_tensors="pt")))
        pred = out.predicted_depth.float()  # (1, h, w)
        pred = torch.nn.functional.interpolate(pred[:, None], size=rgb.shape[:2], mode="bicubic",
                                               align_corners=False)[0, 0]
        metric = getattr(self.model.config, "depth_estimation_type", "relative") == "metric" or \
            self.model.config.model_type == "zoedepth"
        d = depth_from_prediction(pred.cpu().numpy(), metric=metric)
        return Detected(d, depth_view(d), ["depth min-max normalised to near = bright, as D-RIN's MiDaS maps"])

    def _labels(self, rgb) -> Detected:
        out = self.model(**self._inputs(self.processor(images=rgb, return_tensors="pt")))
        for k in ("class_queries_logits", "masks_queries_logits"):
            setattr(out, k, getattr(out, k).float())
        classes = self.processor.post_process_semantic_segmentation(out, target_sizes=[rgb.shape[:2]])[0]
        ids, notes = labels_from_classes(classes.cpu().numpy(), self.model.config.id2label)
        return Detected(ids, colorize(ids), notes)

    def _pose(self, rgb) -> Detected:
        h, w = rgb.shape[:2]
        batch = self.detector_processor(images=rgb, return_tensors="pt")
        batch = {k: v.to(self.device, next(self.detector.parameters()).dtype) if v.is_floating_point() else v
                 for k, v in batch.items() if isinstance(v, torch.Tensor)}
        out = self.detector(**batch)
        out.logits, out.pred_boxes = out.logits.float(), out.pred_boxes.float()
        r = self.detector_processor.post_process_object_detection(out, target_sizes=[(h, w)],
                                                                   threshold=PERSON_THRESHOLD)[0]
        labels = self.detector.config.id2label
        person = [i for i, lab in enumerate(r["labels"].tolist()) if str(labels.get(lab, "")).lower() == "person"]
        if not person:
            raise PhotoError(f"the person detector found nobody in this photo (score >= {PERSON_THRESHOLD}); upload a "
                             f"photo with a person in full view, or edit the keypoints by hand")
        boxes = r["boxes"][person].cpu().numpy()
        k = largest_box(boxes)
        x0, y0, x1, y1 = boxes[k].clip([0, 0, 0, 0], [w, h, w, h]).tolist()
        notes = [f"{len(person)} people found: the largest (box {x1 - x0:.0f}x{y1 - y0:.0f} px at {x0:.0f},{y0:.0f}, "
                 f"score {float(r['scores'][person[k]]):.2f}) was taken" if len(person) > 1 else
                 f"one person found (score {float(r['scores'][person[k]]):.2f})"]
        xywh = [[[x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)]]]
        pose = self.model(**self._inputs(self.processor(rgb, boxes=xywh, return_tensors="pt")))
        pose.heatmaps = pose.heatmaps.float()
        res = self.processor.post_process_pose_estimation(pose, boxes=xywh)[0][0]
        kp = openpose_from_coco(res["keypoints"].cpu().numpy(), res["scores"].cpu().numpy())
        missing = int((kp[:, 2] <= 0).sum())
        if missing == 18:
            raise PhotoError("no joint of the person was found with confidence; try a sharper photo with the whole "
                             "person in view, or edit the keypoints by hand")
        if missing:
            notes.append(f"{missing} of 18 joints not found (left missing)")
        return Detected(kp, draw_skeleton(kp, h, w), notes)


# --------------------------------------------------------------------------- names, files, loading


def available() -> bool:
    return hub.transformers_available()


def check_name(task: str, name, allow_folders: bool = False) -> str:
    """A preprocessor choice, stripped and checked (nothing is read): NONE, a name of MODELS[task], or a folder
    when `allow_folders`. PhotoError otherwise."""
    if task not in MODELS:
        raise PhotoError(f"no photo preprocessor for the {task} task; one of {', '.join(MODELS)}")
    name = NONE if name is None or not str(name).strip() or str(name).strip().lower() == "none" else str(name).strip()
    if name == NONE or name in MODELS[task] or (allow_folders and Path(name).is_dir()):
        return name
    if Path(name).is_dir():
        raise PhotoError(f"{name!r} is a folder on the server; folders can be used only when the app runs with "
                         f"--allow-local-models")
    raise PhotoError(f"unknown {task} preprocessor {name!r}; one of: {', '.join([NONE, *MODELS[task]])}")


def choices(task: str) -> list[tuple[str, str]]:
    """The preprocessor dropdown's entries (label, name): None first, then the real models with their size."""
    missing = "" if available() else f", needs `{INSTALL}`"
    out = [(f"{NONE} (the image is the condition)", NONE)]
    for repo, (mb, what) in MODELS[task].items():
        total = mb + (PERSON_DETECTOR[1] if task == "pose" else 0)
        cached = any(hub.cached_files(repo, "main", [CONFIG, hub.TRANSFORMERS_PROCESSOR, w]) is not None
                     for w in hub.TRANSFORMERS_WEIGHTS)
        where = "in the cache" if cached else f"~{total} MB download"
        out.append((f"{repo} ({what}; {where}{missing})", repo))
    return out


def _check_folder(task: str):
    def check(folder: Path) -> str | None:
        try:
            cfg = json.loads((folder / CONFIG).read_text())
        except (OSError, ValueError):
            return f"no readable {CONFIG}"
        if not isinstance(cfg, dict) or cfg.get("model_type") not in TYPES[task]:
            return f"{CONFIG} model_type should be one of {', '.join(TYPES[task])}"
        if not (folder / hub.TRANSFORMERS_PROCESSOR).is_file():
            return f"no {hub.TRANSFORMERS_PROCESSOR}"
        if not any((folder / w).is_file() for w in hub.TRANSFORMERS_WEIGHTS):
            return f"no {' or '.join(hub.TRANSFORMERS_WEIGHTS)}"
        if task == "pose" and (folder / DETECTOR_FOLDER).is_dir() and \
                not any((folder / DETECTOR_FOLDER / w).is_file() for w in hub.TRANSFORMERS_WEIGHTS):
            return f"its {DETECTOR_FOLDER}/ holds no weights"
        return None
    return check


def _from_folder(auto, folder: Path, dev, dtype):
    model = auto.from_pretrained(str(folder))  # cast after: the dtype argument's name changed in transformers 4.56
    return model.to(device=dev, dtype=dtype).eval()


def _build(task: str, name: str, dev, dtype, progress) -> Preprocessor:
    tf = hub.require_transformers(f"the {task} preprocessor {name!r}", INSTALL)
    t0 = time.perf_counter()
    what = f"a {task} estimator ({', '.join(TYPES[task])})"
    folder, where = hub.resolve_transformers(name, what, _check_folder(task), progress=progress)
    if progress:
        progress(f"{name}: building the {task} preprocessor on {dev}")
    auto = {"depth": tf.AutoModelForDepthEstimation, "labels": getattr(tf, "AutoModelForUniversalSegmentation", None),
            "pose": getattr(tf, "VitPoseForPoseEstimation", None)}[task]
    if auto is None:
        raise hub.TransformersMissing(f"this transformers ({tf.__version__}) has no {task} model class: `{INSTALL}`")
    model = _from_folder(auto, folder, dev, dtype)
    processor = tf.AutoImageProcessor.from_pretrained(str(folder))
    pre = Preprocessor(task, name, model, processor, dev, loaded_from=where)
    if task == "pose":
        det = folder / DETECTOR_FOLDER
        if not det.is_dir():
            det, _ = hub.resolve_transformers(PERSON_DETECTOR[0], "a person detector", lambda f: None,
                                              progress=progress)
        pre.detector = _from_folder(tf.AutoModelForObjectDetection, det, dev, dtype)
        pre.detector_processor = tf.AutoImageProcessor.from_pretrained(str(det))
    pre.load_seconds = time.perf_counter() - t0
    return pre


_loaded: OrderedDict[tuple, Preprocessor] = OrderedDict()
_locks: dict[tuple, threading.Lock] = {}
_guard = threading.Lock()


def load(task: str, name: str, device=None, dtype: torch.dtype | None = None,
         progress: Callable[[str], None] | None = None) -> Preprocessor:
    """The preprocessor `name` (MODELS[task], a Hub repo id or a folder) for `task` on `device` in `dtype`
    (default: fp16 on CUDA, fp32 elsewhere), loaded once and kept (the KEEP most recent). Raises
    TransformersMissing, HubUnavailable, ModelNotFoundError (taming_lite.hub) or PhotoError."""
    dev = pick_device(device)
    dtype = dtype or default_dtype(dev)
    key = (task, str(name), str(dev), str(dtype))
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one load per key, even when several sessions ask at once
        with _guard:
            if key in _loaded:
                _loaded.move_to_end(key)
                return _loaded[key]
        try:
            pre = _build(task, str(name), dev, dtype, progress)
        except (hub.TransformersMissing, hub.CheckpointError, hub.HubUnavailable, PhotoError):
            raise  # what to do is in their messages (ModelNotFoundError is a CheckpointError)
        except (OSError, RuntimeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise PhotoError(f"{name}: the files were found but do not load as a {task} estimator "
                             f"({type(e).__name__}: {str(e)[:300]})") from None
        with _guard:
            _loaded[key] = pre
            while len(_loaded) > KEEP:
                _loaded.popitem(last=False)
        return pre


# --------------------------------------------------------------------------- tiny random stand-ins (tests, rehearsals)


def save_tiny(task: str, folder, seed: int = 0) -> Path:
    """Save a tiny randomly initialised estimator of the real class for `task` into `folder` (config, weights,
    image processor; for poses also a tiny RT-DETR person detector in `folder/detector`). Offline, seconds."""
    tf = hub.require_transformers("the tiny photo preprocessors", INSTALL)
    folder = Path(folder)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if task == "depth":
            cfg = tf.DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                               image_size=32, patch_size=8, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                               backbone_out_indices=[0, 1, 2, 3], head_in_index=-1)
            model = tf.DPTForDepthEstimation(cfg)
            proc = tf.DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
        elif task == "labels":
            names = COCO_PANOPTIC_CLASSES
            cfg = tf.Mask2FormerConfig(
                backbone_config=tf.SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], image_size=64,
                                              window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"]),
                hidden_dim=32, mask_feature_size=32, feature_size=32, encoder_layers=1, decoder_layers=2,
                num_queries=8, encoder_feedforward_dim=32, dim_feedforward=32, num_attention_heads=2,
                id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
                use_pretrained_backbone=False)
            model = tf.Mask2FormerForUniversalSegmentation(cfg)
            with torch.no_grad():  # sky and grass the likeliest classes: a random map still holds landscape
                model.class_predictor.bias[names.index("sky-other-merged")] += 6
                model.class_predictor.bias[names.index("grass-merged")] += 6
            proc = tf.Mask2FormerImageProcessor(size={"height": 64, "width": 64})
        elif task == "pose":
            cfg = tf.VitPoseConfig(backbone_config=tf.VitPoseBackboneConfig(
                hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, image_size=[64, 48],
                patch_size=[16, 16], out_indices=[2]), num_labels=17)
            model = tf.VitPoseForPoseEstimation(cfg)
            proc = tf.VitPoseImageProcessor(size={"height": 64, "width": 48})
            det_cfg = tf.RTDetrConfig(
                backbone_config=tf.RTDetrResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                                                      out_features=["stage2", "stage3", "stage4"], layer_type="basic"),
                encoder_in_channels=[16, 32, 64], d_model=32, encoder_hidden_dim=32, encoder_ffn_dim=32,
                decoder_ffn_dim=32, encoder_layers=1, decoder_layers=1, num_queries=10, decoder_in_channels=[32, 32, 32],
                num_feature_levels=3, decoder_attention_heads=2, encoder_attention_heads=2, num_denoising=0,
                id2label={0: "person", 1: "car"}, label2id={"person": 0, "car": 1}, use_pretrained_backbone=False)
            det = tf.RTDetrForObjectDetection(det_cfg)
            with torch.no_grad():  # every query a confident person: the random detector finds people
                for n, m in det.named_modules():
                    if isinstance(m, torch.nn.Linear) and ("class_embed" in n or "enc_score_head" in n):
                        m.bias[0] += 8
            det.save_pretrained(folder / DETECTOR_FOLDER)
            tf.RTDetrImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder / DETECTOR_FOLDER)
        else:
            raise PhotoError(f"no photo preprocessor for the {task} task; one of {', '.join(MODELS)}")
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder
