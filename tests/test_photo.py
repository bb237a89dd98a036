"""taming_lite.photo: from a photo to a condition. The conversions on constructed inputs (depth range and
direction, the class table, the keypoint mapping); tiny random estimators of the real transformers classes
(DPT, Mask2Former, ViTPose + RT-DETR, saved to folders here) loaded once and reused; the depth, labels and
pose tabs through the app's HTTP API with those folders (photo -> detected condition first -> samples);
bad photos (1x1, a decompression bomb, truncated, CMYK), no transformers, an offline Hub: clear messages."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taming_lite import hub, photo
from taming_lite.data.human import KEYPOINT_NAMES
from taming_lite.data.labels import LABEL_BY_NAME, LABEL_IDS

sys.path.insert(0, str(Path(__file__).resolve().parent))
PHOTOS = Path(__file__).resolve().parents[1] / "demos" / "photos"


# --------------------------------------------------------------------------- conversions


def test_depth_is_min_max_disparity_near_bright():
    """Relative inverse depth (near = large) -> [0, 1] near = 1, min-max per image as D-RIN's MiDaS maps;
    metric depth (near = small) is turned round; a flat map is 0.5."""
    disparity = np.array([[10.0, 20.0], [30.0, 50.0]])  # the lower right is nearest
    d = photo.depth_from_prediction(disparity)
    assert d.dtype == np.float32 and d.min() == 0 and d.max() == 1 and d[1, 1] == 1 and d[0, 0] == 0
    assert np.allclose(d, (disparity - 10) / 40)
    assert np.allclose(photo.depth_from_prediction(disparity * 7 + 3), d)  # scale and shift do not matter
    metres = np.array([[1.0, 2.0], [4.0, 8.0]])  # the upper left is nearest
    m = photo.depth_from_prediction(metres, metric=True)
    assert m[0, 0] == 1 and m[1, 1] == 0 and np.allclose(m, (1 / metres - 1 / 8) / (1 - 1 / 8))
    assert np.all(photo.depth_from_prediction(np.full((3, 3), 4.0)) == 0.5)
    with pytest.raises(photo.PhotoError):
        photo.depth_from_prediction(np.array([[np.nan, 1.0]]))


def test_every_panoptic_class_maps_to_a_landscape_id_or_unknown():
    table = photo.PANOPTIC_TO_LANDSCAPE
    assert len(photo.COCO_PANOPTIC_CLASSES) == 133 and set(table) == set(photo.COCO_PANOPTIC_CLASSES)
    assert all(v is photo.UNKNOWN or v in LABEL_IDS for v in table.values())
    assert all(table[t] is photo.UNKNOWN for t in photo.COCO_THINGS)  # objects are not landscape
    expect = {"sky-other-merged": "sky-other", "sea": "sea", "river": "river", "grass-merged": "grass",
              "tree-merged": "tree", "mountain-merged": "mountain", "snow": "snow", "sand": "sand",
              "rock-merged": "rock", "dirt-merged": "dirt", "water-other": "water-other"}
    assert all(table[k] == LABEL_BY_NAME[v] for k, v in expect.items())
    assert table["building-other-merged"] is photo.UNKNOWN and table["road"] is photo.UNKNOWN
    # our own landscape names map to themselves; a name nobody knows is unknown
    assert photo.landscape_id("grass") == LABEL_BY_NAME["grass"] and photo.landscape_id("spaceship") is None


def test_unknown_pixels_take_the_nearest_landscape_class():
    id2label = {0: "person", 1: "sky-other-merged", 2: "sea", 3: "car"}
    classes = np.array([[1, 1, 1, 1], [1, 0, 0, 1], [2, 3, 3, 2], [2, 2, 2, 2]])
    ids, notes = photo.labels_from_classes(classes, id2label)
    sky, sea = LABEL_BY_NAME["sky-other"], LABEL_BY_NAME["sea"]
    assert ids.dtype == np.uint8 and set(np.unique(ids)) == {sky, sea}
    assert (ids[:2] == sky).all() and (ids[2:] == sea).all()  # the person in the sky, the car on the sea
    assert "car" in notes[0] and "person" in notes[0] and "nearest" in notes[0]
    with pytest.raises(photo.PhotoError, match="no landscape class"):
        photo.labels_from_classes(np.zeros((4, 4), int), id2label)


def test_coco_keypoints_become_openpose_with_the_neck_between_the_shoulders():
    xy = np.array([[10.0 * i, 100.0 + i] for i in range(17)])
    scores = np.ones(17)
    kp = photo.openpose_from_coco(xy, scores)
    assert kp.shape == (18, 3) and (kp[:, 2] == 1).all()
    names = dict(zip(KEYPOINT_NAMES, kp))
    coco = dict(zip(photo.COCO_KEYPOINTS, xy))
    for ours, theirs in [("nose", "nose"), ("r_shoulder", "r_shoulder"), ("l_wrist", "l_wrist"), ("r_eye", "r_eye"),
                         ("l_ear", "l_ear"), ("r_ankle", "r_ankle"), ("l_hip", "l_hip")]:
        assert np.allclose(names[ours][:2], coco[theirs]), ours
    assert np.allclose(names["neck"][:2], (coco["l_shoulder"] + coco["r_shoulder"]) / 2)
    low = scores.copy()
    low[[photo.COCO_KEYPOINTS.index("l_shoulder"), photo.COCO_KEYPOINTS.index("r_knee")]] = 0.1
    kp = photo.openpose_from_coco(xy, low)
    missing = {KEYPOINT_NAMES[i] for i in np.flatnonzero(kp[:, 2] == 0)}
    assert missing == {"l_shoulder", "r_knee", "neck"}  # no neck without both shoulders
    assert (kp[kp[:, 2] == 0, :2] == 0).all()


def test_the_largest_person_and_the_photo_checks():
    assert photo.largest_box([[0, 0, 10, 10], [5, 5, 40, 30], [0, 0, 20, 20]]) == 1
    rgb = np.zeros((300, 100, 3), np.uint8)
    out, notes = photo.prepare_photo(rgb, 64, 64)  # centre-cropped to the output's square
    assert out.shape == (100, 100, 3) and "centre-cropped" in notes[0]
    big, _ = photo.prepare_photo(np.zeros((3000, 2000, 3), np.uint8))
    assert max(big.shape[:2]) == photo.MAX_SIDE
    with pytest.raises(photo.PhotoError, match="too small"):
        photo.prepare_photo(np.zeros((1, 1, 3), np.uint8))


def test_names_are_checked():
    assert photo.check_name("depth", None) == photo.NONE and photo.check_name("pose", " none ") == photo.NONE
    assert photo.check_name("depth", "Intel/dpt-hybrid-midas") == "Intel/dpt-hybrid-midas"
    with pytest.raises(photo.PhotoError, match="unknown depth preprocessor"):
        photo.check_name("depth", "someone/else")
    with pytest.raises(photo.PhotoError, match="--allow-local-models"):
        photo.check_name("labels", str(PHOTOS))
    with pytest.raises(photo.PhotoError, match="no photo preprocessor"):
        photo.check_name("superres", "x")
    labels = [lab for lab, _ in photo.choices("pose")]
    assert labels[0].startswith("None") and "MB" in labels[1]


def test_without_transformers_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    assert not photo.available()
    with pytest.raises(hub.TransformersMissing, match="pip install"):
        photo.load("depth", "Intel/dpt-hybrid-midas", device="cpu")
    assert "pip install" in photo.choices("depth")[1][0]


# --------------------------------------------------------------------------- tiny estimators of the real classes

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("photo_models")
    return {task: str(photo.save_tiny(task, root / task)) for task in ("depth", "labels", "pose")}


@pytest.fixture(scope="module")
def cat():
    return np.asarray(Image.open(PHOTOS / "chelsea.jpg").convert("RGB"))


@pytest.mark.parametrize("task", ["depth", "labels", "pose"])
def test_tiny_estimators_load_once_and_give_the_condition(tiny, cat, task):
    pre = photo.load(task, tiny[task], device="cpu")
    assert photo.load(task, tiny[task], device="cpu") is pre and pre.loaded_from == "from disk"
    found = pre(cat)
    assert found.shown.dtype == np.uint8 and found.shown.shape == cat.shape and found.size == cat.shape[:2]
    if task == "depth":
        d = found.condition
        assert d.shape == cat.shape[:2] and d.min() == 0 and d.max() == 1
    elif task == "labels":
        assert found.condition.shape == cat.shape[:2] and set(np.unique(found.condition)) <= set(LABEL_IDS)
    else:
        assert found.condition.shape == (18, 3) and "people found: the largest" in found.notes[1]
        assert (found.condition[:, 2] > 0).any()
    assert pre.name in found.notes[0]


def test_a_folder_of_the_wrong_kind_is_refused(tiny):
    with pytest.raises(hub.ModelNotFoundError, match="model_type"):
        photo.load("labels", tiny["depth"], device="cpu")


def test_offline_a_real_name_fails_at_once_saying_what_to_do(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    t0 = time.perf_counter()
    with pytest.raises(hub.HubUnavailable, match="HF_HUB_OFFLINE"):
        photo.load("depth", "depth-anything/Depth-Anything-V2-Small-hf", device="cpu")
    assert time.perf_counter() - t0 < 5


def test_online_the_real_name_downloads_into_the_hf_cache(monkeypatch, tmp_path, tiny, cat):
    """The Hub stand-in serves a tiny depth model under the real repo id: downloaded once, then from the cache."""
    import hub_server

    server = hub_server.use(monkeypatch, tmp_path)
    try:
        server.push_folder("depth-anything/Depth-Anything-V2-Small-hf", Path(tiny["depth"]))
        pre = photo.load("depth", "depth-anything/Depth-Anything-V2-Small-hf", device="cpu")
        assert pre.loaded_from == "downloaded" and pre(cat).condition.shape == cat.shape[:2]
        assert "in the cache" in dict((n, lab) for lab, n in photo.choices("depth"))[
            "depth-anything/Depth-Anything-V2-Small-hf"]
    finally:
        server.close()


# --------------------------------------------------------------------------- the three tabs through the HTTP API

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

SIZE = 64
CTRL = [1, 1.0, 100, 1.0, 1]  # seed, temperature, top_k, top_p, num_samples


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny):
    from app_server import AppServer

    srv = AppServer(tmp_path_factory.mktemp("app"), extra_args=["--allow-local-models"]).wait(300)
    yield srv, Client(srv.url, verbose=False)
    srv.stop()


def call(client, task, photo_file, pre, **kw):
    """The tab's endpoint with its old arguments (an empty condition) and the photo + preprocessor at the end."""
    p = handle_file(str(photo_file))
    if task == "depth":
        args = [None, False, *CTRL, SIZE, SIZE, None, "", 1.0, p, pre]
    elif task == "labels":
        args = [None, None, *CTRL, SIZE, SIZE, "", 1.0, p, pre]
    else:
        args = ["", *CTRL, SIZE, SIZE, "", 1.0, p, pre]
    return client.predict(*args, api_name=f"/{task}", **kw)


@pytest.mark.parametrize("task", ["depth", "labels", "pose"])
def test_photo_to_detected_condition_to_samples(app, tiny, task):
    _, client = app
    result = call(client, task, PHOTOS / ("astronaut.jpg" if task == "pose" else "chelsea.jpg"), tiny[task])
    gallery, info = result[0], result[-1]
    assert len(gallery) == 2 and gallery[0]["caption"].startswith("detected")
    detected = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"))
    assert detected.shape[:2] == (256, 256)  # the photo's size: its own square, at most MAX_SIDE
    assert "estimated from the photo" in info and "procedural scenes" in info and "**done**" in info


def test_bad_photos_give_clear_errors(app, tiny, tmp_path):
    _, client = app
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    Image.open(PHOTOS / "coffee.jpg").convert("CMYK").save(tmp_path / "cmyk.jpg")
    raw = (PHOTOS / "coffee.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(AppError, match="too small"):
        call(client, "depth", tmp_path / "one.png", tiny["depth"])
    sys.path.insert(0, str(Path(__file__).resolve().parent / "robustness"))
    from test_app_bad_inputs import _png_bomb  # a tiny PNG whose header claims 20000 x 20000 pixels

    with pytest.raises(AppError, match="pixels"):
        call(client, "pose", _png_bomb(tmp_path / "bomb.png", 20000, 20000), tiny["pose"])
    with pytest.raises(AppError, match="truncated|could not read|corrupt"):
        call(client, "labels", tmp_path / "cut.jpg", tiny["labels"])
    result = call(client, "depth", tmp_path / "cmyk.jpg", tiny["depth"])  # CMYK: converted, like elsewhere
    assert result[0][0]["caption"] == "detected depth map"
    with pytest.raises(AppError, match="no photo given"):
        client.predict(None, False, *CTRL, SIZE, SIZE, None, "", 1.0, None, tiny["depth"], api_name="/depth")
    with pytest.raises(AppError, match="unknown pose preprocessor"):
        call(client, "pose", PHOTOS / "astronaut.jpg", "someone/else")
    with pytest.raises(AppError, match="HF_HUB_OFFLINE|--online"):  # the app runs offline: a quick, clear no
        call(client, "labels", PHOTOS / "chelsea.jpg", "facebook/mask2former-swin-tiny-coco-panoptic")


def test_old_calls_keep_working_and_the_server_is_alive(app):
    srv, client = app
    pose = '[[32, 10], [32, 18], [26, 18], [22, 28], [20, 38], [38, 18], [42, 28], [44, 38], [28, 38], [28, 48], ' \
           '[28, 60], [36, 38], [36, 48], [36, 60], [31, 9], [33, 9], [30, 10], [34, 10]]'
    result = client.predict(pose, *CTRL, SIZE, SIZE, api_name="/pose")
    assert len(result[0]) == 1 and not result[0][0]["caption"].startswith("detected")
    assert srv.alive()
