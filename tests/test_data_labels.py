"""Label palette, one-hot order and colour snapping."""
import numpy as np
import pytest

from taming_lite.data import (LABEL_IDS, LANDSCAPE_CLASSES, NUM_CLASSES, PALETTE, colorize, from_onehot,
                              snap_to_labels, to_onehot)

DESIGN_IDS = {"sky-other": 156, "clouds": 105, "mountain": 134, "rock": 149, "snow": 158, "grass": 123,
              "tree": 168, "bush": 96, "sand": 153, "sea": 154, "river": 147, "water-other": 177,
              "dirt": 110, "hill": 126}


def test_classes_use_design_ids():
    assert {name: i for i, name, _ in LANDSCAPE_CLASSES} == DESIGN_IDS
    assert NUM_CLASSES == len(set(LABEL_IDS.tolist())) == 14
    assert len({tuple(c) for c in PALETTE.tolist()}) == NUM_CLASSES


def test_onehot_roundtrip_and_order():
    ids = LABEL_IDS[np.arange(40).reshape(5, 8) % NUM_CLASSES]
    oh = to_onehot(ids)
    assert oh.shape == (NUM_CLASSES, 5, 8) and oh.dtype == np.float32
    assert (oh.sum(0) == 1).all()
    assert oh[0][ids == 156].all()  # channel 0 is sky-other, the first class
    assert np.array_equal(from_onehot(oh), ids)


def test_colorize_and_snap():
    ids = LABEL_IDS[np.arange(NUM_CLASSES)][None].repeat(3, 0)
    rgb = colorize(ids)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, NUM_CLASSES, 3)
    assert np.array_equal(snap_to_labels(rgb), ids)
    noisy = np.clip(rgb.astype(int) + np.random.default_rng(0).integers(-12, 13, rgb.shape), 0, 255)
    assert np.array_equal(snap_to_labels(noisy.astype(np.uint8)), ids)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1)
    assert np.array_equal(snap_to_labels(rgba), ids)


def test_unknown_ids_are_rejected_clearly():
    with pytest.raises(ValueError, match="not landscape classes"):
        to_onehot(np.array([[156, 3]], np.uint8))
    assert (colorize(np.array([[3]], np.uint8)) == 0).all()
