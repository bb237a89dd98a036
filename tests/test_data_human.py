"""Procedural humans: keypoints on the figure, visibility, skeleton images."""
from pathlib import Path

import numpy as np
import pytest

from taming_lite.data import KEYPOINT_NAMES, OPENPOSE_COLORS, POSES, draw_skeleton, render_human

GOLDEN = Path(__file__).parent / "data" / "data_golden.npz"


def _dilate(mask, k=1):
    out = mask.copy()
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def test_shapes_and_determinism():
    a, b = render_human(4, 96, 64), render_human(4, 96, 64)
    assert a.image.shape == (96, 64, 3) and a.image.dtype == np.uint8
    assert a.skeleton.shape == (96, 64, 3) and a.mask.shape == (96, 64)
    assert a.keypoints.shape == (18, 3) and a.keypoints.dtype == np.float32
    assert np.array_equal(a.image, b.image) and np.array_equal(a.keypoints, b.keypoints)
    assert len(KEYPOINT_NAMES) == 18 and KEYPOINT_NAMES[1] == "neck" and KEYPOINT_NAMES[17] == "l_ear"


def test_golden_human():
    g = np.load(GOLDEN)
    s = render_human(7, 64, 48)
    assert np.array_equal(s.image, g["human_image"])
    assert np.array_equal(s.keypoints, g["human_keypoints"])


def test_keypoints_lie_on_the_figure():
    for seed in range(30):
        s = render_human(seed, 96, 96)
        body = _dilate(s.mask, 1)
        for i, (x, y, v) in enumerate(s.keypoints):
            if v > 0:
                assert body[int(y), int(x)], f"seed {seed}: {KEYPOINT_NAMES[i]} is off the figure"


def test_right_side_is_image_left():
    s = render_human(0, 128, 128, pose="t_pose")
    kp = s.keypoints
    assert kp[4, 0] < kp[1, 0] < kp[7, 0]  # r_wrist left of neck left of l_wrist
    assert kp[0, 1] < kp[1, 1] < kp[8, 1] < kp[9, 1] < kp[10, 1]  # nose above neck above hip, knee, ankle


def test_out_of_frame_keypoints_are_hidden():
    hidden = 0
    for seed in range(60):
        s = render_human(seed, 64, 64)
        x, y, v = s.keypoints.T
        inside = (x >= 0) & (x < 64) & (y >= 0) & (y < 64)
        assert (v[~inside] == 0).all()
        hidden += int((~inside).sum())
    assert hidden > 0  # some figures are zoomed so that parts leave the frame


@pytest.mark.parametrize("pose", sorted(POSES))
def test_presets(pose):
    s = render_human(1, 64, 64, pose=pose)
    assert s.info["pose"] == pose and s.mask.sum() > 100
    kp = s.keypoints
    if pose in ("arms_up", "jumping_jack"):
        assert kp[4, 1] < kp[1, 1] and kp[7, 1] < kp[1, 1]  # wrists above the neck
    with pytest.raises(ValueError):
        render_human(1, 64, 64, pose="moonwalk")


def test_skeleton_matches_keypoints():
    s = render_human(3, 128, 96)
    sk = s.skeleton.astype(int)
    lit = sk.sum(-1) > 0
    for x, y, v in s.keypoints:
        if v > 0:
            assert lit[int(y), int(x)]
    assert np.array_equal(s.skeleton, draw_skeleton(s.keypoints, 128, 96))
    assert lit.mean() < 0.3
    # limb midpoints carry the limb's OpenPose colour blended at 60 % (OpenPose convention)
    from taming_lite.data import LIMBS
    ok = 0
    for k, (a, b) in enumerate(LIMBS):
        m = (s.keypoints[a, :2] + s.keypoints[b, :2]) / 2
        px = sk[int(m[1]), int(m[0])]
        lo = 0.6 * OPENPOSE_COLORS[k]
        ok += bool(((px >= lo - 1) & (px <= lo + 0.4 * 255 + 1)).all())
    assert ok >= 0.8 * len(LIMBS)


def test_draw_skeleton_user_input():
    kp = [[10 + 3 * i, 20 + 2 * i] for i in range(18)]
    img = draw_skeleton(kp, 64, 64)
    assert img.shape == (64, 64, 3) and img.sum() > 0
    kp3 = np.array([[10 + 3 * i, 20 + 2 * i, 0] for i in range(18)], float)
    assert draw_skeleton(kp3, 64, 64).sum() == 0  # all invisible -> black
    flat = [v for p in kp for v in (p[0], p[1], 1)]
    assert np.array_equal(draw_skeleton(flat, 64, 64), img)
    missing = [None] * 17 + [[5, 5]]
    assert draw_skeleton(missing, 32, 32).sum() > 0
    with pytest.raises(ValueError, match="18 keypoints"):
        draw_skeleton([[1, 2]] * 17, 64, 64)
    assert OPENPOSE_COLORS.shape == (18, 3)
