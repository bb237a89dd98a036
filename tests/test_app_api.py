"""The app through its real HTTP API: a server subprocess on a loopback port, gradio_client calls.

Every endpoint with its examples, 8 concurrent clients on one endpoint, determinism (same seed ->
same pixels), cancel, and the server survives it all. Bad and unusual inputs through the API:
tests/robustness/test_app_bad_inputs.py; the queue, load and determinism across server runs:
tests/robustness/.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402


SIZE = 64  # the placeholder models' image size
CTRL = dict(seed=1, temperature=1.0, top_k=100, top_p=1.0, num_samples=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory, server):
    """Example inputs (rendered by the same code as the app's examples)."""
    import os

    os.environ["TAMING_LITE_EXAMPLES"] = str(tmp_path_factory.mktemp("examples"))
    from demos import examples

    ls = examples.landscapes(SIZE)
    out = dict(image=ls[0]["image"], depth=ls[1]["depth"], labels=ls[2]["labels"],
               lowres=examples.superres(SIZE, 4)[0], pose=examples.pose_presets(SIZE))
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in out.items()}


def ctrl(**kw):
    c = dict(CTRL, **kw)
    return [c["seed"], c["temperature"], c["top_k"], c["top_p"], c["num_samples"]]


def call(client, endpoint, files_or_args, **kw):
    return client.predict(*files_or_args, api_name=endpoint, **kw)


def args_for(endpoint, files, size=SIZE, **kw):
    """Arguments of each endpoint, with the examples."""
    if endpoint == "/complete":
        return [handle_file(files["image"]), 4] + ctrl(**kw) + [size, size]
    if endpoint == "/depth":
        return [handle_file(files["depth"]), False] + ctrl(**kw) + [size, size, None]
    if endpoint == "/labels":
        return [None, handle_file(files["labels"])] + ctrl(**kw) + [size, size]
    if endpoint == "/superres":
        return [handle_file(files["lowres"])] + ctrl(**kw)
    if endpoint == "/pose":
        return [files["pose"]["waving"]] + ctrl(**kw) + [size, size]
    raise KeyError(endpoint)


def gallery_images(result) -> list[np.ndarray]:
    g = result[0]
    return [np.asarray(Image.open(item["image"]).convert("RGB")) for item in g]


ENDPOINTS = ["/complete", "/depth", "/labels", "/superres", "/pose"]


def test_api_lists_the_five_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert set(ENDPOINTS) <= names
    assert not any("lambda" in n or "preview" in n for n in names), names  # UI helpers stay private


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_with_example(client, files, endpoint):
    r = call(client, endpoint, args_for(endpoint, files, num_samples=2))
    imgs = gallery_images(r)
    # superres: bicubic, 2 samples, 2 back-projected, their mean back-projected
    samples = imgs[1:3] if endpoint == "/superres" else imgs
    assert len(imgs) == (6 if endpoint == "/superres" else 2)
    assert all(im.shape == (SIZE, SIZE, 3) for im in imgs)
    info = r[-1]
    assert "done" in info and "untrained placeholder" in info
    if endpoint == "/depth":
        gif, glb = r[1], r[2]
        assert Image.open(gif).n_frames > 1
        assert Path(glb).read_bytes()[:4] == b"glTF"
    if endpoint == "/superres":
        assert "PSNR" in info and "back-projected" in info
        low = np.asarray(Image.open(files["lowres"]).convert("RGB")).astype(np.float64)
        f = SIZE // low.shape[0]

        def error_of_block_means(im):
            means = im.astype(np.float64).reshape(low.shape[0], f, low.shape[1], f, 3).mean(axis=(1, 3))
            return np.abs(means - low).mean()

        for raw, fixed in zip(samples, imgs[3:5]):  # back-projected: block means equal the input's pixels
            assert error_of_block_means(fixed) < 1.0 < error_of_block_means(raw)
        assert error_of_block_means(imgs[5]) < 1.0 and "their mean, back-projected" in info
        # the mean of the two samples, back-projected: between them wherever they differ
        lo, hi = np.minimum(imgs[3], imgs[4]).astype(int), np.maximum(imgs[3], imgs[4]).astype(int)
        assert np.mean((imgs[5] >= lo - 8) & (imgs[5] <= hi + 8)) > 0.9

def test_sliding_window_output_larger_than_the_window(client, files):
    r = call(client, "/labels", args_for("/labels", files, size=2 * SIZE))
    assert gallery_images(r)[0].shape == (2 * SIZE, 2 * SIZE, 3)


def test_openpose_upload_format(client, files):
    from demos.examples import openpose_json

    r = call(client, "/pose", [openpose_json(files["pose"]["t_pose"])] + ctrl() + [SIZE, SIZE])
    assert gallery_images(r)[0].shape == (SIZE, SIZE, 3)


def test_same_seed_same_image_different_seed_different(client, files):
    a = gallery_images(call(client, "/depth", args_for("/depth", files, seed=7)))[0]
    b = gallery_images(call(client, "/depth", args_for("/depth", files, seed=7)))[0]
    c = gallery_images(call(client, "/depth", args_for("/depth", files, seed=8)))[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_eight_concurrent_clients(server, files):
    results, errors = [None] * 8, []

    def work(i):
        try:
            c = Client(server.url, verbose=False)
            results[i] = gallery_images(c.predict(*args_for("/pose", files, seed=100 + i), api_name="/pose"))[0]
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(f"client {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert all(r is not None and r.shape == (SIZE, SIZE, 3) for r in results)
    assert time.time() - t0 < 120
    assert server.alive()


def test_cancel_leaves_the_server_healthy(client, files, server):
    big = 4 * SIZE  # 32 x 32 tokens with the sliding window: long enough to cancel
    job = client.submit(*args_for("/depth", files, size=big), api_name="/depth")
    t0 = time.time()
    while not job.status().code.name in ("PROCESSING", "ITERATING") and time.time() - t0 < 30:
        time.sleep(0.1)
    job.cancel()
    time.sleep(0.5)
    r = call(client, "/pose", args_for("/pose", files))
    assert gallery_images(r)[0].shape == (SIZE, SIZE, 3)
    assert server.alive()


def test_server_survived_everything(server, client):
    assert server.alive()
    log = server.log_path.read_text()
    assert "Traceback" not in log or "gradio.exceptions.Error" in log  # only our gr.Error traces
