"""An aligned-conditioning labels model in the real app, through its HTTP API (a tiny random model)."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from app_server import AppServer  # noqa: E402
from test_aligned import S, tiny  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from taming_lite.checkpoints import save_pretrained
    from taming_lite.data.labels import NUM_CLASSES

    tmp = tmp_path_factory.mktemp("aligned_app")
    save_pretrained(tiny(in_channels=NUM_CLASSES, n_labels=NUM_CLASSES), tmp / "weights" / "labels",
                    extra={"task": "labels", "image_size": S})
    server = AppServer(tmp, weights=tmp / "weights").wait()
    try:
        yield Client(server.url, verbose=False), tmp
    finally:
        server.stop()


def labels_png(tmp, size):
    from taming_lite.data.labels import colorize, index_to_ids

    idx = np.zeros((size, size), np.int64)
    idx[size // 2 :] = 1
    path = tmp / f"labels_{size}.png"
    Image.fromarray(colorize(index_to_ids(idx))).save(path)
    return str(path)


@pytest.mark.parametrize("size,guidance", [(S, 2.0), (2 * S, 1.0)])  # one window, and the sliding window
def test_labels_endpoint_samples_an_aligned_model(client, size, guidance):
    c, tmp = client
    r = c.predict(None, handle_file(labels_png(tmp, size)), 3, 1.0, 100, 1.0, 2, size, size, None, guidance,
                  api_name="/labels")
    images = [np.asarray(Image.open(item["image"]).convert("RGB")) for item in r[0]]
    assert len(images) == 2 and all(im.shape == (size, size, 3) for im in images)
    assert "done" in r[-1] and "placeholder" not in r[-1]
