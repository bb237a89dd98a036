"""The completion tab's comparison through the app's HTTP API (gradio_client), offline, with stand-ins:
a tiny random Image-GPT (transformers' ImageGPTConfig: 32x32 px, 512 colours, 2 narrow layers) served
as `openai/imagegpt-small` by a Hub stand-in, and a narrow Labelator-conditioned cin transformer in the
original format (YAML + Lightning ckpt with `loss.*` keys) served as the registry's zip of its log
folder (tests/hub_server.py, tests/released.py). Both by name (downloaded into the caches on first use)
and by folder (--allow-local-models), side by side on the same upper half with the same seed; old calls
without the new arguments still work; bad names and a missing baseline are reported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("transformers")
gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_server  # noqa: E402
import released  # noqa: E402
from app_server import AppServer  # noqa: E402
from test_imagegpt import save_tiny  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "demos" / "photos" / "chelsea.jpg"
CTRL = [5, 1.0, 100, 1.0, 1]  # seed, temperature, top_k, top_p, num_samples


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baselines_app")
    hub = hub_server.FakeHub()
    igpt = save_tiny(tmp / "igpt")
    hub.push("openai/imagegpt-small", {p.name: p.read_bytes() for p in igpt.iterdir()})
    hub.files["cin_transformer/archive.zip"] = released.write_log_zip(tmp / "cin.zip", seed=3).read_bytes()
    log = tmp / "logs" / released.CIN_LOG  # the same model unpacked: the log folder, picked by folder
    cfg, ckpt = released.write(log, "cin", seed=3, yaml_name=released.CIN_YAML)
    (log / "configs").mkdir()
    (log / "checkpoints").mkdir()
    cfg.rename(log / "configs" / cfg.name)
    ckpt.rename(log / "checkpoints" / ckpt.name)
    (tmp / "reg").mkdir()
    entry = released.registry_entry("cin_transformer", hub.endpoint)
    (tmp / "reg" / "registry.json").write_text(json.dumps({"format_version": 1, "models": [entry]}))
    (tmp / "hf_home").mkdir()
    (tmp / "hf_home" / ".agent_harnesses.json").write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    env = {"HF_HUB_OFFLINE": "0", "TAMING_LITE_WEIGHTS": str(tmp / "reg"), "TAMING_LITE_CACHE": str(tmp / "cache"),
           "HF_HOME": str(tmp / "hf_home"), "HF_ENDPOINT": hub.endpoint, "TAMING_LITE_PREVIEWS": "1",
           "OMP_NUM_THREADS": "2"}
    srv = AppServer(tmp, ["--allow-local-models"], env=env)
    try:
        srv.wait()
        yield srv, hub, tmp, igpt, log
    finally:
        srv.stop()
        hub.close()


@pytest.fixture(scope="module")
def client(app):
    return Client(app[0].url, verbose=False)


def complete(client, model="", baseline="pixel_baseline", class_id=281, rows=8, size=256, seed=5):
    ctrl = [seed] + CTRL[1:]
    return client.predict(handle_file(str(PHOTO)), rows, *ctrl, size, size, model, baseline, class_id,
                          api_name="/complete")


def image(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_by_name_downloads_both_and_shows_them_side_by_side(client, app):
    srv, hub, tmp, _, _ = app
    gallery, cut, pixels, info = complete(client, "cin_transformer", "openai/imagegpt-small")
    ours, base = image(gallery[0]["image"]), image(pixels)
    assert ours.shape == (256, 256, 3) and base.shape == (256, 256, 3)
    small = base[::8, ::8]  # 32x32 pixels shown as 8x8 squares (nearest)
    assert np.array_equal(np.repeat(np.repeat(small, 8, 0), 8, 1), base)
    assert "model `cin_transformer`" in info and "ImageNet class 281 (tabby)" in info
    assert "Image-GPT `openai/imagegpt-small`" in info and "32x32 px" in info and "on cpu (float32)" in info
    assert "taming transformer (codes): 256x256 px" in info and "enlarged 8x" in info
    assert (tmp / "cache" / "cin_transformer" / "last.ckpt").is_file()
    assert not list((tmp / "cache" / "cin_transformer").glob("*.zip"))
    assert list((tmp / "hf_home" / "hub").glob("models--openai--imagegpt-small"))
    # the same call again: same seed, same pixels, nothing downloaded again
    n = len(hub.requests)
    again = complete(client, "cin_transformer", "openai/imagegpt-small")
    assert np.array_equal(image(again[2]), base) and np.array_equal(image(again[0][0]["image"]), ours)
    assert len(hub.requests) == n and srv.alive()


def test_by_folder(client, app):
    _, _, _, igpt, log = app
    gallery, _, pixels, info = complete(client, str(log), str(igpt), class_id=967)
    assert image(gallery[0]["image"]).shape == (256, 256, 3) and image(pixels).shape == (256, 256, 3)
    assert "ImageNet class 967 (espresso)" in info and f"Image-GPT `{igpt}`" in info


def test_the_class_changes_the_completion(client, app):
    a = image(complete(client, "cin_transformer", "none", class_id=281)[0][0]["image"])
    b = image(complete(client, "cin_transformer", "none", class_id=967)[0][0]["image"])
    assert not np.array_equal(a, b)


def test_old_calls_without_the_new_arguments_still_work(client):
    r = client.predict(handle_file(str(PHOTO)), 4, *CTRL, 64, 64, api_name="/complete")
    assert image(r[0][0]["image"]).shape == (64, 64, 3) and r[2] is None
    assert "**done**" in r[-1] and "pixel baseline: no weights in `weights/pixel_baseline/`" in r[-1]


def test_bad_baseline_name_and_missing_repo_are_reported(client):
    with pytest.raises(Exception, match="pixel baseline 'not a repo'"):
        complete(client, "", "not a repo", size=64, rows=4)
    r = complete(client, "", "someone/absent-igpt", size=64, rows=4)  # the taming result still comes
    assert image(r[0][0]["image"]).shape == (64, 64, 3) and r[2] is None
    assert "pixel baseline `someone/absent-igpt`: ❌ could not be loaded" in r[-1] and "not found" in r[-1]


def test_the_pickers_offer_the_image_gpt_sizes_and_the_classes(client):
    props = {c["props"].get("elem_id"): c["props"] for c in client.config["components"] if c.get("props")}
    base = {v for _, v in props["baseline-picker"]["choices"]}
    assert {"pixel_baseline", "openai/imagegpt-small", "openai/imagegpt-medium", "openai/imagegpt-large", "none"} <= base
    classes = props["class-picker"]["choices"]
    assert len(classes) == 1000 and classes[281] == ["281: tabby", 281]
    models = {v for _, v in props["model-picker-completion"]["choices"]}
    assert "cin_transformer" in models


def test_the_store_says_what_to_do_offline_and_without_transformers(monkeypatch, tmp_path):
    from demos import baselines
    from demos.models import ModelChoiceError, ModelStore

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = ModelStore(weights_root=tmp_path, device="cpu")
    with pytest.raises(ModelChoiceError, match="not in the local cache.*HF_HUB_OFFLINE=0"):
        baselines.get(store, "openai/imagegpt-small")
    assert baselines.get(store, "none") is None and baselines.get(store, "pixel_baseline") is None
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    with pytest.raises(ModelChoiceError, match="pip install 'transformers"):
        baselines.get(store, "openai/imagegpt-small")
    labels = {v: label for label, v in baselines.choices(store)}
    assert "needs `pip install transformers`" in labels["openai/imagegpt-large"]
    assert "weights missing" in labels["pixel_baseline"]


def test_the_baseline_pickers_status_follows_the_load(monkeypatch, tmp_path):
    from demos.completion import baseline_status
    from demos.models import ModelStore

    igpt = save_tiny(tmp_path / "igpt")
    store = ModelStore(weights_root=tmp_path, device="cpu", allow_local_folders=True)
    assert list(baseline_status(store, "none")) == ["no pixel baseline: the taming model alone"]
    assert list(baseline_status(store, "not a repo"))[-1].startswith("❌ pixel baseline 'not a repo'")
    assert "no weights here" in list(baseline_status(store, "pixel_baseline"))[-1]
    last = list(baseline_status(store, str(igpt)))[-1]
    assert last.startswith("✅ **ready**: Image-GPT") and "512 colours" in last and "on cpu (float32)" in last
    assert "--allow-local-models" in list(baseline_status(ModelStore(weights_root=tmp_path), str(igpt)))[-1]
