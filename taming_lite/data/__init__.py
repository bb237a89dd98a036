"""Paired training data: procedural landscapes and humans, and your own folders.

numpy-only parts (importable without torch)::

    from taming_lite.data import render_landscape, render_human, draw_skeleton
    from taming_lite.data import LANDSCAPE_CLASSES, colorize, snap_to_labels, to_onehot

torch Datasets live in ``taming_lite.data.datasets`` (imported lazily).
See docs/DATA.md.
"""
from .human import KEYPOINT_NAMES, LIMBS, OPENPOSE_COLORS, POSES, Human, draw_skeleton
from .human import render as render_human
from .labels import (LABEL_BY_NAME, LABEL_IDS, LABEL_NAMES, LANDSCAPE_CLASSES, NUM_CLASSES, PALETTE,
                     colorize, from_onehot, ids_to_index, index_to_ids, snap_to_labels, to_onehot)
from .landscape import SCENES, TIMES, Landscape
from .landscape import render as render_landscape

__all__ = [
    "render_landscape", "Landscape", "SCENES", "TIMES",
    "render_human", "Human", "draw_skeleton", "POSES", "KEYPOINT_NAMES", "LIMBS", "OPENPOSE_COLORS",
    "LANDSCAPE_CLASSES", "LABEL_IDS", "LABEL_NAMES", "LABEL_BY_NAME", "NUM_CLASSES", "PALETTE",
    "colorize", "snap_to_labels", "to_onehot", "from_onehot", "ids_to_index", "index_to_ids",
]
