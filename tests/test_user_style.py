"""User-style conditions (taming_lite/data/user_style.py): determinism, shapes, ranges, the named examples."""

import numpy as np
import pytest

from taming_lite.data import user_style as U
from taming_lite.data.labels import LABEL_IDS

SEEDS = range(40)


def test_label_maps_are_deterministic_valid_and_of_2_to_6_classes():
    counts = []
    for s in SEEDS:
        ids = U.label_map(s, 48, 64)
        assert ids.shape == (48, 64) and ids.dtype == np.uint8
        assert np.array_equal(ids, U.label_map(s, 48, 64))
        classes, sizes = np.unique(ids, return_counts=True)
        assert set(classes.tolist()) <= set(LABEL_IDS.tolist())
        assert 2 <= len(classes) <= 6 and sizes.min() >= U.MIN_REGION * ids.size
        counts.append(len(classes))
    assert len(set(counts)) >= 4  # the set spans few and many classes
    assert not np.array_equal(U.label_map(0, 48, 64), U.label_map(1, 48, 64))
    assert not np.array_equal(U.label_map((3, 0), 32, 32), U.label_map((3, 1), 32, 32))


def test_label_maps_put_classes_anywhere():
    """Not the renderer's prior: the top row is not always sky, and every class appears somewhere in the set."""
    maps = [U.label_map(s, 32, 32) for s in range(120)]
    tops = {int(v) for m in maps for v in np.unique(m[0])}
    assert len(tops) >= 10
    assert set(np.unique(np.concatenate([m.ravel() for m in maps])).tolist()) == set(LABEL_IDS.tolist())


def test_a_map_looks_the_same_at_every_size():
    """Shapes live in relative coordinates: the 64-px map is the 128-px map nearest-downsampled, up to edges."""
    small, big = U.label_map(5, 64, 64), U.label_map(5, 128, 128)
    assert (big[::2, ::2] == small).mean() > 0.95


def test_depth_maps_are_deterministic_in_range_and_not_flat():
    for s in SEEDS:
        d = U.depth_map(s, 40, 56)
        assert d.shape == (40, 56) and d.dtype == np.float32
        assert 0.0 <= d.min() and d.max() <= 1.0 and d.max() - d.min() > 0.2
        assert np.array_equal(d, U.depth_map(s, 40, 56))
    assert not np.array_equal(U.depth_map(0, 32, 32), U.depth_map(1, 32, 32))


def test_depth_maps_have_structure_across_rows():
    """Beyond the ramp: most maps vary within a row (an object, a wall, a tilt), unlike a pure ramp."""
    varied = [float(U.depth_map(s, 32, 32).std(1).mean()) > 0.02 for s in SEEDS]
    assert sum(varied) >= 0.6 * len(varied)


def test_poses_are_deterministic_in_frame_and_visible():
    for s in range(10):
        kp = U.pose(s, 96, 80)
        assert kp.shape == (18, 3) and kp.dtype == np.float32
        assert np.array_equal(kp, U.pose(s, 96, 80))
        vis = kp[:, 2] > 0
        assert vis.sum() >= 16 and vis[:14].all()  # at most an ear turned away
        x, y = kp[vis, 0], kp[vis, 1]
        assert (x >= 0).all() and (x < 80).all() and (y >= 0).all() and (y < 96).all()


def test_poses_span_the_joint_ranges_sizes_and_places():
    angles = [U.pose_angles(s) for s in range(200)]
    kinds = {a["kind"].split(",")[0] for a in angles} | {a["kind"].split(",")[1].strip() for a in angles}
    assert {"arms up", "arms spread", "arms bent", "arms crossed", "legs apart", "legs kneeling",
            "legs sitting"} <= kinds
    assert any("side-on" in a["kind"] for a in angles)
    arms = np.array([a["r_arm"] for a in angles])
    assert arms.min() < 0 and arms.max() > 150
    kps = [U.pose(s, 64, 64) for s in range(16)]
    heights = [k[:, 1].max() - k[:, 1].min() for k in kps]
    centres = [k[:14, 0].mean() for k in kps]
    assert max(heights) > 1.6 * min(heights)  # several sizes
    assert max(centres) - min(centres) > 15  # several places


def test_named_examples():
    assert len(U.NAMED_LABEL_MAPS) == 6 and len(U.NAMED_DEPTH_MAPS) == 4 and len(U.NAMED_POSES) >= 4
    for name in U.NAMED_LABEL_MAPS:
        ids = U.named_label_map(name, 64, 64)
        assert ids.shape == (64, 64) and ids.dtype == np.uint8 and 2 <= len(np.unique(ids)) <= 6
    sea = U.named_label_map("sea under snowy mountains", 64, 64)
    assert {134, 154, 156, 158} <= set(np.unique(sea).tolist()) and (sea[-1] == 154).all()
    split = U.named_label_map("grass left, sea right", 64, 64)
    assert (split[-1, :32] == 123).all() and (split[-1, 32:] == 154).all()
    for name in U.NAMED_DEPTH_MAPS:
        d = U.named_depth_map(name, 64, 64)
        assert d.dtype == np.float32 and 0 <= d.min() and d.max() <= 1
    assert U.named_depth_map("round object left of a ramp", 64, 64)[40, 19] > 0.9  # the object, near
    for name in U.NAMED_POSES:
        kp = U.named_pose(name, 128, 128)
        assert kp.shape == (18, 3) and (kp[:14, 2] > 0).all()
    up = U.named_pose("arms up", 128, 128)
    assert up[4, 1] < up[0, 1] and up[7, 1] < up[0, 1]  # both wrists above the nose
    with pytest.raises(ValueError, match="named"):
        U.named_label_map("a castle", 64, 64)


def test_conditions_as_the_pipeline_takes_them():
    labels = U.conditions("labels", 3, 32)
    assert len(labels) == 3 and all(m.shape == (32, 32) and m.dtype == np.uint8 for m in labels)
    assert np.array_equal(labels[1], U.label_map((U.seeds.USER_STYLE_SEED, 1), 32, 32))
    depth = U.conditions("depth", 2, (24, 40), seed=9)
    assert depth[0].shape == (24, 40) and depth[0].dtype == np.float32
    poses = U.conditions("pose", 2, 64)
    assert poses[0].shape == (18, 3)
    with pytest.raises(ValueError, match="user-style"):
        U.conditions("superres", 1, 32)


def test_contact_sheet(tmp_path):
    sheet = U.contact_sheet(n=3, size=16, gap=2)
    assert sheet.shape == (3 * 16 + 4, 3 * 16 + 4, 3) and sheet.dtype == np.uint8
    U.main(["--sheet", str(tmp_path / "s.png"), "--n", "2", "--size", "16"])
    assert (tmp_path / "s.png").stat().st_size > 0
