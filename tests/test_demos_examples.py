"""The tabs' examples (demos/examples.py): mostly user-style for labels, depth and pose, a render kept beside."""

import json

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def examples(tmp_path, monkeypatch):
    monkeypatch.setenv("TAMING_LITE_EXAMPLES", str(tmp_path))
    from demos import examples

    for f in (examples.landscapes, examples.label_maps, examples.depth_maps, examples.pose_presets):
        f.cache_clear()
    yield examples
    for f in (examples.landscapes, examples.label_maps, examples.depth_maps, examples.pose_presets):
        f.cache_clear()


def test_label_and_depth_examples_are_mostly_user_style(examples):
    from taming_lite.data.labels import snap_to_labels
    from taming_lite.data.user_style import NAMED_DEPTH_MAPS, NAMED_LABEL_MAPS, named_depth_map, named_label_map

    labels = examples.label_maps(32)
    assert [e["name"] for e in labels[:-1]] == list(NAMED_LABEL_MAPS) and labels[-1]["name"].startswith("render")
    first = np.asarray(Image.open(labels[0]["labels"]).convert("RGB"))
    assert np.array_equal(snap_to_labels(first), named_label_map(labels[0]["name"], 32, 32))  # the palette, exactly
    assert labels[-1]["labels"] == examples.landscapes(32)[0]["labels"]
    depth = examples.depth_maps(32)
    assert [e["name"] for e in depth[:-1]] == list(NAMED_DEPTH_MAPS)
    d = np.asarray(Image.open(depth[1]["depth"]), np.float32) / 255
    assert np.abs(d - named_depth_map(depth[1]["name"], 32, 32)).max() <= 0.5 / 255 + 1e-6


def test_pose_presets_are_user_style_first_and_keep_two_renders(examples):
    from taming_lite.data.user_style import NAMED_POSES

    presets = examples.pose_presets(64)
    assert list(presets) == list(NAMED_POSES) + list(examples.RENDERED_POSES)
    for text in presets.values():
        data = json.loads(text)
        assert data["width"] == data["height"] == 64 and len(data["keypoints"]) == 18
