"""The paper's released models through the app's HTTP API (gradio_client), with narrow stand-ins of
their architectures (tests/released.py: f=16 VQGANs at 256 px, 182-channel S-FLCKR cond stage,
1-channel D-RIN cond stage, unconditional faces; GPT 2 x 64 instead of 24 x 1024) in the original
format (YAML + Lightning last.ckpt):
- as a tab's default, `python app.py --model TASK=DIR` with an original-format folder;
- by registry name, downloaded from plain URLs on a loopback server into the download cache.
The depth, labels and completion tabs sample 256x256 images (16x16 tokens), the labels tab also
256x768 through the sliding window; the status names the model, the device and the dtype."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_server  # noqa: E402
import released  # noqa: E402
from app_server import AppServer  # noqa: E402

TABS = {"depth": "drin", "labels": "sflckr", "completion": "ffhq"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("released_app")
    server = hub_server.FakeHub()
    dirs, entries = {}, []
    for i, (task, name) in enumerate(TABS.items()):
        kind = {"depth": "depth", "labels": "labels", "completion": "faces"}[task]
        cfg, ckpt = released.write(tmp / "served" / name, kind, seed=10 + i)
        server.files[f"{name}/config.yaml"], server.files[f"{name}/last.ckpt"] = cfg.read_bytes(), ckpt.read_bytes()
        entries.append(released.registry_entry(name, server.endpoint))
        # the original log folder layout: configs/<date>-project.yaml + checkpoints/last.ckpt
        cfg, ckpt = released.write(tmp / "logs" / f"{task}_transformer", kind, seed=20 + i)
        (cfg.parent / "configs").mkdir()
        (cfg.parent / "checkpoints").mkdir()
        cfg.rename(cfg.parent / "configs" / cfg.name)
        ckpt.rename(cfg.parent / "checkpoints" / ckpt.name)
        dirs[task] = cfg.parent
    (tmp / "reg").mkdir()
    (tmp / "reg" / "registry.json").write_text(json.dumps({"format_version": 1, "models": entries}))
    args = [a for task, d in dirs.items() for a in ("--model", f"{task}={d}")]
    # nothing may leave loopback: the Hub endpoint is the stand-in too, and huggingface_hub finds the agent
    # registry it would fetch once per process already cached (as hub_server.use does in-process)
    (tmp / "hf_home").mkdir()
    (tmp / "hf_home" / ".agent_harnesses.json").write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    env = {"HF_HUB_OFFLINE": "0", "TAMING_LITE_WEIGHTS": str(tmp / "reg"), "TAMING_LITE_CACHE": str(tmp / "cache"),
           "HF_HOME": str(tmp / "hf_home"), "HF_ENDPOINT": server.endpoint, "TAMING_LITE_PREVIEWS": "1",
           "OMP_NUM_THREADS": "2"}
    srv = AppServer(tmp, args, env=env)
    try:
        srv.wait()
        yield srv, dirs, server, tmp
    finally:
        srv.stop()
        server.close()


@pytest.fixture(scope="module")
def inputs(app):
    from taming_lite.data.labels import LABEL_BY_NAME, colorize

    tmp = app[3]
    Image.fromarray(np.tile(np.linspace(40, 220, 64).astype(np.uint8)[:, None], (1, 64))).save(tmp / "depth.png")
    ids = np.full((64, 64), LABEL_BY_NAME["sky-other"], np.uint8)
    ids[36:] = LABEL_BY_NAME["mountain"]
    Image.fromarray(colorize(ids)).save(tmp / "labels.png")
    rgb = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp / "face.png")
    return tmp


def call(client, task: str, inputs: Path, height: int, width: int, model: str = ""):
    from gradio_client import handle_file

    ctrl = [3, 1.0, 100, 1.0, 1, height, width]
    if task == "depth":
        return client.predict(handle_file(str(inputs / "depth.png")), False, *ctrl, None, model, api_name="/depth")
    if task == "labels":
        return client.predict(None, handle_file(str(inputs / "labels.png")), *ctrl, model, api_name="/labels")
    return client.predict(handle_file(str(inputs / "face.png")), 8, *ctrl, model, api_name="/complete")


def first_image(result) -> np.ndarray:
    return np.asarray(Image.open(result[0][0]["image"]).convert("RGB"))


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app[0].url, verbose=False)


@pytest.mark.parametrize("task", list(TABS))
def test_original_format_folder_is_the_tab_default(client, app, inputs, task):
    _, dirs, _, _ = app
    r = call(client, task, inputs, 256, 256)
    assert first_image(r).shape == (256, 256, 3)
    info = r[-1]
    assert "**done**" in info and "on cpu (float32)" in info and f"model `{dirs[task]}`" in info
    assert "placeholder" not in info


def test_the_picker_lists_the_released_models_with_their_size(client):
    for task, name in TABS.items():
        picker = next(c for c in client.config["components"] if c.get("props", {}).get("elem_id") == f"model-picker-{task}")
        labels = {v: label for label, v in picker["props"]["choices"]}
        assert name in labels and "GB" in labels[name] and "large download" in labels[name], labels


@pytest.mark.parametrize("task,size", [("depth", (256, 256)), ("labels", (256, 768)), ("completion", (256, 256))])
def test_registry_name_downloads_then_samples(client, app, inputs, task, size):
    srv, _, server, tmp = app
    name = TABS[task]
    out = [tuple(x) for x in client.submit(name, "", api_name=f"/load_model_{task}")]
    status = out[-1][0]
    assert status.startswith(f"✅ **ready: `{name}`** on cpu (float32) in") and "downloaded" in status, status
    assert "downloading last.ckpt" in status and "checking the sha256" not in status  # small: no notice
    assert (tmp / "cache" / name / "last.ckpt").is_file() and (tmp / "cache" / name / "sha256.json").is_file()
    r = call(client, task, inputs, *size, model=name)
    assert first_image(r).shape == (*size, 3)
    assert f"model `{name}`" in r[-1] and "on cpu (float32)" in r[-1] and f"{size[0]}×{size[1]} px" in r[-1]
    assert srv.alive()
