"""A minimal Hugging Face Hub stand-in on a free loopback port, for the app's picker tests.

Used by tests/robustness/test_hub.py and tests/test_app_picker.py. It serves what taming_lite.hub
and huggingface_hub 2.x ask for when downloading a repo's files, with the headers they read
(X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size, Content-Length, Location, X-Error-Code), and
records every request so tests can count them:
    GET       /api/models/{repo_id}/revision/{revision}     commit sha and file list
    HEAD/GET  /{repo_id}/resolve/{revision}/{filename}       file metadata / content
    HEAD/GET  /cdn/{sha256}                                   large files, after a redirect to another host name
Beside the Hub, plain download links (the paper's released checkpoints are direct URLs):
    GET       /files/{path}                                   `files[path]`, with HTTP Range (206) support;
              `file_types[path]` sets the Content-Type, `cut_after[path] = n` drops the connection after n
              bytes once (an interrupted transfer); a path not in `files` answers 404 (a dead link);
              `require_headers[path] = {name: value}` answers 400 Bad Request unless the request carries
              them (a share host wanting its share page as Referer); `redirects[path] = other` answers 302
              to /files/{other} (as heibox does); `file_headers[path]` adds response headers
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
    """Repos as {repo_id: {"refs": {name: commit}, "commits": {commit: {filename: bytes}}}}."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple] = []  # (method, path, headers)
        self.force_status: int | None = None  # answer every request with this status (a broken server)
        self.delay = 0.0  # seconds before each large-file (CDN) answer: a slow download
        self.files: dict[str, bytes] = {}      # plain URLs under /files/
        self.file_types: dict[str, str] = {}
        self.cut_after: dict[str, int] = {}
        self.require_headers: dict[str, dict[str, str]] = {}
        self.redirects: dict[str, str] = {}
        self.file_headers: dict[str, dict[str, str]] = {}
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

    def push_folder(self, repo_id: str, folder: Path) -> str:
        return self.push(repo_id, {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()})

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

    def url(self, path: str) -> str:
        return f"{self.endpoint}/files/{path}"

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
        if parts[0] == "files":
            return self._plain("/".join(parts[1:]), body)
        if parts[0] == "cdn" and len(parts) == 2:
            time.sleep(hub.delay)
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

    def _plain(self, path: str, body: bool):
        hub = self.hub
        wanted = hub.require_headers.get(path, {})
        if any(self.headers.get(k) != v for k, v in wanted.items()):
            return self._send(400, {"Content-Type": "text/plain"}, b"Bad Request", body)
        if path in hub.redirects:
            return self._send(302, {"Location": f"{hub.endpoint}/files/{hub.redirects[path]}"}, b"", body)
        data = hub.files.get(path)
        if data is None:
            return self._send(404, {"Content-Type": "text/plain"}, b"not found", body)
        ctype = hub.file_types.get(path, "application/octet-stream")
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self._send(416, {"Content-Range": f"bytes */{len(data)}"}, b"", body)
            status = 206
        part = data[start:]
        headers = {"Content-Type": ctype, "Content-Length": str(len(part)), "Accept-Ranges": "bytes",
                   **hub.file_headers.get(path, {})}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        cut = hub.cut_after.pop(path, None)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(part if cut is None else part[:cut])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True


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
    monkeypatch.delenv("TAMING_LITE_CACHE", raising=False)  # downloads go under HF_HOME too
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    agents = tmp_path / "agent_harnesses.json"
    agents.write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(agents), raising=False)
    return server
