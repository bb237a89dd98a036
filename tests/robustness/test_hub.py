"""taming_lite.hub against a local Hugging Face Hub stand-in (loopback only, no internet).

`FakeHub` serves the endpoints huggingface_hub and hub.py use:
    GET       /api/models/{repo_id}/revision/{revision}     repo info: commit sha and file list
    HEAD/GET  /{repo_id}/resolve/{revision}/{filename}       file metadata / content
    HEAD/GET  /cdn/{sha256}                                   large files, after a redirect to another host name
with the headers huggingface_hub 2.x reads (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size,
Content-Length, Location, X-Error-Code), and records every request so tests can count them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from taming_lite.checkpoints import CheckpointError, load_original, load_pretrained, save_pretrained
from taming_lite.hub import (HubUnavailable, ModelNotFoundError, from_pretrained, list_models, load_registry,
                             resolve)
from taming_lite.vqgan import VQGAN, VQGANConfig

LFS_SUFFIXES = (".ckpt", ".safetensors")


class FakeHub:
    """Repos as {repo_id: {"refs": {name: commit}, "commits": {commit: {filename: bytes}}}}."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple] = []  # (method, path, headers)
        self.force_status: int | None = None
        handler = type("Handler", (_Handler,), {"hub": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"  # another host name: huggingface_hub does not follow it on HEAD
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def push(self, repo_id: str, files: dict[str, bytes], branch: str = "main", tag: str | None = None) -> str:
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        commit = hashlib.sha1(repr(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items())).encode()
                              + str(len(repo["commits"])).encode()).hexdigest()
        repo["commits"][commit] = dict(files)
        repo["refs"][branch] = commit
        if tag:
            repo["refs"][tag] = commit
        return commit

    def commit_of(self, repo_id: str, revision: str) -> str | None:
        repo = self.repos[repo_id]
        return repo["refs"].get(revision) or (revision if revision in repo["commits"] else None)

    def blob(self, sha256: str) -> bytes | None:
        for repo in self.repos.values():
            for files in repo["commits"].values():
                for data in files.values():
                    if hashlib.sha256(data).hexdigest() == sha256:
                        return data
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _send(self, status: int, headers: dict | None = None, data: bytes = b"", body: bool = True):
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body and data:
            self.wfile.write(data)

    def _error(self, status: int, code: str, body: bool, commit: str | None = None):
        headers = {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "application/json"}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(status, headers, json.dumps({"error": code}).encode(), body)

    def _serve(self, body: bool):
        hub = self.hub
        hub.requests.append((self.command, self.path, self.headers))  # case-insensitive .get
        if hub.force_status is not None:
            return self._send(hub.force_status, {"Content-Type": "text/plain"}, b"server error", body)
        path = urllib.parse.urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if parts[0] == "cdn" and len(parts) == 2:
            data = hub.blob(parts[1])
            if data is None:
                return self._error(404, "EntryNotFound", body)
            return self._send(200, {"ETag": f'"{parts[1]}"', "Content-Type": "application/octet-stream"}, data, body)
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "revision":
            repo_id, revision = f"{parts[2]}/{parts[3]}", urllib.parse.unquote(parts[5])
            if repo_id not in hub.repos:
                return self._error(404, "RepoNotFound", body)
            commit = hub.commit_of(repo_id, revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", body)
            info = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False, "gated": False,
                    "siblings": [{"rfilename": f} for f in sorted(hub.repos[repo_id]["commits"][commit])]}
            return self._send(200, {"Content-Type": "application/json"}, json.dumps(info).encode(), body)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id, revision = f"{parts[0]}/{parts[1]}", urllib.parse.unquote(parts[3])
            filename = urllib.parse.unquote("/".join(parts[4:]))
            if repo_id not in hub.repos:
                return self._error(404, "RepoNotFound", body)
            commit = hub.commit_of(repo_id, revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", body)
            data = hub.repos[repo_id]["commits"][commit].get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", body, commit)
            if filename.endswith(LFS_SUFFIXES):  # as the Hub: LFS files redirect to a CDN, metadata on the 302
                sha = hashlib.sha256(data).hexdigest()
                return self._send(302, {"X-Repo-Commit": commit, "X-Linked-Etag": f'"{sha}"',
                                        "X-Linked-Size": str(len(data)), "ETag": f'"{commit[:20]}"',
                                        "Location": f"{hub.cdn}/cdn/{sha}"}, b"", body)
            git_sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            return self._send(200, {"X-Repo-Commit": commit, "ETag": f'"{git_sha}"',
                                    "Content-Type": "application/octet-stream"}, data, body)
        self._error(404, "RepoNotFound", body)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A fresh FakeHub as HF_ENDPOINT, and a fresh HF cache. hub.py reads the environment at each
    call, which is what this checks: huggingface_hub's own constants keep their import-time values
    (huggingface.co), so a URL built from them instead of the endpoint hub.py passes would fail here.
    huggingface_hub 2.x also fetches /api/agent-harnesses once per process from constants.ENDPOINT
    unless a fresh copy is cached at constants.AGENT_HARNESSES_PATH: an empty one is put there, so
    nothing tries to leave loopback and nothing is written outside tmp_path."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE",
                "HUGGINGFACE_HUB_CACHE", "TAMING_LITE_HUB_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    agents = tmp_path / "agent_harnesses.json"
    agents.write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(agents), raising=False)  # huggingface_hub 2.x
    yield server
    server.close()


def tiny_vqgan(seed: int) -> VQGAN:
    torch.manual_seed(seed)
    return VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8,
                             resolution=16, embed_dim=4, n_embed=16)).eval()


def our_files(model, tmp_path: Path) -> dict[str, bytes]:
    folder = save_pretrained(model, tmp_path / f"saved_{id(model)}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def write_registry(tmp_path: Path, *models) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"format_version": 1, "models": list(models)}))
    return path


# --------------------------------------------------------------------------- tests


def test_download_our_format_then_cache_hit_without_request(hub, tmp_path):
    model = tiny_vqgan(0)
    hub.push("tester/tiny-vqgan", {**our_files(model, tmp_path), "README.md": b"# tiny\n"})
    messages = []
    loaded = from_pretrained("tester/tiny-vqgan", device="cpu", progress=messages.append)
    assert same_weights(loaded, model) and not loaded.training
    assert any("downloading model.safetensors" in m for m in messages)
    assert not any("README" in path for _, path, _ in hub.requests)  # only the two model files are fetched
    assert (tmp_path / "hf_home" / "hub" / "models--tester--tiny-vqgan" / "refs" / "main").is_file()

    before = len(hub.requests)
    files = resolve("tester/tiny-vqgan")
    assert files.from_cache and files.format == "taming_lite"
    assert same_weights(files.load(device="cpu"), model)
    assert len(hub.requests) == before, "a cached model must load without any request"

    again = resolve("tester/tiny-vqgan", force_download=True)
    assert not again.from_cache and len(hub.requests) > before


def test_original_format_equals_load_original(hub, reference_dir):
    hub.push("tester/ref-vqgan", {"config.yaml": (reference_dir / "vqgan.yaml").read_bytes(),
                                  "model.ckpt": (reference_dir / "vqgan.ckpt").read_bytes()})
    ours = from_pretrained("tester/ref-vqgan", device="cpu")
    direct = load_original(reference_dir / "vqgan.yaml", reference_dir / "vqgan.ckpt")
    assert same_weights(ours, direct)
    from safetensors.torch import load_file

    io = load_file(str(reference_dir / "vqgan_io.safetensors"))
    with torch.no_grad():
        assert torch.equal(ours.decode(ours.encode(io["x"])[0]), direct.decode(direct.encode(io["x"])[0]))

    # the original layout of a taming log folder: one *.yaml and one *.ckpt anywhere in the repo
    hub.push("tester/ref-net2net", {"configs/net2net-project.yaml": (reference_dir / "net2net.yaml").read_bytes(),
                                    "checkpoints/last.ckpt": (reference_dir / "net2net.ckpt").read_bytes()})
    files = resolve("tester/ref-net2net")
    assert files.format == "original" and files.weights.name == "last.ckpt"
    assert same_weights(files.load(device="cpu"), load_original(reference_dir / "net2net.yaml", reference_dir / "net2net.ckpt"))


def test_revision_pinning(hub, tmp_path):
    old, new = tiny_vqgan(1), tiny_vqgan(2)
    first = hub.push("tester/versions", our_files(old, tmp_path), tag="v1")
    hub.push("tester/versions", our_files(new, tmp_path))
    assert same_weights(from_pretrained("tester/versions", device="cpu"), new)
    assert same_weights(from_pretrained("tester/versions", revision="v1", device="cpu"), old)
    pinned = resolve("tester/versions", revision=first)
    assert pinned.commit == first and first in str(pinned.weights)
    assert same_weights(pinned.load(device="cpu"), old)

    registry = write_registry(tmp_path, {"name": "pinned", "task": "reconstruction", "repo_id": "tester/versions",
                                         "revision": first})
    assert same_weights(from_pretrained("pinned", registry=registry, device="cpu"), old)
    with pytest.raises(ModelNotFoundError, match="revision 'v9' not found"):
        resolve("tester/versions", revision="v9")


def test_sha256_verified_and_mismatch_refused(hub, tmp_path, reference_dir):
    ckpt = (reference_dir / "vqgan.ckpt").read_bytes()
    hub.push("tester/ref-vqgan", {"config.yaml": (reference_dir / "vqgan.yaml").read_bytes(), "model.ckpt": ckpt})
    entry = {"task": "reconstruction", "format": "original", "repo_id": "tester/ref-vqgan",
             "files": {"config": "config.yaml", "weights": "model.ckpt"}}
    registry = write_registry(tmp_path, {**entry, "name": "good", "sha256": {"model.ckpt": hashlib.sha256(ckpt).hexdigest()}},
                              {**entry, "name": "bad", "sha256": {"model.ckpt": "0" * 64}})
    assert isinstance(from_pretrained("good", registry=registry, device="cpu"), torch.nn.Module)
    for _ in range(2):  # refused after the download, and again from the cache
        with pytest.raises(CheckpointError, match=r"model 'bad': model.ckpt has sha256 [0-9a-f]{64}, the registry expects 0{64}; refused"):
            from_pretrained("bad", registry=registry, device="cpu")


def test_not_found_errors_are_clear(hub, tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"repo 'nobody/nothing' not found on http://127\.0\.0\.1"):
        resolve("nobody/nothing")
    hub.push("tester/other", {"weights.bin": b"x", "notes.txt": b"y"})
    with pytest.raises(ModelNotFoundError, match="cannot tell the model format.*found: notes.txt, weights.bin"):
        resolve("tester/other")
    registry = write_registry(tmp_path, {"name": "gone", "task": "depth", "repo_id": "tester/other"})
    with pytest.raises(ModelNotFoundError, match="model 'gone': tester/other@main has no config.json, model.safetensors"):
        resolve("gone", registry=registry)
    with pytest.raises(ModelNotFoundError, match="unknown model 'no-such-name'"):
        resolve("no-such-name", registry=registry)


def test_server_error_is_hub_unavailable_and_fast(hub):
    hub.push("tester/any", {"config.json": b"{}", "model.safetensors": b"x"})
    hub.force_status = 500
    start = time.monotonic()
    with pytest.raises(HubUnavailable, match=r"model tester/any@main: the Hub at http://127\.0\.0\.1:\d+ answered HTTP 500"):
        resolve("tester/any")
    assert time.monotonic() - start < 3
    assert len(hub.requests) == 1  # no retries


def test_offline_mode_uses_cache_or_says_so(hub, tmp_path, monkeypatch):
    model = tiny_vqgan(3)
    hub.push("tester/tiny-vqgan", our_files(model, tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailable, match=r"model 'tester/tiny-vqgan' .*not in the local cache .* the Hub is offline \(HF_HUB_OFFLINE is set\)"):
        resolve("tester/tiny-vqgan")
    assert hub.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    resolve("tester/tiny-vqgan")
    count = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert same_weights(from_pretrained("tester/tiny-vqgan", device="cpu"), model)
    assert len(hub.requests) == count
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
        resolve("tester/tiny-vqgan", force_download=True)


def test_unreachable_and_silent_hub_fail_fast(hub, monkeypatch):
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        start = time.monotonic()
        with pytest.raises(HubUnavailable, match=r"model 'vqgan_f16_16384' \(boris/vqgan_f16_16384@main\): the Hugging "
                                                 r"Face Hub at .* did not answer within 1s: it is offline or unreachable"):
            resolve("vqgan_f16_16384", timeout=1)
        assert time.monotonic() - start < 5
    finally:
        silent.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here
    monkeypatch.setenv("TAMING_LITE_HUB_TIMEOUT", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HubUnavailable, match="is unreachable .*HF_HUB_OFFLINE=1"):
        resolve("tester/anything")


def test_token_is_sent(hub, tmp_path, monkeypatch):
    hub.push("tester/private", our_files(tiny_vqgan(4), tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    resolve("tester/private")
    assert hub.requests and all(h.get("Authorization") == "Bearer hf_test_token"
                                for _, path, h in hub.requests if not path.startswith("/cdn/"))


@pytest.mark.parametrize("bad", ["../x/y", "user/..", "/abs/repo", "user/re po", "a/b/c"])
def test_unsafe_repo_ids_refused(hub, bad):
    with pytest.raises(CheckpointError):
        resolve(bad)
    assert hub.requests == []


@pytest.mark.parametrize("field,value", [("files", {"config": "../config.yaml", "weights": "model.ckpt"}),
                                         ("files", {"config": "/etc/config.yaml", "weights": "model.ckpt"}),
                                         ("path", "../outside"), ("revision", "../main")])
def test_unsafe_registry_entries_refused(tmp_path, field, value):
    entry = {"name": "x", "task": "depth", "format": "original", "repo_id": "a/b"}
    if field == "path":
        entry = {"name": "x", "task": "depth", "path": value}
    else:
        entry[field] = value
    with pytest.raises(CheckpointError, match="not a safe relative file name|not a valid revision"):
        load_registry(write_registry(tmp_path, entry))


def test_local_directories(tmp_path, reference_dir):
    model = tiny_vqgan(5)
    folder = save_pretrained(model, tmp_path / "ours")
    assert same_weights(from_pretrained(folder, device="cpu"), load_pretrained(folder))
    orig = tmp_path / "orig"
    orig.mkdir()
    for name in ("vqgan.yaml", "vqgan.ckpt"):
        shutil.copy(reference_dir / name, orig / name)
    files = resolve(str(orig))
    assert files.format == "original" and files.config.name == "vqgan.yaml"
    half = from_pretrained(orig, device="cpu", dtype="fp16")
    assert next(half.parameters()).dtype == torch.float16

    # embedded registry entries: a folder relative to the registry, sha256 checked there too
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    registry = write_registry(tmp_path, {"name": "mine", "task": "reconstruction", "path": "ours",
                                         "sha256": {"model.safetensors": digest}},
                              {"name": "tampered", "task": "reconstruction", "path": "ours",
                               "sha256": {"model.safetensors": "f" * 64}})
    assert same_weights(from_pretrained("mine", registry=registry, device="cpu"), model)
    assert list_models(registry=registry)[0].available_offline()
    with pytest.raises(CheckpointError, match="model 'tampered': model.safetensors has sha256"):
        resolve("tampered", registry=registry)


def test_shipped_registry():
    names = {e.name: e for e in list_models()}
    for task in ("completion", "depth", "labels", "superres", "pose"):
        assert any(e.is_local for e in list_models(task)), task
    assert names["pixel_baseline"].is_local
    boris = names["vqgan_f16_16384"]
    assert (boris.repo_id, boris.format, boris.task) == ("boris/vqgan_f16_16384", "original", "reconstruction")
    assert boris.files == {"config": "config.yaml", "weights": "model.ckpt"}
    assert [e.name for e in list_models("reconstruction")] == ["vqgan_f16_16384"]
    for e in names.values():
        if e.is_local and not e.available_offline():
            with pytest.raises(ModelNotFoundError, match=f"model '{e.name}': its embedded weights are not there yet"):
                resolve(e.name)
