"""The model registry (weights/registry.json): which models the app and `from_pretrained` know by name.

    {"format_version": 1, "models": [
      {"name": "depth", "task": "depth", "path": "depth"},                          # embedded, under weights/
      {"name": "vqgan_f16_16384", "task": "reconstruction", "format": "original",    # a Hub repo
       "repo_id": "boris/vqgan_f16_16384", "files": {"config": "config.yaml", "weights": "model.ckpt"}},
      {"name": "drin", "task": "depth", "format": "original",                       # direct download links
       "urls": {"config": "https://...yaml", "weights": "https://.../last.ckpt"},
       "headers": {"Referer": "https://app.koofr.net/links/..."},                   # sent with those links
       "mirrors": [{"name": "user/repo on the Hub", "urls": {"config": "...", "weights": "..."}}],
       "landing_page": "https://github.com/CompVis/taming-transformers", "size_gb": 4.0,
       "sampling": {"top_k": 100}, "conditioning": {"depth_minmax": true}}]}

Exactly one of `path`, `repo_id` or `urls` says where the files are. A `urls` entry may add request
`headers` for its links (a share host that wants its share page as Referer) and `mirrors`: further
sources tried in order when the first fails, each with its own `urls` and optional `headers`
(`ModelEntry.sources`: the entry's own links first). Optional: description, license,
source, landing_page, size_gb (approximate, shown in the picker), sha256 ({file: hex}, checked on
every load), sampling (the model's sampling defaults: temperature, top_k, top_p), conditioning
(how a user's input is turned into this model's condition: depth_minmax), limits (what the model
cannot do, shown in its tab). This module only reads and checks the file (the schema: the lowest
of the model io, it imports neither of the two that use it); `taming_lite.hub` resolves entries to
files (`hub.available_offline`: whether an entry's files are here) and `taming_lite.download` fetches
URL entries. It also holds what those two share (their errors, `env_flag`, `space_storage`), so that
neither imports the other for it.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, read_json
from .tasks import TASK_NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_ENV = "TAMING_LITE_WEIGHTS"  # folder holding registry.json and the embedded weights
REGISTRY_NAME = "registry.json"
FORMATS = ("taming_lite", "original")  # ours: config.json + model.safetensors; original: YAML + Lightning .ckpt
# what an entry may serve: the five tabs, plus first stages alone and the completion tab's pixel baseline
TASKS = TASK_NAMES + ("reconstruction", "completion_baseline")
LARGE_BYTES = 500_000_000  # a download the picker marks as large

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KNOWN = {"name", "task", "format", "description", "path", "repo_id", "revision", "files", "sha256", "license",
          "source", "urls", "headers", "mirrors", "landing_page", "size_gb", "sampling", "conditioning", "limits"}
_MIRROR_KEYS = {"name", "urls", "headers", "source"}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_TRUE = {"1", "true", "yes", "on"}
SPACE_STORAGE = Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it
_SAMPLING = {"temperature": (int, float), "top_k": int, "top_p": (int, float)}
_CONDITIONING = {"depth_minmax": bool}


class HubUnavailable(ConnectionError):
    """The Hub or a download host cannot be used now (offline mode, unreachable, timing out, or a server
    error) and the model is not in the local cache. The app catches this to fall back to the embedded model."""


class ModelNotFoundError(CheckpointError):
    """The name, repo, revision, file or link does not exist (or is private/gated without a token)."""


def env_flag(name: str) -> bool:
    """Whether the environment variable is set to a true value (1, true, yes, on), as huggingface_hub reads it."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def space_storage() -> Path | None:
    """/data on a Hugging Face Space (SPACE_ID set) that has persistent storage mounted there, else None."""
    if not os.environ.get("SPACE_ID"):
        return None
    return SPACE_STORAGE if SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK) else None


def hf_home() -> Path:
    """HF_HOME; else, on a Space with persistent storage, /data/.huggingface (kept across restarts);
    else $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface."""
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    storage = space_storage()
    if storage is not None:
        return storage / ".huggingface"
    return Path(os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")).expanduser()


@dataclass(frozen=True)
class Source:
    """One place a URL entry's two files can be fetched from: links, the request headers they need, a name."""

    name: str
    urls: dict                                   # {"config": URL, "weights": URL}
    headers: dict = field(default_factory=dict)  # extra request headers (e.g. a share page as Referer)
    source: str = ""                             # where the mirror is described (a Hub page)

    def label(self, key: str = "weights") -> str:
        return f"{self.name} ({urllib.parse.urlsplit(self.urls[key]).netloc})"


@dataclass(frozen=True)
class ModelEntry:
    """One model the registry knows: embedded weights (`path`, absolute), a Hub repo, or download URLs."""

    name: str
    task: str
    format: str = "taming_lite"
    description: str = ""
    path: Path | None = None              # embedded models
    repo_id: str | None = None            # Hub models
    revision: str = "main"
    files: dict = field(default_factory=dict)   # {"config": ..., "weights": ...}: names in the repo / folder / cache
    sha256: dict = field(default_factory=dict)  # {file name: hex digest}, optional
    urls: dict = field(default_factory=dict)    # {"config": URL, "weights": URL} for direct downloads
    headers: dict = field(default_factory=dict)  # request headers sent with `urls`
    mirrors: tuple = ()                         # Source, ... tried after `urls`, in order
    landing_page: str = ""
    size_gb: float | None = None               # approximate download size, for the picker
    license: str = ""
    source: str = ""
    sampling: dict = field(default_factory=dict)
    conditioning: dict = field(default_factory=dict)
    limits: str = ""

    @property
    def kind(self) -> str:
        return "embedded" if self.path is not None else "hub" if self.repo_id else "url"

    @property
    def sources(self) -> tuple[Source, ...]:
        """Where a URL entry's files come from, in the order they are tried: its own links, then its mirrors."""
        if not self.urls:
            return ()
        return (Source("the entry's link", dict(self.urls), dict(self.headers), self.landing_page),) + self.mirrors

    @property
    def is_local(self) -> bool:
        return self.path is not None

    @property
    def is_large(self) -> bool:
        return self.size_gb is not None and self.size_gb * 1e9 >= LARGE_BYTES

    @property
    def location(self) -> str:
        if self.is_local:
            return str(self.path)
        return f"{self.repo_id}@{self.revision}" if self.repo_id else self.urls.get("weights", "")


def weights_dir() -> Path:
    return Path(os.environ.get(WEIGHTS_ENV) or REPO_ROOT / "weights")


def registry_path() -> Path:
    return weights_dir() / REGISTRY_NAME


def default_files(fmt: str) -> dict:
    return {"config": CONFIG_NAME, "weights": WEIGHTS_NAME} if fmt == "taming_lite" else {"config": "config.yaml",
                                                                                        "weights": "model.ckpt"}


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and check a registry file (default weights/registry.json); name -> ModelEntry, in file order."""
    path = Path(path) if path is not None else registry_path()
    data = read_json(path, f"model registry not found (set {WEIGHTS_ENV} to the folder holding {REGISTRY_NAME})")
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CheckpointError(f"{path}: expected an object with a list 'models'")
    entries: dict[str, ModelEntry] = {}
    for i, raw in enumerate(data["models"]):
        entry = parse_entry(raw, path.parent, f"{path}: models[{i}]")
        if entry.name in entries:
            raise CheckpointError(f"{path}: model name {entry.name!r} appears twice")
        entries[entry.name] = entry
    return entries


def list_models(task: str | None = None, registry: str | os.PathLike | None = None) -> list[ModelEntry]:
    """The registry's models, in file order; only those serving `task` if given (see TASKS)."""
    return [e for e in load_registry(registry).values() if task is None or e.task == task]


def _typed(raw, allowed: dict, where: str, what: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - set(allowed):
        raise CheckpointError(f"{where}: '{what}' must be an object with keys among {sorted(allowed)}")
    for k, v in raw.items():
        if isinstance(v, bool) and allowed[k] is not bool or not isinstance(v, allowed[k]):
            raise CheckpointError(f"{where}: '{what}.{k}' has the wrong type ({v!r})")
    return dict(raw)


def parse_entry(raw, base: Path, where: str) -> ModelEntry:
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: expected an object")
    if set(raw) - _KNOWN:
        raise CheckpointError(f"{where}: unknown keys {sorted(set(raw) - _KNOWN)}; known: {sorted(_KNOWN)}")
    name, task, fmt = raw.get("name"), raw.get("task"), raw.get("format", "taming_lite")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise CheckpointError(f"{where}: 'name' must be a word of letters, digits, '.', '_' or '-' (got {name!r})")
    where = f"{where} ({name})"
    if not isinstance(task, str) or not task:
        raise CheckpointError(f"{where}: 'task' missing")
    if fmt not in FORMATS:
        raise CheckpointError(f"{where}: 'format' must be one of {FORMATS}, got {fmt!r}")
    if sum(k in raw for k in ("path", "repo_id", "urls")) != 1:
        raise CheckpointError(f"{where}: give exactly one of 'path' (embedded, relative to weights/), 'repo_id' "
                              f"(Hub) or 'urls' (direct downloads)")
    files = raw.get("files") or default_files(fmt)
    if not isinstance(files, dict) or set(files) != {"config", "weights"}:
        raise CheckpointError(f"{where}: 'files' must be {{'config': ..., 'weights': ...}}")
    for f in files.values():
        check_filename(f, where)
    if fmt == "taming_lite" and ([Path(f).name for f in (files["config"], files["weights"])] != [CONFIG_NAME, WEIGHTS_NAME]
                                 or Path(files["config"]).parent != Path(files["weights"]).parent):
        raise CheckpointError(f"{where}: format 'taming_lite' means {CONFIG_NAME} and {WEIGHTS_NAME} in one folder")
    sha = raw.get("sha256") or {}
    if not isinstance(sha, dict) or any(k not in files.values() or not isinstance(v, str) or not _SHA256.match(v.lower())
                                        for k, v in sha.items()):
        raise CheckpointError(f"{where}: 'sha256' maps file names from 'files' to 64 hex digits")
    size = raw.get("size_gb")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float)) or size <= 0):
        raise CheckpointError(f"{where}: 'size_gb' must be a positive number")
    common = dict(description=str(raw.get("description", "")), files=dict(files),
                  sha256={k: v.lower() for k, v in sha.items()}, landing_page=str(raw.get("landing_page", "")),
                  size_gb=size, license=str(raw.get("license", "")), source=str(raw.get("source", "")),
                  sampling=_typed(raw.get("sampling"), _SAMPLING, where, "sampling"),
                  conditioning=_typed(raw.get("conditioning"), _CONDITIONING, where, "conditioning"),
                  limits=str(raw.get("limits", "")))
    if "path" in raw:
        check_filename(raw["path"], where)
        return ModelEntry(name, task, fmt, path=base / raw["path"], **common)
    if ("headers" in raw or "mirrors" in raw) and "urls" not in raw:
        raise CheckpointError(f"{where}: 'headers' and 'mirrors' belong to entries with 'urls'")
    if "urls" in raw:
        mirrors = raw.get("mirrors") or []
        if not isinstance(mirrors, list):
            raise CheckpointError(f"{where}: 'mirrors' must be a list of {{'name': ..., 'urls': {{...}}}}")
        sources = []
        for i, m in enumerate(mirrors):
            at = f"{where}: mirrors[{i}]"
            if not isinstance(m, dict) or set(m) - _MIRROR_KEYS or not isinstance(m.get("name"), str) or not m["name"]:
                raise CheckpointError(f"{at}: expected {{'name': ..., 'urls': {{...}}}} with keys among {sorted(_MIRROR_KEYS)}")
            sources.append(Source(m["name"], _urls(m.get("urls"), at), _headers(m.get("headers"), at),
                                  str(m.get("source", ""))))
        return ModelEntry(name, task, fmt, urls=_urls(raw["urls"], where), headers=_headers(raw.get("headers"), where),
                          mirrors=tuple(sources), **common)
    repo_id, revision = raw["repo_id"], raw.get("revision", "main")
    check_repo_id(repo_id, where)
    check_revision(revision, where)
    return ModelEntry(name, task, fmt, repo_id=repo_id, revision=revision, **common)


def _urls(urls, where: str) -> dict:
    if (not isinstance(urls, dict) or set(urls) != {"config", "weights"}
            or not all(isinstance(u, str) and re.match(r"^https?://", u) for u in urls.values())):
        raise CheckpointError(f"{where}: 'urls' must be {{'config': 'http(s)://...', 'weights': 'http(s)://...'}}")
    return dict(urls)


def _headers(headers, where: str) -> dict:
    """Request headers: names of letters, digits and '-', values on one line."""
    if headers is None:
        return {}
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and _HEADER_NAME.match(k) and isinstance(v, str) and not set(v) & {"\r", "\n", "\0"}
            for k, v in headers.items()):
        raise CheckpointError(f"{where}: 'headers' must map header names (letters, digits, '-') to one-line strings")
    return dict(headers)


# --------------------------------------------------------------------------- names that are safe to use


def check_repo_id(repo_id, where: str = "repo id") -> str:
    if not isinstance(repo_id, str) or ".." in repo_id or not _REPO_ID.match(repo_id):
        raise CheckpointError(f"{where}: {repo_id!r} is not a valid Hub repo id ('user/name': letters, digits, '.', '_', '-'; no '..')")
    return repo_id


def check_revision(revision, where: str = "revision") -> str:
    if not isinstance(revision, str) or ".." in revision or revision.startswith("/") or not _REVISION.match(revision):
        raise CheckpointError(f"{where}: {revision!r} is not a valid revision (a branch, tag or commit hash)")
    return revision


def check_filename(name, where: str = "file name") -> str:
    """A relative path inside a repo or weights/: no absolute paths, no '..', no backslashes."""
    bad = (not isinstance(name, str) or not name or name.startswith(("/", "~")) or "\\" in name or "\0" in name
           or re.match(r"^[A-Za-z]:", name) or any(p in ("", ".", "..") for p in name.split("/")))
    if bad:
        raise CheckpointError(f"{where}: {name!r} is not a safe relative file name (no absolute paths, no '..')")
    return name
