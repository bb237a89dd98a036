"""The model picker of each tab (demos/picker.py, demos/models.py): what it lists, loading in the
background with progress, errors that leave the tab working, the bounded model cache, and the
same through the real HTTP API (and a real browser, when Chromium is there).

Models are tiny placeholders saved to temporary folders; Hub models come from tests/hub_server.py
on a loopback port. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from demos import depth, models, picker, pose
from taming_lite import hub
from taming_lite.checkpoints import save_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_server  # noqa: E402

SIZE = 64  # the placeholder models' image size
POSE = json.dumps([[32, 6 + 3 * i, 1] for i in range(18)])


# --------------------------------------------------------------------------- helpers


def tiny_model(task: str, seed: int):
    """The task's placeholder layout with other transformer weights: it samples other tokens."""
    model = models.placeholder_model(task)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.transformer.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.5)
    return model


def save_model(folder: Path, task: str, seed: int = 1, extra_task: str | None = "same") -> Path:
    extra = {"image_size": SIZE}
    if extra_task:
        extra["task"] = task if extra_task == "same" else extra_task
    return save_pretrained(tiny_model(task, seed), folder, extra=extra)


def write_registry(folder: Path, *entries) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registry.json").write_text(json.dumps({"format_version": 1, "models": list(entries)}))
    return folder


def statuses(store, task: str, name: str, current: str = "", with_size: bool = False) -> list[tuple]:
    return list(picker.load_events(store, task, name, current, with_size=with_size))


def is_update(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update" and len(x) == 1


def depth_file(tmp_path: Path) -> str:
    path = tmp_path / "depth.png"
    Image.fromarray(np.tile(np.linspace(0, 255, SIZE, dtype=np.uint8), (SIZE, 1))).save(path)
    return str(path)


def sample_depth(store, path: str, model: str = models.DEFAULT):
    *_, last = depth.run(store, path, False, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, None, model)
    gallery, _, _, info = last
    return np.asarray(Image.open(gallery[0][0]).convert("RGB")), info


def sample_pose(store, model: str = models.DEFAULT):
    *_, last = pose.run(store, POSE, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, model)
    gallery, _, info = last
    return np.asarray(Image.open(gallery[0][0]).convert("RGB")), info


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A model store with no embedded weights (the default of every tab is the placeholder), an empty
    registry, folders not allowed, no model loaded."""
    monkeypatch.setenv("TAMING_LITE_EXAMPLES", str(tmp_path / "examples"))
    monkeypatch.setenv(hub.WEIGHTS_ENV, str(write_registry(tmp_path / "registry")))
    return models.ModelStore(weights_root=tmp_path / "empty", device="cpu")


# --------------------------------------------------------------------------- what the picker lists


def test_picker_lists_the_registry_entries_of_each_task(fresh, tmp_path, monkeypatch):
    save_model(tmp_path / "reg" / "depth_big", "depth")
    write_registry(tmp_path / "reg",
                   {"name": "depth-hub", "task": "depth", "repo_id": "tester/depth-large", "revision": "v1"},
                   {"name": "depth-big", "task": "depth", "path": "depth_big"},
                   {"name": "pose-hub", "task": "pose", "repo_id": "tester/pose"},
                   {"name": "vq", "task": "reconstruction", "repo_id": "tester/vq", "format": "original"})
    monkeypatch.setenv(hub.WEIGHTS_ENV, str(tmp_path / "reg"))
    depth_choices = fresh.choices("depth")
    assert [value for _, value in depth_choices] == ["", "depth-big", "depth-hub"]  # default, embedded, Hub
    labels = [label for label, _ in depth_choices]
    assert labels[0].startswith("default: untrained placeholder")
    assert "embedded" in labels[1] and "Hub: tester/depth-large@v1" in labels[2]
    assert [value for _, value in fresh.choices("pose")] == ["", "pose-hub"]
    assert [value for _, value in fresh.choices("labels")] == [""]  # nothing else for labels

    import gradio as gr

    with gr.Blocks():
        ui = picker.build(fresh, "depth")
    assert [v for _, v in ui.dropdown.choices] == ["", "depth-big", "depth-hub"]
    assert ui.dropdown.value == "" and ui.active.value == "" and not ui.active.visible


def test_the_default_is_named_after_what_the_tab_uses(fresh, tmp_path):
    save_model(tmp_path / "empty" / "pose", "pose")
    assert fresh.choices("pose")[0][0].startswith("default: ") and "pose" in fresh.choices("pose")[0][0]
    fresh.task_models["depth"] = "someone/depth-model"
    assert fresh.choices("depth")[0][0] == "default: someone/depth-model (app.py --model)"


# --------------------------------------------------------------------------- switching


def test_local_folder_progress_then_ready_and_sampling_uses_it(fresh, tmp_path):
    folder = save_model(tmp_path / "my_depth", "depth", seed=5)
    path = depth_file(tmp_path)
    before, info0 = sample_depth(fresh, path)
    assert "untrained placeholder" in info0

    with pytest.raises(models.ModelChoiceError, match="--allow-local-models"):
        fresh.check_choice(str(folder))  # off by default: a public server must not read any folder
    fresh.allow_local_folders = True
    out = statuses(fresh, "depth", str(folder), with_size=True)
    first, last = out[0], out[-1]
    assert first[0].startswith("⏳") and "keeps sampling with the default model" in first[0]
    assert all(is_update(x) for x in first[1:])  # the session's model changes only when ready
    assert "building the model on cpu" in out[-1][0]
    assert last[0].startswith("✅") and "ready:" in last[0] and "on cpu (float32) in" in last[0]
    assert last[1] == str(folder)  # the session's model (the hidden textbox, the API's `model`)
    assert "picked for this browser session" in last[2]["value"] and last[2]["elem_classes"] == []
    assert last[3]["value"] == str(folder) and (f"{folder} (entered)", str(folder)) in last[3]["choices"]
    assert last[4]["value"] == SIZE and last[4]["step"] == 8  # the size sliders follow the model

    after, info = sample_depth(fresh, path, str(folder))
    assert f"model `{folder}`" in info and "untrained placeholder" not in info
    assert not np.array_equal(before, after)  # other weights, same seed: another image
    again, _ = sample_depth(fresh, path)  # a session that did not pick it still gets the default
    assert np.array_equal(before, again)


def test_hub_model_downloads_with_progress_then_samples(fresh, tmp_path, monkeypatch):
    server = hub_server.use(monkeypatch, tmp_path)
    try:
        server.push_folder("tester/tiny-pose", save_model(tmp_path / "to_push", "pose", seed=7))
        write_registry(tmp_path / "reg", {"name": "pose-hub", "task": "pose", "repo_id": "tester/tiny-pose"})
        monkeypatch.setenv(hub.WEIGHTS_ENV, str(tmp_path / "reg"))
        assert "pose-hub" in [v for _, v in fresh.choices("pose")]

        server.delay = 1.0  # the weights take a second to come: the status shows the download meanwhile
        out = statuses(fresh, "pose", "pose-hub")
        during = [s for s, *_ in out[:-1]]
        assert all(s.startswith("⏳") for s in during) and all(is_update(x) for _, *rest in out[:-1] for x in rest)
        assert any("downloading model.safetensors" in s for s in during)
        final, active = out[-1][0], out[-1][1]
        assert final.startswith("✅ **ready: `pose-hub`** on cpu (float32) in") and "downloaded" in final
        assert active == "pose-hub"
        log = [line for line in final.splitlines() if line.startswith("- ")]  # the stages, in order
        assert [line.split()[1] for line in log] == ["asking", "downloading", "downloading", "building"]
        assert "http://127.0.0.1" in log[0] and "model.safetensors" in log[2]

        _, info = sample_pose(fresh, "pose-hub")
        assert "model `pose-hub`" in info

        served = len(server.requests)
        out = statuses(fresh, "pose", "tester/tiny-pose")  # the same repo by id: from the HF cache, no request
        assert "from the HF cache" in out[-1][0] and len(server.requests) == served
    finally:
        server.close()


@pytest.mark.parametrize("how", ["offline", "unreachable"])
def test_unusable_hub_name_says_why_and_the_tab_still_samples(fresh, tmp_path, monkeypatch, how):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    if how == "offline":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # nothing listens there
        monkeypatch.setenv("TAMING_LITE_HUB_TIMEOUT", "2")
    out = statuses(fresh, "pose", "someone/pose-model")
    status, active, notice, dropdown = out[-1]
    assert status.startswith("❌") and "someone/pose-model" in status
    assert ("offline" in status and "HF_HUB_OFFLINE=0" in status) if how == "offline" else "unreachable" in status
    assert "This tab keeps sampling with the default model" in status
    assert is_update(active) and is_update(notice) and dropdown["value"] == ""  # the dropdown goes back
    assert fresh.loaded_choices("pose") == []
    _, info = sample_pose(fresh)
    assert "done" in info and "untrained placeholder" in info


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_models_that_do_not_fit_the_tab_are_refused(fresh, tmp_path, monkeypatch):
    from taming_lite.vqgan import VQGAN

    fresh.allow_local_folders = True
    vq = save_pretrained(VQGAN(models.placeholder_model("depth").config.first_stage), tmp_path / "vq")
    cases = [
        (vq, "depth", "is a VQGAN, not a conditional transformer"),
        (save_model(tmp_path / "pose_m", "pose"), "depth", "trained for the pose tab"),
        (save_model(tmp_path / "depth_m", "depth", extra_task=None), "labels",
         "conditioned on a 1-channel 64 px input, but this tab gives a one-hot label map with 14 classes; "
         "it fits the depth tab"),
        (save_model(tmp_path / "sr_m", "superres", extra_task=None), "pose", "it fits the superres tab"),
        (save_model(tmp_path / "c_m", "completion", extra_task=None), "depth", "it fits the completion tab"),
        (tmp_path / "empty_dir", "depth", "cannot tell the model format"),
    ]
    (tmp_path / "empty_dir").mkdir()
    for folder, task, expected in cases:
        status = statuses(fresh, task, str(folder))[-1][0]
        assert status.startswith("❌") and expected in status, status
        assert "This tab keeps sampling with the default model" in status
    write_registry(tmp_path / "reg", {"name": "vq", "task": "reconstruction", "repo_id": "tester/vq"},
                   {"name": "other", "task": "pose", "path": "nowhere"})
    monkeypatch.setenv(hub.WEIGHTS_ENV, str(tmp_path / "reg"))
    with pytest.raises(models.ModelChoiceError, match="not a conditional transformer for any tab"):
        fresh.load_choice("depth", "vq")  # refused from the registry, before any download
    with pytest.raises(models.ModelChoiceError, match="pick it in the pose tab"):
        fresh.load_choice("depth", "other")
    fresh.allow_local_folders = False
    for bad in ("../etc", "/etc", "a b", "x/y/z", "user/repo@..", "x" * 400):
        with pytest.raises(models.ModelChoiceError):
            fresh.check_choice(bad)


def test_at_most_n_picked_models_per_tab_and_an_evicted_one_reloads(fresh, tmp_path, monkeypatch):
    fresh.max_extra = 2
    fresh.allow_local_folders = True
    names = [str(save_model(tmp_path / f"d{i}", "depth", seed=i)) for i in range(3)]
    loads = []
    real = fresh.load
    monkeypatch.setattr(fresh, "load", lambda *a, **k: loads.append(a[1]) or real(*a, **k))
    for name in names:
        fresh.load_choice("depth", name)
    assert fresh.loaded_choices("depth") == names[1:]  # the least recently used went
    fresh.load_choice("depth", names[1])  # a hit moves it to the end
    assert fresh.loaded_choices("depth") == [names[2], names[1]] and loads == names
    tm = fresh.get_model("depth", choice=names[0])  # a session still using it: loaded again
    assert loads == names + [names[0]] and fresh.load_choice("depth", names[0]) is tm  # held under its name
    assert fresh.loaded_choices("depth") == [names[1], names[0]]
    assert fresh.get_model("depth").placeholder  # the default is kept besides them


def test_concurrent_picks_of_one_model_load_it_once(fresh, tmp_path, monkeypatch):
    fresh.allow_local_folders = True
    name = str(save_model(tmp_path / "d", "depth"))
    loads = []
    real = fresh.load
    monkeypatch.setattr(fresh, "load", lambda *a, **k: loads.append(a[1]) or real(*a, **k))
    got = []
    threads = [threading.Thread(target=lambda: got.append(fresh.load_choice("depth", name))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and all(tm is got[0] for tm in got) and loads == [name]


# --------------------------------------------------------------------------- through the app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app (a subprocess) with --allow-local-models, a registry listing a Hub model for pose,
    and an HF cache that already holds it (downloaded here from the stand-in Hub): the app runs with
    HF_HUB_OFFLINE=1 (tests/app_server.py), so it loads that one from the cache."""
    from app_server import AppServer

    tmp = tmp_path_factory.mktemp("picker_app")
    with pytest.MonkeyPatch.context() as mp:
        server = hub_server.use(mp, tmp)
        try:
            server.push_folder("tester/tiny-pose", save_model(tmp / "to_push", "pose", seed=7))
            hub.resolve("tester/tiny-pose")  # into the HF cache under tmp
        finally:
            server.close()
        write_registry(tmp / "reg", {"name": "pose-hub", "task": "pose", "repo_id": "tester/tiny-pose"})
        mp.setenv(hub.WEIGHTS_ENV, str(tmp / "reg"))
        folder = save_model(tmp / "my_depth", "depth", seed=5)
        srv = AppServer(tmp, ["--allow-local-models"])  # takes the environment as it is now
    try:
        srv.wait()
        yield srv, folder, tmp
    finally:
        srv.stop()


def test_through_the_http_api(app):
    from gradio_client import Client, handle_file

    srv, folder, tmp = app
    client = Client(srv.url, verbose=False)
    params = {p["parameter_name"]: p for p in
              client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/pose"]["parameters"]}
    # model and guidance after the sampling controls, then the photo arguments (issue 39), all optional
    assert list(params)[-4:] == ["model", "guidance", "photo", "preprocessor"]
    assert params["model"]["parameter_default"] == ""
    assert params["guidance"]["parameter_default"] == 1.0  # the placeholder model has no guidance
    pose_picker = next(c for c in client.config["components"]
                       if c.get("props", {}).get("elem_id") == "model-picker-pose")
    assert [v for _, v in pose_picker["props"]["choices"]] == ["", "pose-hub"]

    job = client.submit(str(folder), "", api_name="/load_model_depth")  # the Load button: text box value
    out = [tuple(x) for x in job]
    assert out[0][0].startswith("⏳") and out[-1][0].startswith("✅") and out[-1][1] == str(folder)

    Image.fromarray(np.tile(np.linspace(0, 255, SIZE, dtype=np.uint8), (SIZE, 1))).save(tmp / "d.png")
    old = client.predict(handle_file(str(tmp / "d.png")), False, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, None,
                         api_name="/depth")  # the call as before the picker: the default model
    new = client.predict(handle_file(str(tmp / "d.png")), False, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, None,
                         str(folder), api_name="/depth")
    assert "untrained placeholder" in old[-1] and f"model `{folder}`" in new[-1]

    out = [tuple(x) for x in client.submit("someone/missing", "", api_name="/load_model_pose")]
    assert out[-1][0].startswith("❌") and "offline" in out[-1][0] and "keeps sampling" in out[-1][0]
    r = client.predict(POSE, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, api_name="/pose")
    assert "done" in r[-1] and "untrained placeholder" in r[-1]

    out = [tuple(x) for x in client.submit("pose-hub", "", api_name="/load_model_pose")]
    assert "from the HF cache" in out[-1][0] and out[-1][1] == "pose-hub"
    r = client.predict(POSE, 3, 1.0, 100, 1.0, 1, SIZE, SIZE, "pose-hub", api_name="/pose")
    assert "model `pose-hub`" in r[-1]
    assert srv.alive()


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium missing")
def test_in_the_browser_the_choice_is_per_session(app):
    """Pick a model in one browser page: that page samples with it, a second page keeps the default."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    srv, _, _ = app
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            pages = []
            for _ in range(2):
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(srv.url, wait_until="domcontentloaded")
                page.get_by_role("tab", name="Pose to human").click()
                pages.append(page.locator("#tab-pose"))
            one, two = pages
            one.wait_for(state="visible", timeout=60_000)
            one.locator("#model-picker-pose input").click()
            one.page.get_by_role("option", name="pose-hub").click()
            one.locator("#model-status-pose").get_by_text("ready:", exact=False).wait_for(timeout=30_000)
            for panel, expected in ((one, "model pose-hub"), (two, "untrained placeholder")):
                panel.wait_for(state="visible", timeout=60_000)
                panel.get_by_role("button", name="Generate", exact=True).click()
                panel.get_by_text("done", exact=False).first.wait_for(timeout=60_000)
                assert expected in panel.inner_text()
            assert "model pose-hub" not in two.inner_text()
        finally:
            browser.close()


def test_download_progress_replaces_its_previous_line():
    lines = []
    for m in ["asking x", "downloading last.ckpt", "downloading last.ckpt · 1.0 of 9.0 MB",
              "downloading last.ckpt · 5.0 of 9.0 MB", "downloaded last.ckpt (9.0 MB)", "building the model on cpu"]:
        picker.add_line(lines, m)
    assert lines == ["asking x", "downloading last.ckpt · 5.0 of 9.0 MB", "downloaded last.ckpt (9.0 MB)",
                     "building the model on cpu"]
