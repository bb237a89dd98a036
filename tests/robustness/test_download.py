"""Registry entries with direct download links (taming_lite.download), against plain URLs on a
loopback server (tests/hub_server.py): download into the cache, no request once cached, resume after
an interrupted transfer (HTTP Range), dead links, HTML pages, changed files, the offline rule and
the free-disk check. The models are narrow stand-ins of the released architectures (tests/released.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from taming_lite import download
from taming_lite.checkpoints import load_original
from taming_lite.hub import HubUnavailable, resolve
from taming_lite.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hub_server  # noqa: E402
import released  # noqa: E402


@pytest.fixture(scope="module")
def drin_files(tmp_path_factory):
    """A narrow D-RIN stand-in: (yaml bytes, ckpt bytes, folder)."""
    folder = tmp_path_factory.mktemp("drin")
    cfg, ckpt = released.write(folder, "depth")
    return cfg.read_bytes(), ckpt.read_bytes(), folder


@pytest.fixture
def served(monkeypatch, tmp_path, drin_files):
    """The stand-in served at plain URLs, a registry naming it `drin` (the real entry's settings), a fresh cache."""
    server = hub_server.use(monkeypatch, tmp_path)
    config, ckpt, _ = drin_files
    server.files["drin/config.yaml"], server.files["drin/last.ckpt"] = config, ckpt
    reg = tmp_path / "reg"
    reg.mkdir()
    entry = released.registry_entry("drin", server.endpoint)
    (reg / "registry.json").write_text(json.dumps({"format_version": 1, "models": [entry]}))
    monkeypatch.setenv("TAMING_LITE_WEIGHTS", str(reg))
    monkeypatch.setenv("TAMING_LITE_CACHE", str(tmp_path / "cache"))
    yield server
    server.close()


def plain_requests(server):
    return [(m, p, h) for m, p, h in server.requests if p.startswith("/files/")]


def test_download_verify_cache_and_load(served, tmp_path, drin_files):
    messages = []
    files = resolve("drin", progress=messages.append)
    assert files.config == tmp_path / "cache" / "drin" / "config.yaml" and files.weights.name == "last.ckpt"
    assert files.weights.read_bytes() == drin_files[1] and not files.from_cache
    assert not list((tmp_path / "cache" / "drin").glob("*.part"))
    manifest = json.loads((tmp_path / "cache" / "drin" / "sha256.json").read_text())
    assert manifest["last.ckpt"]["sha256"] == download.sha256_file(files.weights)
    assert any("downloading last.ckpt" in m for m in messages) and any("downloaded last.ckpt" in m for m in messages)

    n = len(plain_requests(served))
    again = resolve("drin")
    assert again.from_cache and len(plain_requests(served)) == n  # cached: no request at all
    pipe = Pipeline.from_pretrained("drin", device="cpu")
    assert pipe.task == "depth" and pipe.depth_minmax and pipe.defaults()["top_k"] == 100
    assert pipe.loaded_from == "from the download cache" and pipe.dtype == torch.float32
    direct = load_original(drin_files[2] / "2020-11-09T13-31-51-project.yaml", drin_files[2] / "last.ckpt")
    for (k, a), (_, b) in zip(pipe.model.state_dict().items(), direct.state_dict().items()):
        assert torch.equal(a, b), k


def test_interrupted_download_resumes_with_a_range_request(served, tmp_path, drin_files):
    size = len(drin_files[1])
    served.cut_after["drin/last.ckpt"] = size // 3
    with pytest.raises(HubUnavailable, match="partial file is kept"):
        resolve("drin")
    part = tmp_path / "cache" / "drin" / "last.ckpt.part"
    assert part.stat().st_size == size // 3 and not (tmp_path / "cache" / "drin" / "last.ckpt").exists()
    files = resolve("drin")
    last = plain_requests(served)[-1]
    assert last[1] == "/files/drin/last.ckpt" and last[2].get("Range") == f"bytes={size // 3}-"
    assert files.weights.read_bytes() == drin_files[1] and not part.exists()


def test_dead_link_and_html_page_name_the_url_and_the_landing_page(served):
    del served.files["drin/last.ckpt"]
    with pytest.raises(download.DownloadError) as e:
        resolve("drin")
    assert "HTTP 404" in str(e.value) and f"{served.endpoint}/files/drin/last.ckpt" in str(e.value)
    assert "github.com/CompVis/taming-transformers#d-rin" in str(e.value)

    served.files["drin/last.ckpt"] = b"<!DOCTYPE html><html><body>Sign in to download</body></html>"
    served.file_types["drin/last.ckpt"] = "text/html; charset=utf-8"
    with pytest.raises(download.DownloadError, match="gave an HTML page, not the file.*#d-rin"):
        resolve("drin")
    served.file_types.pop("drin/last.ckpt")  # the same page sent as a binary: recognised by its content
    with pytest.raises(download.DownloadError, match="HTML page"):
        resolve("drin")
    served.files["drin/last.ckpt"] = b"just some bytes, not a checkpoint"
    with pytest.raises(download.DownloadError, match="did not give a PyTorch checkpoint"):
        resolve("drin")


def test_a_file_changed_after_its_first_download_is_refused(served, tmp_path, monkeypatch):
    files = resolve("drin")
    data = bytearray(files.weights.read_bytes())
    data[-100] ^= 0xFF
    files.weights.write_bytes(bytes(data))
    with pytest.raises(download.DownloadError, match="changed since it was downloaded.*refused"):
        resolve("drin")
    # a registry sha256 that the file does not have: refused too
    entry = released.registry_entry("drin", served.endpoint, sha256={"last.ckpt": "0" * 64})
    (tmp_path / "reg" / "registry.json").write_text(json.dumps({"format_version": 1, "models": [entry]}))
    with pytest.raises(download.DownloadError, match="the registry expects 0000"):
        resolve("drin")


def test_offline_uses_only_the_cache(served, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
        resolve("drin")
    assert plain_requests(served) == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    resolve("drin")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve("drin").from_cache


def test_not_enough_disk_is_said_before_downloading(served, monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    with pytest.raises(download.DownloadError, match="needs .* GB but .* GB free.*TAMING_LITE_CACHE"):
        resolve("drin")


def test_the_tabs_sizes_come_from_a_cached_download_without_a_request(served):
    from taming_lite.hub import model_shape

    assert model_shape("drin") is None  # not downloaded yet: unknown (and nothing asked)
    resolve("drin")
    n = len(plain_requests(served))
    assert model_shape("drin") == dict(window=16, in_stride=16, out_stride=16, image_size=256, sr_factor=1,
                                       guidable=False, guidance=1.0)
    assert len(plain_requests(served)) == n
