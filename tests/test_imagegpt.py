"""taming_lite.imagegpt with a tiny random Image-GPT (a transformers ImageGPTConfig saved to a folder,
32x32 pixels, 512 colours like the released ones, 2 narrow layers): loading from a folder and from a
Hub stand-in (tests/hub_server.py) by repo id, the HF cache and offline rules, completion keeps the
upper rows and is deterministic by seed; without transformers, a message that says how to install it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
from taming_lite import imagegpt  # noqa: E402
from taming_lite.hub import HubUnavailable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_server  # noqa: E402


def save_tiny(folder: Path, resolution: int = 32, n_colours: int = 512) -> Path:
    model, processor = imagegpt.tiny_random(resolution, n_colours)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("igpt"))


@pytest.fixture(scope="module")
def photo():
    from PIL import Image

    from demos.photos import photo_path

    return np.asarray(Image.open(photo_path("chelsea")).convert("RGB"))


def test_folder_loads_and_completes_the_lower_rows(tiny, photo):
    igpt = imagegpt.load(str(tiny), device="cpu")
    assert imagegpt.holds_imagegpt(tiny) and igpt.resolution == 32 and igpt.n_colours == 512
    assert igpt.loaded_from == "from disk" and str(igpt.dtype) == "torch.float32"
    a = igpt.complete(photo, 16, seed=3, top_k=50)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    given = igpt.decode(igpt.encode(photo)[0])  # the photo at 32x32 in the model's 512 colours
    assert np.array_equal(a[:16], given[:16]) and not np.array_equal(a[16:], given[16:])
    assert np.array_equal(a, igpt.complete(photo, 16, seed=3, top_k=50))
    assert not np.array_equal(a, igpt.complete(photo, 16, seed=4, top_k=50))
    steps = []
    igpt.complete(photo, 30, seed=0, progress=lambda d, t: steps.append((d, t)))
    assert steps[-1] == (64, 64)


def test_hub_repo_id_downloads_into_the_hf_cache_then_loads_offline(monkeypatch, tmp_path, tiny, photo):
    server = hub_server.use(monkeypatch, tmp_path)
    try:
        server.push("openai/imagegpt-small", {p.name: p.read_bytes() for p in tiny.iterdir()})
        messages = []
        igpt = imagegpt.load("openai/imagegpt-small", device="cpu", progress=messages.append)
        assert igpt.loaded_from == "downloaded" and any("downloading model.safetensors" in m for m in messages)
        assert igpt.complete(photo, 16, seed=1).shape == (32, 32, 3)
        n = len(server.requests)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        again = imagegpt.load("openai/imagegpt-small", device="cpu")
        assert again.loaded_from == "from the HF cache" and len(server.requests) == n  # no request at all
        with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
            imagegpt.load("openai/imagegpt-medium", device="cpu")
    finally:
        server.close()


def test_a_bin_only_repo_loads_too(monkeypatch, tmp_path, tiny):
    import torch
    from safetensors.torch import load_file

    files = {p.name: p.read_bytes() for p in tiny.iterdir() if p.name != "model.safetensors"}
    bin_path = tmp_path / "pytorch_model.bin"
    torch.save(load_file(str(tiny / "model.safetensors")), bin_path)
    files["pytorch_model.bin"] = bin_path.read_bytes()
    server = hub_server.use(monkeypatch, tmp_path)
    try:
        server.push("someone/igpt-bin", files)
        assert imagegpt.load("someone/igpt-bin", device="cpu").resolution == 32
    finally:
        server.close()


def test_without_transformers_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` raises ImportError
    assert not imagegpt.available()
    with pytest.raises(imagegpt.TransformersMissing, match="pip install"):
        imagegpt.load("openai/imagegpt-small")
