"""Registry entries whose two links are members of one zip (taming_lite.download.fetch_archive /
unpack_archive: the cin transformer's log folder), against a loopback server (tests/hub_server.py):
download, unpack into the cache, verify, no request once cached, resume of an interrupted zip, a
missing member, the offline rule. The model is a narrow stand-in (tests/released.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from taming_lite import download
from taming_lite.hub import HubUnavailable, resolve
from taming_lite.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_server  # noqa: E402
import released  # noqa: E402


@pytest.fixture(scope="module")
def cin_zip(tmp_path_factory):
    return released.write_log_zip(tmp_path_factory.mktemp("cin") / "cin.zip").read_bytes()


@pytest.fixture
def served(monkeypatch, tmp_path, cin_zip):
    server = hub_server.use(monkeypatch, tmp_path)
    server.files["cin_transformer/archive.zip"] = cin_zip
    released.use_registry(monkeypatch, tmp_path, [released.registry_entry("cin_transformer", server.endpoint)])
    yield server
    server.close()


def zip_requests(server):
    return [p for m, p, h in server.requests if p.startswith("/files/cin_transformer/archive.zip")]


def test_the_real_entry_names_two_members_of_one_zip():
    from taming_lite.registry import load_registry

    entry = load_registry()["cin_transformer"]
    url = download.archive_url(entry)
    assert url.startswith("https://app.koofr.net/") and ".zip" in url and "#" not in url
    assert download.archive_member(entry.urls["weights"])[1] == "checkpoints/last.ckpt"
    assert entry.sampling == {"temperature": 1.0, "top_k": 600, "top_p": 0.92} and entry.task == "completion"


def test_zip_downloaded_unpacked_verified_then_cached(served, tmp_path):
    messages = []
    files = resolve("cin_transformer", progress=messages.append)
    folder = tmp_path / "cache" / "cin_transformer"
    assert files.config == folder / "config.yaml" and files.weights == folder / "last.ckpt" and not files.from_cache
    assert not list(folder.glob("*.zip")) and not list(folder.glob("*.part"))  # the zip is gone once unpacked
    manifest = json.loads((folder / "sha256.json").read_text())
    assert manifest["last.ckpt"]["sha256"] == download.sha256_file(files.weights)
    assert any("unpacking" in m and "last.ckpt" in m for m in messages)
    assert len(zip_requests(served)) == 1
    again = resolve("cin_transformer")
    assert again.from_cache and len(zip_requests(served)) == 1  # cached: no request
    pipe = Pipeline.from_pretrained("cin_transformer", device="cpu")
    assert pipe.task == "completion" and pipe.n_classes == 1000 and pipe.defaults()["top_k"] == 600
    assert pipe.loaded_from == "from the download cache"


def test_interrupted_zip_resumes_with_a_range_request(served, tmp_path, cin_zip):
    served.cut_after["cin_transformer/archive.zip"] = len(cin_zip) // 3
    with pytest.raises(HubUnavailable, match="partial file is kept"):
        resolve("cin_transformer")
    part = tmp_path / "cache" / "cin_transformer" / "archive.zip.part"
    assert part.stat().st_size == len(cin_zip) // 3
    files = resolve("cin_transformer")
    ranges = [h.get("Range") for m, p, h in served.requests if p.startswith("/files/cin_transformer/")]
    assert ranges[-1] == f"bytes={len(cin_zip) // 3}-" and files.weights.is_file()


def test_a_member_the_zip_lacks_is_named(served, monkeypatch, tmp_path):
    entry = released.registry_entry("cin_transformer", served.endpoint)
    entry["urls"]["weights"] = entry["urls"]["weights"].replace("last.ckpt", "best.ckpt")
    released.use_registry(monkeypatch, tmp_path, [entry])
    with pytest.raises(download.DownloadError, match="best.ckpt.*expected one"):
        resolve("cin_transformer")


def test_offline_the_zip_is_not_fetched(served, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailable, match="downloads are off .* the zip"):
        Pipeline.from_pretrained("cin_transformer", device="cpu")
    assert zip_requests(served) == []


def test_unpack_archive_refuses_a_broken_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(download.DownloadError, match="not a readable zip"):
        download.unpack_archive(bad, {"a.yaml": tmp_path / "a.yaml"}, name="x")
    assert not bad.exists()
