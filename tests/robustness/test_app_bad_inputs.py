"""Bad and unusual inputs through the app's real HTTP API (issue: robustness): a server subprocess on
a loopback port, gradio_client calls. Each bad input gives an AppError whose message says what is
wrong (asserted), unusual ones work, and the server survives it all. The input layer's own tests
(every PIL mode, EXIF, hypothesis) are in test_inputs.py; the tabs' normal use in tests/test_app_api.py.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_server import example_inputs  # noqa: E402

SIZE = 64  # the placeholder models' image size
CTRL = dict(seed=1, temperature=1.0, top_k=100, top_p=1.0, num_samples=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The app's example inputs and hostile or unusual files."""
    out = example_inputs(tmp_path_factory.mktemp("examples"), SIZE)
    d = tmp_path_factory.mktemp("inputs")
    out["bomb"] = _png_bomb(d / "bomb.png", 20000, 20000)
    (d / "text.png").write_bytes(b"this is not an image")
    out["text"] = d / "text.png"
    raw = Path(out["image"]).read_bytes()
    (d / "truncated.png").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = d / "truncated.png"
    Image.fromarray(np.full((16, 16), np.nan, np.float32), mode="F").save(d / "nan.tiff")
    out["nan_depth"] = d / "nan.tiff"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(d / "depth16.png")
    out["depth16"] = d / "depth16.png"
    Image.open(out["image"]).convert("CMYK").save(d / "cmyk.jpg")
    out["cmyk"] = d / "cmyk.jpg"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(d / "one.png")
    out["one"] = d / "one.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(d / "noise.png")
    out["offpalette"] = d / "noise.png"
    frames = [Image.new("P", (24, 24), i) for i in range(3)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    out["gif"] = d / "anim.gif"
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in out.items()}


def _png_bomb(path: Path, w: int, h: int) -> Path:
    """A valid, tiny PNG whose header claims w x h pixels (1-bit)."""
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    body = zlib.compress(b"\0" * ((w // 8 + 1) * 64))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def ctrl(**kw):
    c = dict(CTRL, **kw)
    return [c["seed"], c["temperature"], c["top_k"], c["top_p"], c["num_samples"]]


def first_image(result) -> np.ndarray:
    return np.asarray(Image.open(result[0][0]["image"]).convert("RGB"))


@pytest.mark.parametrize("name", ["cmyk", "one", "gif"])
def test_unusual_images_work(client, files, name):
    r = client.predict(handle_file(files[name]), 4, *ctrl(), SIZE, SIZE, api_name="/complete")
    assert first_image(r).shape == (SIZE, SIZE, 3)


def test_16bit_depth_works(client, files):
    r = client.predict(handle_file(files["depth16"]), True, *ctrl(), SIZE, SIZE, None, api_name="/depth")
    assert "inverted" in r[-1]


def test_off_palette_labels_are_snapped_and_said(client, files):
    r = client.predict(None, handle_file(files["offpalette"]), *ctrl(), SIZE, SIZE, api_name="/labels")
    assert "snapped to the nearest class" in r[-1]


BAD = [
    ("/complete", lambda f: [handle_file(f["bomb"]), 4] + ctrl() + [SIZE, SIZE], "decompression bomb"),
    ("/complete", lambda f: [handle_file(f["text"]), 4] + ctrl() + [SIZE, SIZE], "not an image"),
    ("/complete", lambda f: [handle_file(f["truncated"]), 4] + ctrl() + [SIZE, SIZE], "truncated"),
    ("/complete", lambda f: [None, 4] + ctrl() + [SIZE, SIZE], "no image given"),
    ("/complete", lambda f: [handle_file(f["image"]), 4] + ctrl(temperature=0) + [SIZE, SIZE], "temperature|minimum value 0.1"),
    ("/complete", lambda f: [handle_file(f["image"]), 4] + ctrl(top_p=1.5) + [SIZE, SIZE], "top-p|maximum value 1"),
    ("/complete", lambda f: [handle_file(f["image"]), 4] + ctrl(seed=-1) + [SIZE, SIZE], "seed|minimum value 0"),
    ("/complete", lambda f: [handle_file(f["image"]), 4] + ctrl(top_k=-3) + [SIZE, SIZE], "top-k|minimum value 0"),
    ("/complete", lambda f: [handle_file(f["image"]), 4] + ctrl(num_samples=99) + [SIZE, SIZE], "number of samples|maximum value 8"),
    ("/depth", lambda f: [handle_file(f["nan_depth"]), False] + ctrl() + [SIZE, SIZE, None], "NaN"),
    ("/depth", lambda f: [None, False] + ctrl() + [SIZE, SIZE, None], "no depth map"),
    ("/depth", lambda f: [handle_file(f["bomb"]), False] + ctrl() + [SIZE, SIZE, None], "decompression bomb"),
    ("/labels", lambda f: [None, None] + ctrl() + [SIZE, SIZE], "canvas is empty"),
    ("/superres", lambda f: [handle_file(f["text"])] + ctrl(), "not an image"),
    ("/superres", lambda f: [handle_file(f["lowres"])] + ctrl(temperature=-1), "temperature|minimum value 0.1"),
    ("/pose", lambda f: ["{not json"] + ctrl() + [SIZE, SIZE], "not valid JSON"),
    ("/pose", lambda f: ["[[1, 2], [3, 4]]"] + ctrl() + [SIZE, SIZE], "expected 18 keypoints"),
    ("/pose", lambda f: [json.dumps([[10, 10]] * 17 + [[999, 10]])] + ctrl() + [SIZE, SIZE], "outside"),
    ("/pose", lambda f: [json.dumps([["a", 1]] * 18)] + ctrl() + [SIZE, SIZE], "expected a number"),
    ("/pose", lambda f: [""] + ctrl() + [SIZE, SIZE], "empty"),
]


@pytest.mark.parametrize("endpoint,make,expected", BAD, ids=[f"{e}-{x}" for e, _, x in BAD])
def test_bad_input_gives_a_clear_error(client, files, endpoint, make, expected):
    with pytest.raises(AppError) as e:
        client.predict(*make(files), api_name=endpoint)
    msg = str(e.value)
    # the sliders' own range checks (Gradio's message) answer first for values a slider cannot reach
    assert re.search(expected, msg, re.IGNORECASE), msg
    assert "Traceback" not in msg


def test_server_survived_everything(server, client, files):
    assert server.alive()
    r = client.predict(files["pose"], *ctrl(), SIZE, SIZE, api_name="/pose")
    assert first_image(r).shape == (SIZE, SIZE, 3)
    log = server.log_path.read_text()
    assert "Traceback" not in log or "gradio.exceptions.Error" in log  # only our gr.Error traces
