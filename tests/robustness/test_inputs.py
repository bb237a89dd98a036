"""demos/inputs.py: the app's input layer (image modes, bombs, depth, label maps, keypoints,
sampling parameters), with hypothesis property tests over the parsers."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from demos import inputs
from demos.inputs import InputError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def png_bytes(im: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def bomb(w: int, h: int) -> bytes:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- images

MODES = {
    "1": lambda: Image.new("1", (5, 4), 1),
    "L": lambda: Image.new("L", (5, 4), 100),
    "LA": lambda: Image.new("LA", (5, 4), (100, 0)),
    "P": lambda: Image.new("RGB", (5, 4), (10, 200, 30)).convert("P"),
    "RGB": lambda: Image.new("RGB", (5, 4), (1, 2, 3)),
    "RGBA": lambda: Image.new("RGBA", (5, 4), (1, 2, 3, 128)),
    "CMYK": lambda: Image.new("CMYK", (5, 4), (0, 255, 0, 0)),
    "I;16": lambda: Image.fromarray(np.full((4, 5), 65535, np.uint16)),
    "I": lambda: Image.fromarray(np.arange(20, dtype=np.int32).reshape(4, 5)),
    "F": lambda: Image.fromarray(np.linspace(0, 3, 20, dtype=np.float32).reshape(4, 5)),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_becomes_rgb_uint8(mode):
    rgb = inputs.to_rgb(MODES[mode]())
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8


def test_transparency_is_composited_on_white():
    assert inputs.to_rgb(Image.new("RGBA", (2, 2), (0, 0, 0, 0)))[0, 0].tolist() == [255, 255, 255]
    p = Image.new("P", (2, 2), 0)
    p.info["transparency"] = 0
    assert inputs.to_rgb(p)[0, 0].tolist() == [255, 255, 255]


def test_16bit_is_scaled_and_float_is_stretched():
    assert inputs.to_rgb(MODES["I;16"]())[0, 0, 0] == 255
    f = inputs.to_rgb(MODES["F"]())
    assert f.min() == 0 and f.max() == 255


def test_exif_rotation_is_applied(tmp_path):
    im = Image.new("RGB", (6, 3), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    im.save(tmp_path / "r.jpg", exif=exif)
    assert inputs.load_rgb(tmp_path / "r.jpg").shape == (6, 3, 3)


def test_tiny_and_thin_images_load():
    assert inputs.load_rgb(png_bytes(Image.new("RGB", (1, 1)))).shape == (1, 1, 3)
    assert inputs.load_rgb(png_bytes(Image.new("L", (1, 37)))).shape == (37, 1, 3)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("P", (4, 4), i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert inputs.load_rgb(buf.getvalue()).shape == (4, 4, 3)


@pytest.mark.parametrize("w,h", [(20000, 20000), (5000, 5000), (100000, 1)])
def test_huge_images_and_bombs_are_refused_before_decoding(w, h, tmp_path):
    (tmp_path / "b.png").write_bytes(bomb(w, h))
    for check in (inputs.load_image, inputs.check_image_file):
        with pytest.raises(InputError, match="pixels"):
            check(tmp_path / "b.png")


def test_non_image_and_truncated_files(tmp_path):
    (tmp_path / "t.png").write_bytes(b"hello")
    with pytest.raises(InputError, match="not an image"):
        inputs.load_image(tmp_path / "t.png")
    data = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        inputs.load_image(tmp_path / "cut.png")
    with pytest.raises(InputError, match="no image"):
        inputs.load_image(None)


# --------------------------------------------------------------------------- depth


def test_depth_normalised_near_is_bright_and_invert():
    d, _ = inputs.depth_from_array(np.array([[0.0, 5.0], [10.0, 10.0]]))
    assert d.min() == 0 and d.max() == 1 and d.dtype == np.float32
    di, notes = inputs.depth_from_array(np.array([[0.0, 5.0], [10.0, 10.0]]), invert=True)
    assert np.allclose(di, 1 - d) and any("inverted" in n for n in notes)


def test_constant_depth_works_with_a_note():
    d, notes = inputs.depth_from_array(np.full((3, 3), 7.0))
    assert np.all(d == 0.5) and any("constant" in n for n in notes)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_depth_refused(bad):
    a = np.zeros((4, 4))
    a[1, 2] = bad
    with pytest.raises(InputError, match="NaN"):
        inputs.depth_from_array(a)


def test_depth_files(tmp_path):
    np.save(tmp_path / "d.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    d, _ = inputs.load_depth(tmp_path / "d.npy")
    assert d.shape == (3, 4)
    np.save(tmp_path / "n.npy", np.full((3, 4), np.nan))
    with pytest.raises(InputError, match="NaN"):
        inputs.load_depth(tmp_path / "n.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError):
        inputs.load_depth(tmp_path / "o.npy")  # pickled objects are never loaded
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(tmp_path / "d16.png")
    d, _ = inputs.load_depth(tmp_path / "d16.png")
    assert d.tolist() == [[0.0, 1.0]]


@FAST
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=30))
def test_depth_parser_property(values):
    a = np.array(values, dtype=np.float64).reshape(1, -1)
    try:
        d, _ = inputs.depth_from_array(a)
    except InputError:
        assert not np.isfinite(a).all()
        return
    assert d.shape == a.shape and np.isfinite(d).all() and d.min() >= 0 and d.max() <= 1


# --------------------------------------------------------------------------- label maps


def test_palette_colours_map_exactly_and_others_snap():
    from taming_lite.data.labels import LABEL_IDS, PALETTE

    ids, notes = inputs.label_map_from_rgb(PALETTE[None])
    assert ids[0].tolist() == LABEL_IDS.tolist() and notes == []
    ids, notes = inputs.label_map_from_rgb(np.array([[[250, 250, 250], [125, 185, 235]]], np.uint8))
    assert ids.tolist() == [[158, 156]]  # near white -> snow, near sky blue -> sky
    assert any("snapped" in n for n in notes)


def test_single_class_is_said():
    _, notes = inputs.label_map_from_rgb(np.full((4, 4, 3), (90, 200, 60), np.uint8))
    assert any("single class" in n for n in notes)


def test_empty_canvas_refused_painted_canvas_accepted():
    empty = {"background": None, "layers": [np.zeros((8, 8, 4), np.uint8)], "composite": np.full((8, 8, 4), 255, np.uint8)}
    with pytest.raises(InputError, match="canvas is empty"):
        inputs.canvas_to_rgb(empty)
    with pytest.raises(InputError, match="canvas is empty"):
        inputs.canvas_to_rgb(None)
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[2:4, 2:4] = (20, 100, 30, 255)
    comp = np.full((8, 8, 4), 255, np.uint8)
    comp[2:4, 2:4] = (20, 100, 30, 255)
    rgb = inputs.canvas_to_rgb({"background": None, "layers": [layer], "composite": comp})
    assert rgb.shape == (8, 8, 3) and rgb[3, 3].tolist() == [20, 100, 30]
    bg = np.full((8, 8, 4), (120, 180, 240, 255), np.uint8)
    assert inputs.canvas_to_rgb({"background": bg, "layers": [], "composite": bg}).shape == (8, 8, 3)


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_label_snapping_property(h, w, seed):
    from taming_lite.data.labels import LABEL_IDS

    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ids, _ = inputs.label_map_from_rgb(rgb)
    assert ids.shape == (h, w) and np.isin(ids, LABEL_IDS).all()


# --------------------------------------------------------------------------- keypoints


def pose18(x=10.0, y=20.0):
    return [[x + i, y + i, 1] for i in range(18)]


def test_plain_list_flat_list_and_openpose_accepted():
    a = inputs.parse_keypoints(json.dumps(pose18()), 64, 64)
    assert a.shape == (18, 3) and a[0].tolist() == [10.0, 20.0, 1.0]
    flat = [v for p in pose18() for v in p]
    assert np.array_equal(inputs.parse_keypoints(json.dumps(flat), 64, 64), a)
    op = {"people": [{"pose_keypoints_2d": flat}], "canvas_width": 128, "canvas_height": 128}
    b = inputs.parse_keypoints(json.dumps(op), 64, 64)
    assert np.allclose(b[:, :2], a[:, :2] / 2)  # rescaled from the 128 canvas to 64
    two = inputs.parse_keypoints(json.dumps([[p[0], p[1]] for p in pose18()]), 64, 64)
    assert np.array_equal(two, a)


def test_missing_keypoints():
    kp = pose18()
    kp[3] = None
    kp[4] = [0, 0, 0]
    a = inputs.parse_keypoints(json.dumps(kp), 64, 64)
    assert a[3, 2] == 0 and a[4, 2] == 0 and a[5, 2] == 1


@pytest.mark.parametrize("text,match", [
    ("{oops", "not valid JSON"),
    ("", "empty"),
    ("[[1, 2]]", "expected 18 keypoints"),
    (json.dumps(list(range(40))), "36 or 54 numbers"),
    (json.dumps([["1", 2]] * 18), "expected a number"),
    (json.dumps([[1, 2, 3, 4]] * 18), r"\[x, y\]"),
    (json.dumps(pose18(x=100)), "outside"),
    (json.dumps([[-1, 5]] + pose18()[1:]), "outside"),
    (json.dumps([[0, 0, 0]] * 18), "no keypoint is visible"),
    (json.dumps({"people": []}), "no people"),
    (json.dumps({"foo": 1}), "'keypoints'"),
    (json.dumps({"keypoints": pose18(), "width": -5, "height": 10}), "canvas size"),
    ('[[NaN, 1]]' + ", [1, 1]" * 0, "expected"),
    ("x" * (inputs.MAX_JSON_CHARS + 1), "limit"),
])
def test_bad_keypoints_refused_with_a_message(text, match):
    with pytest.raises(InputError, match=match):
        inputs.parse_keypoints(text, 64, 64)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, width=32) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=20) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=60)


@FAST
@given(json_values)
def test_keypoint_parser_never_crashes(value):
    try:
        kp = inputs.parse_keypoints(json.dumps(value), 64, 48)
    except InputError:
        return
    assert kp.shape == (18, 3) and np.isfinite(kp).all()
    vis = kp[:, 2] > 0
    assert (kp[vis, 0] >= 0).all() and (kp[vis, 0] <= 48).all() and (kp[vis, 1] <= 64).all()


@FAST
@given(st.text(max_size=200))
def test_keypoint_parser_never_crashes_on_text(text):
    try:
        inputs.parse_keypoints(text, 64, 64)
    except InputError:
        pass


def test_keypoints_json_round_trip():
    a = inputs.parse_keypoints(json.dumps(pose18()), 64, 64)
    assert np.allclose(inputs.parse_keypoints(inputs.keypoints_to_json(a, 64, 64), 64, 64), a)


# --------------------------------------------------------------------------- sampling parameters


def test_sampling_defaults_and_clamps():
    """The API's spellings (top-k 0 = no limit, top-p 1 = off) become the library's one (None)."""
    from taming_lite.sampling import SamplingSettings

    s, n = inputs.sampling_params(1, 1.0, 0, 1.0, 2, vocab_size=64)
    assert s == SamplingSettings(temperature=1.0, top_k=None, top_p=None, seed=1) and n == 2
    assert inputs.sampling_params(1, 1.0, 5000, 0.5, 1, vocab_size=64)[0].top_k == 64
    assert inputs.sampling_params(1.0, 1.0, 3.0, 0.5, 1.0, vocab_size=64)[0].top_k == 3
    def model(**user):  # Pipeline.settings: the model's defaults, then the user's values
        return SamplingSettings.resolve({"top_k": 100, "guidance": 2.0}, **user)

    assert inputs.sampling_params(1, 0.5, 0, 1.0, 1, 64, model)[0] == SamplingSettings(0.5, None, None, 2.0, 1)
    assert inputs.sampling_params(1, 0.5, 0, 1.0, 1, 64, model, guidance=1.0)[0].guidance == 1.0


@pytest.mark.parametrize("kw,match", [
    (dict(temperature=0), "temperature"), (dict(temperature=-1), "temperature"),
    (dict(temperature=float("nan")), "temperature"), (dict(temperature="hot"), "temperature"),
    (dict(top_k=-1), "top-k"), (dict(top_k=2.5), "top-k"), (dict(top_p=0), "top-p"),
    (dict(top_p=1.01), "top-p"), (dict(top_p="x"), "top-p"), (dict(seed=-1), "seed"),
    (dict(seed=2**31), "seed"), (dict(seed=1.5), "seed"), (dict(seed=True), "seed"),
    (dict(num_samples=0), "number of samples"), (dict(num_samples=99), "number of samples"),
])
def test_bad_sampling_params_refused(kw, match):
    args = dict(seed=1, temperature=1.0, top_k=10, top_p=1.0, num_samples=1) | kw
    with pytest.raises(InputError, match=match):
        inputs.sampling_params(vocab_size=64, **args)


anything = st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4)


@FAST
@given(anything, anything, anything, anything, anything)
def test_sampling_params_property(seed, temperature, top_k, top_p, n):
    try:
        s, n = inputs.sampling_params(seed, temperature, top_k, top_p, n, vocab_size=64)
    except InputError:
        return
    assert 0 <= s.seed <= inputs.MAX_SEED and s.temperature > 0
    assert s.top_k is None or 1 <= s.top_k <= 64
    assert s.top_p is None or 0 < s.top_p < 1
    assert 1 <= n <= inputs.MAX_SAMPLES


@FAST
@given(st.integers(-1000, 10**5), st.sampled_from([4, 8, 16]))
def test_snap_size_property(v, stride):
    s, note = inputs.snap_size(v, stride, stride, 32 * stride)
    assert s % stride == 0 and stride <= s <= 32 * stride
    assert (note is None) == (s == v)
