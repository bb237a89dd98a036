"""torch Datasets for the five tasks, folders of user files, npz/PNG caches and the CLI."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from taming_lite.data import LABEL_IDS, NUM_CLASSES, render_landscape
from taming_lite.data.__main__ import main as cli
from taming_lite.data.datasets import (TASKS, CompletionDataset, DepthDataset, FolderDataset, LabelDataset,
                                       NpzDataset, PoseDataset, ProceduralDataset, SuperResDataset,
                                       make_dataset, tensor_to_image)
from taming_lite.data.folder import load_image, load_keypoints
from taming_lite.data.transforms import area_downsample


def _check_image(x, h, w, c=3):
    assert x.shape == (c, h, w) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1


def test_procedural_tasks():
    d = DepthDataset(size=64, length=3)
    x = d[0]
    _check_image(x["image"], 64, 64)
    _check_image(x["depth"], 64, 64, 1)
    assert len(d) == 3
    x = LabelDataset(size=(64, 96))[1]
    assert x["labels"].shape == (NUM_CLASSES, 64, 96) and (x["labels"].sum(0) == 1).all()
    assert x["label_ids"].dtype == torch.int64 and np.isin(x["label_ids"].numpy(), LABEL_IDS).all()
    x = SuperResDataset(size=64)[2]
    assert x["lowres4"].shape == (3, 16, 16) and x["lowres8"].shape == (3, 8, 8)
    x = PoseDataset(size=64)[0]
    _check_image(x["skeleton"], 64, 64)
    assert x["keypoints"].shape == (18, 3)
    x = CompletionDataset(size=64, source="both")[1]  # odd index -> human
    _check_image(x["image"], 64, 64)


def test_the_mix_source_interleaves_layout_and_humans():
    """source "mix": layout mix at even indices, a standing human at 4k + 1, a wide-pose one at 4k + 3."""
    from taming_lite.data.datasets import render_arrays

    d = ProceduralDataset("completion", 32, seed=5, source="mix")
    for i, src in enumerate(("layout", "human", "layout", "human_wide")):
        assert np.array_equal(d.arrays(i)["image"], render_arrays(src, (5, i), 32, 32)["image"]), src
    with pytest.raises(ValueError, match="supports source"):
        ProceduralDataset("depth", 32, source="mix")


def test_index_is_seed_and_reproducible():
    a, b = ProceduralDataset("depth", 64, seed=3), ProceduralDataset("depth", 64, seed=3)
    assert torch.equal(a[5]["image"], b[5]["image"])
    assert not torch.equal(a[5]["image"], a[6]["image"])
    s = render_landscape((3, 5), 64, 64)
    assert np.array_equal(tensor_to_image(a[5]["image"]), s.image)


def test_superres_is_area_downsampling():
    x = SuperResDataset(size=64)[0]
    img = tensor_to_image(x["image"]).astype(float)
    low = img.reshape(16, 4, 16, 4, 3).mean((1, 3))
    assert np.abs(tensor_to_image(x["lowres4"]) - low).max() <= 1
    with pytest.raises(ValueError, match="divisible"):
        area_downsample(np.zeros((10, 12, 3), np.uint8), 4)
    with pytest.raises(ValueError):
        SuperResDataset(size=60)


def test_bad_task_or_source():
    with pytest.raises(ValueError, match="unknown task"):
        ProceduralDataset("colorize")
    with pytest.raises(ValueError):
        ProceduralDataset("pose", source="landscape")


def _user_folder(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray((rng.random((40, 60)) * 65535).astype(np.uint16)).save(tmp_path / "a.depth.png")
    lab = LABEL_IDS[rng.integers(0, NUM_CLASSES, (40, 60))]
    Image.fromarray(lab).save(tmp_path / "a.labels.png")
    kp = [[10 + i, 5 + 2 * i, 1] for i in range(17)] + [[2, 2, 1]]
    (tmp_path / "a.keypoints.json").write_text(json.dumps(kp))
    # odd modes: palette, 16-bit gray, gray+alpha, gray, RGBA
    Image.fromarray(img).convert("P").save(tmp_path / "b.png")
    Image.fromarray((rng.random((50, 50)) * 65535).astype(np.uint16)).save(tmp_path / "c.png")
    Image.fromarray(img).convert("LA").save(tmp_path / "d.png")
    Image.fromarray(img).convert("L").save(tmp_path / "e.png")
    Image.fromarray(img).convert("RGBA").save(tmp_path / "f.png")
    return img


def test_folder_modes_and_crops(tmp_path):
    _user_folder(tmp_path)
    for name in "abcdef":
        im = load_image(tmp_path / f"{name}.png")
        assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3
    ds = FolderDataset(tmp_path, "completion", size=32, crop="center")
    assert len(ds) == 6
    for i in range(6):
        _check_image(ds[i]["image"], 32, 32)
    ds = FolderDataset(tmp_path, "superres", size=32, crop="random")
    assert ds[0]["lowres8"].shape == (3, 4, 4)


def test_folder_side_files(tmp_path):
    _user_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no .depth.png"):
        FolderDataset(tmp_path, "depth")
    for n in "bcdef":
        (tmp_path / f"{n}.png").unlink()
    x = FolderDataset(tmp_path, "depth", size=40, crop="center")[0]
    _check_image(x["depth"], 40, 40, 1)
    x = FolderDataset(tmp_path, "labels", size=(40, 60), crop="center")[0]
    assert x["labels"].shape == (NUM_CLASSES, 40, 60)
    x = FolderDataset(tmp_path, "pose", size=(40, 60), crop="center")[0]
    assert torch.allclose(x["keypoints"][3], torch.tensor([13.0, 11.0, 1.0]))
    x = FolderDataset(tmp_path, "pose", size=20, crop="center")[0]  # scaled by 0.5 then cropped
    assert x["keypoints"][3, 0] == pytest.approx(13 * 0.5 - 5) and x["keypoints"][3, 2] == 1
    assert (x["keypoints"][17, 2] == 0)  # pushed out of the crop


def test_folder_errors(tmp_path):
    _user_folder(tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "a.depth.png")
    ds = FolderDataset(tmp_path, "completion")
    with pytest.raises(ValueError, match="pixel-aligned"):
        from taming_lite.data.folder import load_item
        load_item(ds.items[0])
    (tmp_path / "a.keypoints.json").write_text("[[1, 2]]")
    with pytest.raises(ValueError, match="18 keypoints"):
        load_keypoints(tmp_path / "a.keypoints.json")
    (tmp_path / "a.keypoints.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot parse"):
        load_keypoints(tmp_path / "a.keypoints.json")
    (tmp_path / "zz.labels.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="without a matching image"):
        FolderDataset(tmp_path, "completion")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nope", "completion")


def test_openpose_json(tmp_path):
    flat = []
    for i in range(18):
        flat += [float(i), float(2 * i), 0.0 if i == 4 else 0.9]
    (tmp_path / "k.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))
    kp = load_keypoints(tmp_path / "k.json")
    assert kp.shape == (18, 3) and kp[4, 2] == 0 and kp[5, 0] == 5


def test_cli_cache_png_and_npz(tmp_path):
    assert cli(["cache", "--source", "landscape", "--n", "2", "--size", "64", "--out", str(tmp_path / "l"),
                "--quiet"]) == 0
    ds = make_dataset("labels", tmp_path / "l", size=64, crop="center")
    ref = LabelDataset(size=64)
    assert len(ds) == 2 and torch.equal(ds[1]["label_ids"], ref[1]["label_ids"])
    assert (ds[1]["image"] == ref[1]["image"]).all()
    dd = make_dataset("depth", tmp_path / "l", size=64, crop="center")
    assert (dd[0]["depth"] - DepthDataset(size=64)[0]["depth"]).abs().max() < 1e-4
    assert cli(["cache", "--source", "human", "--n", "3", "--size", "64", "--format", "npz",
                "--shard-size", "2", "--out", str(tmp_path / "h"), "--quiet"]) == 0
    npz = make_dataset("pose", tmp_path / "h")
    assert isinstance(npz, NpzDataset) and len(npz) == 3
    assert torch.equal(npz[2]["skeleton"], PoseDataset(size=64)[2]["skeleton"])
    assert set(TASKS) == {"completion", "depth", "labels", "superres", "pose"}
