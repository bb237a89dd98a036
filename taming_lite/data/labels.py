"""Landscape label classes (COCO-Stuff ids), their display palette, one-hot maps.

Label maps are stored as COCO-Stuff ids (uint8) so that our models and the
original S-FLCKR checkpoint share one painting palette. Models see one-hot maps
whose channel order is the fixed order of ``LANDSCAPE_CLASSES``.
"""
from __future__ import annotations

import numpy as np

# (COCO-Stuff id, name, display RGB). The order fixes the one-hot channel order:
# never reorder, only append.
LANDSCAPE_CLASSES: list[tuple[int, str, tuple[int, int, int]]] = [
    (156, "sky-other", (120, 180, 240)),
    (105, "clouds", (190, 200, 220)),
    (134, "mountain", (140, 110, 90)),
    (149, "rock", (128, 128, 128)),
    (158, "snow", (255, 255, 255)),
    (123, "grass", (90, 200, 60)),
    (168, "tree", (20, 100, 30)),
    (96, "bush", (150, 170, 40)),
    (153, "sand", (230, 210, 150)),
    (154, "sea", (20, 60, 160)),
    (147, "river", (60, 120, 220)),
    (177, "water-other", (40, 170, 190)),
    (110, "dirt", (150, 90, 40)),
    (126, "hill", (170, 230, 120)),
]

LABEL_IDS: np.ndarray = np.array([c[0] for c in LANDSCAPE_CLASSES], dtype=np.uint8)
LABEL_NAMES: dict[int, str] = {c[0]: c[1] for c in LANDSCAPE_CLASSES}
LABEL_BY_NAME: dict[str, int] = {c[1]: c[0] for c in LANDSCAPE_CLASSES}
PALETTE: np.ndarray = np.array([c[2] for c in LANDSCAPE_CLASSES], dtype=np.uint8)  # (K, 3)
NUM_CLASSES = len(LANDSCAPE_CLASSES)

# id -> channel index lookup table (255 = not a landscape class)
_ID_TO_INDEX = np.full(256, 255, dtype=np.uint8)
_ID_TO_INDEX[LABEL_IDS] = np.arange(NUM_CLASSES, dtype=np.uint8)


def ids_to_index(labels: np.ndarray, strict: bool = True) -> np.ndarray:
    """COCO-Stuff ids (H, W) -> channel indices in ``[0, NUM_CLASSES)``.

    With ``strict`` an unknown id raises ``ValueError`` naming it; otherwise it
    maps to 255.
    """
    labels = np.asarray(labels)
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError("label ids must be in 0..255 (COCO-Stuff ids)")
    idx = _ID_TO_INDEX[labels.astype(np.int64)]
    if strict and (idx == 255).any():
        bad = sorted(set(np.unique(labels[idx == 255]).tolist()))
        raise ValueError(
            f"label ids {bad[:10]} are not landscape classes; known ids: "
            f"{[int(i) for i in LABEL_IDS]}")
    return idx


def index_to_ids(index: np.ndarray) -> np.ndarray:
    return LABEL_IDS[np.asarray(index, dtype=np.int64)]


COCO_STUFF_CLASSES = 182  # S-FLCKR's one-hot layout: np.eye(182)[segmentation], COCO-Stuff ids 0..181


def to_onehot(labels: np.ndarray, dtype=np.float32, channels: int = NUM_CLASSES,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """COCO-Stuff id map (H, W) -> one-hot (channels, H, W), or (channels, *size) resized first (nearest).

    `channels` = NUM_CLASSES: our landscape classes, in class-list order; COCO_STUFF_CLASSES (182): the
    original S-FLCKR layout, `np.eye(182)[segmentation]` on the 0-based COCO-Stuff ids themselves (its data
    code applies no offset; our palette ids are those ids)."""
    labels = np.asarray(labels)
    if channels == NUM_CLASSES:
        idx = ids_to_index(labels)
    elif channels == COCO_STUFF_CLASSES:
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= COCO_STUFF_CLASSES:
            raise ValueError(f"label ids must be COCO-Stuff ids below {COCO_STUFF_CLASSES}, got {int(labels.max())}")
        idx = labels.astype(np.uint8)
    else:
        raise ValueError(f"a label model with {channels} classes: only {NUM_CLASSES} (ours) and "
                         f"{COCO_STUFF_CLASSES} (COCO-Stuff, S-FLCKR) are known")
    if size is not None and tuple(size) != idx.shape:
        from PIL import Image

        idx = np.asarray(Image.fromarray(idx).resize((size[1], size[0]), Image.NEAREST))
    onehot = np.zeros((channels,) + idx.shape, dtype=dtype)
    np.put_along_axis(onehot, idx[None].astype(np.int64), 1, axis=0)
    return onehot


def from_onehot(onehot: np.ndarray) -> np.ndarray:
    """One-hot or logits (NUM_CLASSES, H, W) -> COCO-Stuff id map (H, W) by argmax."""
    onehot = np.asarray(onehot)
    if onehot.shape[0] != NUM_CLASSES:
        raise ValueError(f"expected {NUM_CLASSES} channels, got {onehot.shape[0]}")
    return index_to_ids(onehot.argmax(axis=0))


def colorize(labels: np.ndarray) -> np.ndarray:
    """COCO-Stuff id map (H, W) -> display RGB uint8 (H, W, 3). Unknown ids are black."""
    idx = ids_to_index(labels, strict=False)
    pal = np.concatenate([PALETTE, np.zeros((256 - NUM_CLASSES, 3), np.uint8)])
    return pal[idx.astype(np.int64)]


def snap_to_labels(rgb: np.ndarray) -> np.ndarray:
    """Display RGB (H, W, 3), e.g. a user's painting -> COCO-Stuff ids by nearest palette colour."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] < 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    x = rgb[..., :3].astype(np.int32)
    d = ((x[..., None, :] - PALETTE.astype(np.int32)) ** 2).sum(-1)  # (H, W, K)
    return LABEL_IDS[d.argmin(-1)]
