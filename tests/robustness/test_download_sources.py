"""The real file hosts, on loopback (tests/hub_server.py): a share host that answers 400 without its
share page as Referer (the koofr links of D-RIN / FFHQ / CelebA-HQ), redirects (heibox's 302, the
Hub's to its CDN), several sources per entry (first dead, second serves; a mirror whose bytes do not
match the pinned or published sha256 is refused), the error naming every source, the registry
schema (old entries still load), and where a big download goes on a Space."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from pathlib import Path

import pytest

from taming_lite import download, registry
from taming_lite.checkpoints import CheckpointError
from taming_lite.hub import HubUnavailable, resolve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hub_server  # noqa: E402
import released  # noqa: E402

SHARE = "https://app.koofr.net/links/028f1ba8-404d-42c4-a866-9a8a4eebb40c"


@pytest.fixture(scope="module")
def drin_files(tmp_path_factory):
    """(yaml bytes, ckpt bytes, other ckpt bytes): a narrow D-RIN stand-in and a second one (another seed)."""
    folder = tmp_path_factory.mktemp("drin")
    cfg, ckpt = released.write(folder / "a", "depth")
    _, other = released.write(folder / "b", "depth", seed=1)
    return cfg.read_bytes(), ckpt.read_bytes(), other.read_bytes()


@pytest.fixture
def server(monkeypatch, tmp_path, drin_files):
    srv = hub_server.use(monkeypatch, tmp_path)
    srv.files["drin/config.yaml"], srv.files["drin/last.ckpt"] = drin_files[0], drin_files[1]
    monkeypatch.setenv("TAMING_LITE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "reg").mkdir()
    monkeypatch.setenv("TAMING_LITE_WEIGHTS", str(tmp_path / "reg"))
    yield srv
    srv.close()


def use_entry(tmp_path, entry: dict) -> None:
    (tmp_path / "reg" / "registry.json").write_text(json.dumps({"format_version": 1, "models": [entry]}))


def urls(base: str, prefix: str = "drin") -> dict:
    return {"config": f"{base}/files/{prefix}/config.yaml", "weights": f"{base}/files/{prefix}/last.ckpt"}


def closed_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    return f"http://127.0.0.1:{port}"


def plain(srv):
    return [(p, h) for m, p, h in srv.requests if p.startswith("/files/")]


def test_share_host_wants_its_share_page_as_referer(server, tmp_path, drin_files):
    server.require_headers["drin/config.yaml"] = server.require_headers["drin/last.ckpt"] = {"Referer": SHARE}
    entry = released.registry_entry("drin", server.endpoint)
    assert entry["headers"] == {"Referer": SHARE}  # the shipped entry carries it (copied by registry_entry)
    bare = {k: v for k, v in entry.items() if k != "headers"}
    use_entry(tmp_path, bare)
    with pytest.raises(download.DownloadError, match=r"answered HTTP 400 \(Bad Request\) \(a share host may want its "
                                                     r"share page as Referer"):
        resolve("drin")
    use_entry(tmp_path, entry)
    files = resolve("drin")
    assert files.weights.read_bytes() == drin_files[1]
    assert all(h.get("Referer") == SHARE for p, h in plain(server)[1:])


def test_redirects_are_followed_counted_and_keep_the_headers(server, tmp_path, drin_files):
    server.files["store/ckpt-blob"] = drin_files[1]
    server.redirects["drin/last.ckpt"] = "store/ckpt-blob"  # as heibox: 302 to the file
    server.require_headers["store/ckpt-blob"] = {"Referer": SHARE}
    use_entry(tmp_path, released.registry_entry("drin", server.endpoint))
    messages = []
    files = resolve("drin", progress=messages.append)
    assert files.weights.read_bytes() == drin_files[1]
    assert any("downloading last.ckpt from 127.0.0.1" in m and "1 redirect to" in m for m in messages), messages
    manifest = json.loads((files.weights.parent / "sha256.json").read_text())
    assert manifest["last.ckpt"]["redirects"] == 1 and manifest["config.yaml"]["redirects"] == 0

    server.redirects["loop/a"], server.redirects["loop/b"] = "loop/b", "loop/a"
    with pytest.raises(download.DownloadError, match=r"redirected more than 10 times"):
        download.fetch(f"{server.endpoint}/files/loop/a", tmp_path / "loop.bin")


def test_first_source_dead_the_mirror_serves(server, tmp_path, drin_files):
    server.files["mirror/config.yaml"], server.files["mirror/last.ckpt"] = drin_files[0], drin_files[1]
    entry = released.registry_entry("drin", server.endpoint)
    entry["urls"] = urls(closed_url())  # the authors' host is down
    entry["mirrors"] = [{"name": "a mirror", "urls": urls(server.endpoint, "mirror")}]
    use_entry(tmp_path, entry)
    messages = []
    files = resolve("drin", progress=messages.append, timeout=2)
    assert files.weights.read_bytes() == drin_files[1]
    assert any("did not give config.yaml: " in m and "is unreachable" in m for m in messages), messages
    assert any("trying a mirror (127.0.0.1" in m for m in messages)
    manifest = json.loads((files.weights.parent / "sha256.json").read_text())
    assert manifest["last.ckpt"]["source"] == "a mirror" and manifest["last.ckpt"]["url"].endswith("/mirror/last.ckpt")
    assert not any("Referer" in h for p, h in plain(server))  # the mirror is sent its own headers (none), not the koofr ones
    assert resolve("drin").from_cache


def test_a_mirror_unlike_the_pinned_sha256_is_refused_and_every_source_is_named(server, tmp_path, drin_files):
    server.files["mirror/config.yaml"], server.files["mirror/last.ckpt"] = drin_files[0], drin_files[2]  # other bytes
    del server.files["drin/last.ckpt"]  # the authors' link is dead (404)
    entry = released.registry_entry("drin", server.endpoint,
                                    sha256={"last.ckpt": hashlib.sha256(drin_files[1]).hexdigest()})
    entry["mirrors"] = [{"name": "a bad mirror", "urls": urls(server.endpoint, "mirror")}]
    use_entry(tmp_path, entry)
    with pytest.raises(download.DownloadError) as e:
        resolve("drin")
    text = str(e.value)
    assert "no source gave last.ckpt; tried, in order:" in text
    assert f"- the entry's link (127.0.0.1:{server.port}), {server.endpoint}/files/drin/last.ckpt: " in text
    assert "HTTP 404" in text and "a bad mirror" in text and "the registry pins" in text and "refused" in text
    assert "github.com/CompVis/taming-transformers#d-rin" in text
    folder = tmp_path / "cache" / "drin"
    assert not (folder / "last.ckpt").exists() and not (folder / "last.ckpt.part").exists()


def test_a_hub_mirror_is_checked_against_the_sha256_the_hub_publishes(server, tmp_path, drin_files):
    server.push("someone/vqgan-mirror", {"configs/model.yaml": drin_files[0], "ckpts/last.ckpt": drin_files[1]})
    base = f"{server.endpoint}/someone/vqgan-mirror/resolve/main"
    del server.files["drin/last.ckpt"]
    entry = released.registry_entry("drin", server.endpoint)
    entry["mirrors"] = [{"name": "Hub mirror", "urls": {"config": f"{base}/configs/model.yaml",
                                                        "weights": f"{base}/ckpts/last.ckpt"}}]
    use_entry(tmp_path, entry)
    files = resolve("drin")  # 302 to the CDN host with X-Linked-Etag, as the Hub answers for LFS files
    assert files.weights.read_bytes() == drin_files[1]
    assert json.loads((files.weights.parent / "sha256.json").read_text())["last.ckpt"]["redirects"] == 1

    # a file whose bytes are not what its host publishes (X-Linked-Etag) is refused
    server.files["bad/last.ckpt"] = drin_files[2]
    server.file_headers["bad/last.ckpt"] = {"X-Linked-Etag": f'"{hashlib.sha256(drin_files[1]).hexdigest()}"'}
    got = download.fetch(f"{server.endpoint}/files/bad/last.ckpt", tmp_path / "x.ckpt")
    assert got.published_sha256 == hashlib.sha256(drin_files[1]).hexdigest() != got.sha256
    with pytest.raises(download.DownloadError, match="the host publishes"):
        download.check_digest(got, None, "url", "drin")
    assert not (tmp_path / "x.ckpt").exists()


def test_all_sources_unreachable_is_hub_unavailable_naming_each(server, tmp_path):
    entry = released.registry_entry("drin", server.endpoint)
    entry["urls"] = urls(closed_url())
    entry["mirrors"] = [{"name": "mirror one", "urls": urls(closed_url())}]
    use_entry(tmp_path, entry)
    with pytest.raises(HubUnavailable, match=r"(?s)no source gave config.yaml.*entry's link.*unreachable.*mirror one.*"
                                             r"unreachable"):
        resolve("drin", timeout=2)


def test_a_partial_file_resumes_only_from_its_own_link(server, tmp_path, drin_files):
    size = len(drin_files[1])
    server.cut_after["drin/last.ckpt"] = size // 3
    use_entry(tmp_path, released.registry_entry("drin", server.endpoint))
    with pytest.raises(HubUnavailable, match="partial file is kept"):
        resolve("drin")
    folder = tmp_path / "cache" / "drin"
    assert (folder / "last.ckpt.part.url").read_text() == f"{server.endpoint}/files/drin/last.ckpt"
    server.files["elsewhere/last.ckpt"] = drin_files[1]
    got = download.fetch(f"{server.endpoint}/files/elsewhere/last.ckpt", folder / "last.ckpt")
    assert plain(server)[-1][1].get("Range") is None  # another link: from zero, not a Range request
    assert got.sha256 == hashlib.sha256(drin_files[1]).hexdigest()


def test_schema_old_entries_load_new_fields_are_checked(tmp_path):
    old = {"name": "old", "task": "depth", "format": "original", "urls": {"config": "https://a/c.yaml",
                                                                       "weights": "https://a/w.ckpt"}}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"format_version": 1, "models": [old]}))
    e = registry.load_registry(path)["old"]
    assert e.headers == {} and e.mirrors == () and [s.urls for s in e.sources] == [old["urls"]]
    for bad, why in [({"headers": {"Referer": "x\r\nInjected: 1"}}, "headers"),
                     ({"headers": {"Bad Header": "x"}}, "headers"),
                     ({"mirrors": [{"name": "m", "urls": {"config": "ftp://x"}}]}, "urls"),
                     ({"mirrors": {"name": "m"}}, "mirrors"),
                     ({"mirrors": [{"urls": old["urls"]}]}, "mirrors")]:
        path.write_text(json.dumps({"format_version": 1, "models": [{**old, **bad}]}))
        with pytest.raises(CheckpointError, match=why):
            registry.load_registry(path)
    path.write_text(json.dumps({"format_version": 1, "models": [
        {"name": "hub", "task": "depth", "repo_id": "a/b", "headers": {"Referer": "x"}}]}))
    with pytest.raises(CheckpointError, match="belong to entries with 'urls'"):
        registry.load_registry(path)


def test_shipped_sources():
    entries = registry.load_registry()
    for name in ("drin", "ffhq", "celebahq"):  # the koofr links: their share page as Referer
        e = entries[name]
        uuid = e.urls["weights"].split("/content/links/")[1].split("/")[0]
        assert e.headers == {"Referer": f"https://app.koofr.net/links/{uuid}"}, name
        assert all(u.startswith(f"https://app.koofr.net/content/links/{uuid}/") for u in e.urls.values())
    mirror = entries["vqgan_imagenet_f16_1024"].sources[1]
    assert mirror.urls["weights"].startswith("https://huggingface.co/Nehc/vqgan_imagenet_f16_1024/resolve/")
    assert entries["sflckr"].headers == {} and len(entries["sflckr"].sources) == 1


def test_where_a_big_download_goes_on_a_space(monkeypatch, tmp_path):
    for var in ("TAMING_LITE_CACHE", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    entry = registry.load_registry()["drin"]
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert registry.space_storage() is None and "/data" not in str(download.cache_dir())
    assert download.storage_note(registry.ModelEntry(name="x", task="depth"), tmp_path) == ""

    monkeypatch.setenv("SPACE_ID", "someone/taming-lite")
    monkeypatch.setattr(registry, "SPACE_STORAGE", tmp_path / "missing")  # a Space without persistent storage
    note = download.storage_note(entry, download.entry_folder(entry))
    assert "~4.2 GB (estimate) into" in note and "GB free there" in note and "lost at each restart" in note

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(registry, "SPACE_STORAGE", data)  # with persistent storage at /data
    assert download.cache_dir() == data / ".huggingface" / "taming_lite"
    from taming_lite import hub

    assert hub.hub_cache_dir() == data / ".huggingface" / "hub"
    note = download.storage_note(entry, download.entry_folder(entry))
    assert "persistent storage (/data): kept across restarts" in note
    monkeypatch.setenv("TAMING_LITE_CACHE", str(tmp_path / "mine"))  # an explicit setting wins
    assert download.cache_dir() == tmp_path / "mine"
