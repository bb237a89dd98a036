"""Layout-first renders: the image follows a given label map / depth map; the training mix; wide poses."""

import numpy as np
import pytest

from taming_lite.data import layout
from taming_lite.data.datasets import ProceduralDataset, render_arrays
from taming_lite.data.human import JOINT_RANGES, render as render_human
from taming_lite.data.labels import LABEL_BY_NAME, LABEL_IDS

ID = LABEL_BY_NAME


def test_random_layouts_are_valid_and_deterministic():
    for i in range(12):
        s = layout.render_layout((0, i), 48, 64)
        assert s.image.shape == (48, 64, 3) and s.image.dtype == np.uint8
        assert s.depth.shape == (48, 64) and s.depth.dtype == np.float32 and 0 <= s.depth.min() <= s.depth.max() <= 1
        assert set(np.unique(s.labels)) <= set(LABEL_IDS.tolist())
        again = layout.render_layout((0, i), 48, 64)
        assert np.array_equal(s.image, again.image) and np.array_equal(s.labels, again.labels)
    assert not np.array_equal(layout.render_layout(1, 32, 32).image, layout.render_layout(2, 32, 32).image)


def test_image_follows_a_given_label_map():
    labels = np.full((64, 64), ID["sky-other"], np.uint8)
    labels[32:, :32] = ID["grass"]
    labels[32:, 32:] = ID["sea"]
    s = layout.render_layout(3, 64, 64, labels=labels)
    assert np.array_equal(s.labels, labels)
    img = s.image.astype(float)
    grass, sea = img[40:, :28].mean((0, 1)), img[40:, 36:].mean((0, 1))
    assert grass[1] > grass[2] and sea[2] > sea[0]  # green on the left, blue on the right
    assert (s.depth[:32] == 0).all() and (s.depth[40:] > 0).all()  # sky far, ground nearer


def test_image_follows_a_given_depth_map():
    depth = np.zeros((64, 64), np.float32)
    depth[20:, :] = np.linspace(0.1, 0.7, 44)[:, None]
    depth[24:56, 4:24] = 1.0  # a near wall on the left
    s = layout.render_layout(4, 64, 64, depth=depth)
    assert np.allclose(s.depth, depth)
    assert (s.labels[:20] == ID["sky-other"]).all()
    assert len(np.unique(s.labels[24:56, 4:24])) == 1 and s.labels[40, 10] != s.labels[40, 50]  # the wall's own class


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="must be 32x32"):
        layout.render_layout(0, 32, 32, labels=np.zeros((16, 16), np.uint8))


def test_training_mix_has_every_kind_and_layouts_beyond_the_3d_prior():
    kinds = {"render": 0, "layout": 0, "composite": 0}
    sky_not_on_top = 0
    for i in range(60):
        s = layout.render_mix((9, i), 32, 32)
        kinds["composite" if "composite" in s.info else "layout" if s.info.get("layout") else "render"] += 1
        sky_not_on_top += int((s.labels[0] != ID["sky-other"]).mean() > 0.5)
    assert all(n > 3 for n in kinds.values()), kinds
    assert sky_not_on_top > 5  # the 3D renderer never makes these


def test_sources_in_datasets():
    a = render_arrays("layout", (0, 1), 32, 32)
    assert set(a) == {"image", "depth", "labels"}
    ds = ProceduralDataset("labels", size=32, source="layout")
    assert ds[0]["labels"].shape[0] == len(LABEL_IDS)
    assert ProceduralDataset("pose", size=32, source="human_wide")[1]["skeleton"].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="supports source"):
        ProceduralDataset("pose", size=32, source="layout")


def test_wide_poses_cover_the_joint_ranges_and_angles_render_exactly():
    arms = [render_human((5, i), 64, 64, pose="random") for i in range(20)]
    wrist_above_head = sum(h.keypoints[4, 1] < h.keypoints[0, 1] or h.keypoints[7, 1] < h.keypoints[0, 1] for h in arms)
    assert wrist_above_head >= 3  # raised arms are common, unlike the presets' jitter
    up = render_human(1, 64, 64, angles=dict(r_arm=175, l_arm=175, r_elbow=0, l_elbow=0, scale=0.6, center_x=0.5))
    kp = up.keypoints
    assert kp[4, 1] < kp[0, 1] and kp[7, 1] < kp[0, 1]  # both wrists above the nose
    assert abs((kp[2, 0] + kp[5, 0]) / 2 - 32) < 2  # centred
    assert up.info["pose"] == "custom"
    with pytest.raises(ValueError, match="unknown angle keys"):
        render_human(1, 64, 64, angles=dict(r_arm=10, elbow=3))
    assert set(JOINT_RANGES) <= {"r_arm", "r_elbow", "l_arm", "l_elbow", "r_leg", "r_knee", "l_leg", "l_knee",
                                 "lean", "head_tilt", "yaw"}
