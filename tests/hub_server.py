"""A minimal Hugging Face Hub stand-in on a free loopback port, for the app's picker tests.

A reduced copy of FakeHub in tests/test_hub.py (which may move); it serves what taming_lite.hub
and huggingface_hub 2.x ask for when downloading a repo's files:
    GET       /api/models/{repo_id}/revision/{revision}     commit sha and file list
    HEAD/GET  /{repo_id}/resolve/{revision}/{filename}       file metadata / content
    HEAD/GET  /cdn/{sha256}                                   large files, after a redirect to another host name
`use(monkeypatch, tmp_path)` points HF_ENDPOINT at it with a fresh HF cache and nothing offline.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".ckpt", ".safetensors")


class FakeHub:
    """Repos as {repo_id: {"main": commit, "files": {filename: bytes}}} (one branch: main)."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.delay = 0.0  # seconds before each large-file (CDN) answer: a slow download
        handler = type("Handler", (_Handler,), {"hub": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"  # another host name, as the Hub's CDN
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def push(self, repo_id: str, files: dict[str, bytes]) -> str:
        commit = hashlib.sha1(repr(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items())).encode()
                              ).hexdigest()
        self.repos[repo_id] = {"main": commit, "files": dict(files)}
        return commit

    def push_folder(self, repo_id: str, folder: Path) -> str:
        return self.push(repo_id, {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()})

    def blob(self, sha256: str) -> bytes | None:
        for repo in self.repos.values():
            for data in repo["files"].values():
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

    def _send(self, status: int, headers: dict, data: bytes = b"", body: bool = True):
        self.send_response(status)
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

    def _repo(self, repo_id: str, revision: str, body: bool):
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", body)
            return None
        if revision not in ("main", repo["main"]):
            self._error(404, "RevisionNotFound", body)
            return None
        return repo

    def _serve(self, body: bool):
        hub = self.hub
        hub.requests.append((self.command, self.path))
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        if parts[0] == "cdn" and len(parts) == 2:
            time.sleep(hub.delay)
            data = hub.blob(parts[1])
            if data is None:
                return self._error(404, "EntryNotFound", body)
            return self._send(200, {"ETag": f'"{parts[1]}"', "Content-Type": "application/octet-stream"}, data, body)
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "revision":
            repo_id = f"{parts[2]}/{parts[3]}"
            repo = self._repo(repo_id, urllib.parse.unquote(parts[5]), body)
            if repo is None:
                return None
            info = {"id": repo_id, "modelId": repo_id, "sha": repo["main"], "private": False, "gated": False,
                    "siblings": [{"rfilename": f} for f in sorted(repo["files"])]}
            return self._send(200, {"Content-Type": "application/json"}, json.dumps(info).encode(), body)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self._repo(f"{parts[0]}/{parts[1]}", urllib.parse.unquote(parts[3]), body)
            if repo is None:
                return None
            filename = urllib.parse.unquote("/".join(parts[4:]))
            data = repo["files"].get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", body, repo["main"])
            if filename.endswith(LFS_SUFFIXES):  # as the Hub: LFS files redirect to a CDN, metadata on the 302
                sha = hashlib.sha256(data).hexdigest()
                return self._send(302, {"X-Repo-Commit": repo["main"], "X-Linked-Etag": f'"{sha}"',
                                        "X-Linked-Size": str(len(data)), "ETag": f'"{repo["main"][:20]}"',
                                        "Location": f"{hub.cdn}/cdn/{sha}"}, b"", body)
            git_sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            return self._send(200, {"X-Repo-Commit": repo["main"], "ETag": f'"{git_sha}"',
                                    "Content-Type": "application/octet-stream"}, data, body)
        return self._error(404, "RepoNotFound", body)


def use(monkeypatch, tmp_path: Path) -> FakeHub:
    """A FakeHub as HF_ENDPOINT with a fresh HF cache under tmp_path; offline mode off (also in
    huggingface_hub's import-time constants, which importing app.py may have set). huggingface_hub
    2.x fetches /api/agent-harnesses once per process unless a fresh copy is cached: an empty one
    is put there, so nothing tries to leave loopback. Call `.close()` when done."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE",
                "HUGGINGFACE_HUB_CACHE", "TAMING_LITE_HUB_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    agents = tmp_path / "agent_harnesses.json"
    agents.write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(agents), raising=False)
    return server
