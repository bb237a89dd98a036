"""Models by name: the registry in weights/registry.json, the Hugging Face Hub, the local cache.

    from taming_lite.hub import from_pretrained, list_models
    model = from_pretrained("depth")                        # a registry name (embedded weights in weights/)
    model = from_pretrained("vqgan_f16_16384")              # a registry name for a Hub checkpoint
    model = from_pretrained("user/repo", revision="v1")     # any Hub repo in our format or the original one
    model = from_pretrained("path/to/dir", device="cpu")    # a local directory

Resolution of `from_pretrained(x)`, in order: an existing local directory; a name in the registry;
a registry entry whose `repo_id` is `x`; any other `user/repo` id, whose format is detected from its
file list (config.json + model.safetensors = ours; config.yaml + model.ckpt, or one *.yaml and one
*.ckpt = the original taming format).

Hub downloads go through `huggingface_hub.hf_hub_download` into the standard HF cache. The
environment is read at each call (huggingface_hub reads it once, at import): HF_ENDPOINT,
HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE, HF_TOKEN. The cache is consulted first: a model that is in
the cache for the asked revision loads with no request at all (pass `force_download=True` to fetch
again). Otherwise one short request (`GET /api/models/{repo}/revision/{rev}`, `timeout` seconds,
default 5, env TAMING_LITE_HUB_TIMEOUT) checks that the Hub answers and lists the repo's files
before any download starts, so an offline or unreachable Hub is reported within seconds as
`HubUnavailable` (huggingface_hub alone retries for ~23 s, and longer where traffic is dropped).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from . import __version__
from .checkpoints import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, load_original, load_pretrained, read_json
from .device import pick_device

REPO_ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_ENV = "TAMING_LITE_WEIGHTS"          # folder holding registry.json and the embedded weights
TIMEOUT_ENV = "TAMING_LITE_HUB_TIMEOUT"      # seconds before the Hub counts as unreachable
DEFAULT_TIMEOUT = 5.0
DEFAULT_ENDPOINT = "https://huggingface.co"
REGISTRY_NAME = "registry.json"
FORMATS = ("taming_lite", "original")  # ours: config.json + model.safetensors; original: YAML + Lightning .ckpt
TASKS = ("completion", "depth", "labels", "superres", "pose", "reconstruction", "completion_baseline")

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "true", "yes", "on"}


class HubUnavailable(ConnectionError):
    """The Hub cannot be used now (offline mode, unreachable, timing out, or a server error) and the
    model is not in the local cache. The app catches this to fall back to the embedded model."""


class ModelNotFoundError(CheckpointError):
    """The name, repo, revision or file does not exist (or is private/gated without a token)."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ModelEntry:
    """One model the app knows: embedded weights (`path`, relative to weights/) or a Hub repo."""

    name: str
    task: str
    format: str = "taming_lite"
    description: str = ""
    path: Path | None = None              # absolute, for embedded models
    repo_id: str | None = None            # for Hub models
    revision: str = "main"
    files: dict = field(default_factory=dict)   # {"config": ..., "weights": ...} inside the repo
    sha256: dict = field(default_factory=dict)  # {file name in repo: hex digest}, optional

    @property
    def is_local(self) -> bool:
        return self.path is not None

    @property
    def location(self) -> str:
        return str(self.path) if self.is_local else f"{self.repo_id}@{self.revision}"

    def available_offline(self, cache_dir: str | os.PathLike | None = None) -> bool:
        """True if loading needs no network: the embedded files exist, or the Hub files are cached."""
        if self.is_local:
            return all((self.path / f).is_file() for f in _default_files(self.format).values())
        return _cached_files(self.repo_id, self.revision, list(self.files.values()), _cache_dir(cache_dir)) is not None


def weights_dir() -> Path:
    return Path(os.environ.get(WEIGHTS_ENV) or REPO_ROOT / "weights")


def registry_path() -> Path:
    return weights_dir() / REGISTRY_NAME


def _default_files(fmt: str) -> dict:
    return {"config": CONFIG_NAME, "weights": WEIGHTS_NAME} if fmt == "taming_lite" else {"config": "config.yaml", "weights": "model.ckpt"}


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and check a registry file (default weights/registry.json); name -> ModelEntry, in file order."""
    path = Path(path) if path is not None else registry_path()
    data = read_json(path, f"model registry not found (set {WEIGHTS_ENV} to the folder holding {REGISTRY_NAME})")
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CheckpointError(f"{path}: expected an object with a list 'models'")
    entries: dict[str, ModelEntry] = {}
    for i, raw in enumerate(data["models"]):
        entry = _entry(raw, path.parent, f"{path}: models[{i}]")
        if entry.name in entries:
            raise CheckpointError(f"{path}: model name {entry.name!r} appears twice")
        entries[entry.name] = entry
    return entries


def _entry(raw, base: Path, where: str) -> ModelEntry:
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: expected an object")
    known = {"name", "task", "format", "description", "path", "repo_id", "revision", "files", "sha256", "license", "source"}
    if set(raw) - known:
        raise CheckpointError(f"{where}: unknown keys {sorted(set(raw) - known)}; known: {sorted(known)}")
    name, task, fmt = raw.get("name"), raw.get("task"), raw.get("format", "taming_lite")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise CheckpointError(f"{where}: 'name' must be a word of letters, digits, '.', '_' or '-' (got {name!r})")
    where = f"{where} ({name})"
    if not isinstance(task, str) or not task:
        raise CheckpointError(f"{where}: 'task' missing")
    if fmt not in FORMATS:
        raise CheckpointError(f"{where}: 'format' must be one of {FORMATS}, got {fmt!r}")
    if ("path" in raw) == ("repo_id" in raw):
        raise CheckpointError(f"{where}: give exactly one of 'path' (embedded, relative to weights/) or 'repo_id' (Hub)")
    files = raw.get("files") or _default_files(fmt)
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
    if "path" in raw:
        check_filename(raw["path"], where)
        return ModelEntry(name, task, fmt, str(raw.get("description", "")), path=base / raw["path"],
                          files=dict(files), sha256={k: v.lower() for k, v in sha.items()})
    repo_id, revision = raw["repo_id"], raw.get("revision", "main")
    check_repo_id(repo_id, where)
    check_revision(revision, where)
    return ModelEntry(name, task, fmt, str(raw.get("description", "")), repo_id=repo_id, revision=revision,
                      files=dict(files), sha256={k: v.lower() for k, v in sha.items()})


def list_models(task: str | None = None, registry: str | os.PathLike | None = None) -> list[ModelEntry]:
    """The registry's models, in file order; only those serving `task` if given (see TASKS)."""
    return [e for e in load_registry(registry).values() if task is None or e.task == task]


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


# --------------------------------------------------------------------------- environment, read at each call


def env_flag(name: str) -> bool:
    """Whether the environment variable is set to a true value (1, true, yes, on), as huggingface_hub reads it."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def _offline() -> bool:
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The HF cache folder in use (HF_HUB_CACHE / HF_HOME, as huggingface_hub reads them)."""
    return _cache_dir(None)


def _cache_dir(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def _token(token):
    if token is not None:
        return token or None
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _timeout(timeout) -> float:
    if timeout is not None:
        return float(timeout)
    try:
        return float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


# --------------------------------------------------------------------------- resolving to local files


@dataclass(frozen=True)
class ModelFiles:
    """Where a model's two files are on disk, and where they came from."""

    name: str
    format: str
    config: Path
    weights: Path
    repo_id: str | None = None
    revision: str | None = None
    commit: str | None = None
    from_cache: bool = False

    def load(self, device=None, dtype=None) -> nn.Module:
        """The model in eval mode on `device` (default: CUDA, then MPS, then CPU), cast to `dtype` if given."""
        device, dtype = pick_device(device), _dtype(dtype)
        if self.format == "taming_lite":
            return load_pretrained(self.config.parent, device=device, dtype=dtype)
        return load_original(self.config, self.weights, device=device, dtype=dtype)


def _dtype(dtype):
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if str(dtype).lower() not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use None, a torch.dtype, or one of {sorted(names)}")
    return names[str(dtype).lower()]


def detect_format(filenames, where: str) -> tuple[str, str, str]:
    """(format, config file, weights file) from a repo's or folder's file names."""
    names = set(filenames)
    if CONFIG_NAME in names and WEIGHTS_NAME in names:
        return "taming_lite", CONFIG_NAME, WEIGHTS_NAME
    if "config.yaml" in names and "model.ckpt" in names:
        return "original", "config.yaml", "model.ckpt"
    visible = sorted(n for n in names if not any(p.startswith(".") for p in n.split("/")))
    yamls = [n for n in visible if n.endswith((".yaml", ".yml"))]
    ckpts = [n for n in visible if n.endswith(".ckpt")]
    if len(yamls) == 1 and len(ckpts) == 1:
        return "original", yamls[0], ckpts[0]
    shown = ", ".join(visible[:20]) + (" ..." if len(visible) > 20 else "") or "no files"
    raise ModelNotFoundError(
        f"{where}: cannot tell the model format: expected {CONFIG_NAME} + {WEIGHTS_NAME} (taming-lite), or "
        f"config.yaml + model.ckpt, or exactly one *.yaml and one *.ckpt (original taming); found: {shown}. "
        f"Pass config_file= and weights_file=, or add an entry to weights/registry.json")


def _local_dir(directory: Path, name: str, config_file=None, weights_file=None) -> ModelFiles:
    if config_file or weights_file:
        fmt = "taming_lite" if str(config_file or "").endswith(".json") else "original"
        cfg, wts = config_file or CONFIG_NAME, weights_file or WEIGHTS_NAME
    else:
        files = [str(p.relative_to(directory).as_posix()) for p in directory.rglob("*") if p.is_file()]
        fmt, cfg, wts = detect_format(files, str(directory))
    return ModelFiles(name, fmt, directory / cfg, directory / wts)


def _repo_folder(cache_dir: Path, repo_id: str) -> Path:
    return cache_dir / ("models--" + repo_id.replace("/", "--"))


def _cached_commit(repo_id: str, revision: str, cache_dir: Path) -> str | None:
    folder = _repo_folder(cache_dir, repo_id)
    if _COMMIT.match(revision):
        return revision if (folder / "snapshots" / revision).is_dir() else None
    ref = folder / "refs" / revision
    try:
        return ref.read_text().strip() or None
    except OSError:
        return None


def _cached_files(repo_id: str, revision: str, filenames: list[str], cache_dir: Path) -> dict[str, Path] | None:
    """{file: path} if every file of `revision` is in the standard HF cache, else None. No network."""
    commit = _cached_commit(repo_id, revision, cache_dir)
    if commit is None:
        return None
    snapshot = _repo_folder(cache_dir, repo_id) / "snapshots" / commit
    paths = {f: snapshot / f for f in filenames}
    return paths if all(p.is_file() for p in paths.values()) else None


def _cached_listing(repo_id: str, revision: str, cache_dir: Path) -> tuple[str, list[str]] | None:
    commit = _cached_commit(repo_id, revision, cache_dir)
    if commit is None:
        return None
    snapshot = _repo_folder(cache_dir, repo_id) / "snapshots" / commit
    return commit, [p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()]


def _offline_advice(name: str) -> str:
    return (f"download it once with network access (it then stays in the HF cache), set HF_ENDPOINT to a "
            f"reachable mirror, or use an embedded model ({', '.join(_embedded_names()) or 'see weights/registry.json'})")


def _embedded_names() -> list[str]:
    try:
        return [e.name for e in load_registry().values() if e.is_local]
    except CheckpointError:
        return []


def _repo_info(repo_id: str, revision: str, name: str, endpoint: str, token, timeout: float) -> tuple[str | None, list[str]]:
    """One short request: does the Hub answer, and what files does `revision` hold? -> (commit, files)."""
    url = f"{endpoint}/api/models/{repo_id}/revision/{urllib.parse.quote(revision, safe='')}"
    headers = {"User-Agent": f"taming-lite/{__version__}", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    what = f"{name!r} ({repo_id}@{revision})" if name != repo_id else f"{repo_id}@{revision}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            body = response.read(20_000_000)
    except urllib.error.HTTPError as e:
        code, err = e.code, e.headers.get("X-Error-Code", "")
        if code in (401, 403) or err == "GatedRepo":
            raise ModelNotFoundError(f"model {what}: the Hub refused access (HTTP {code}): the repo is private or gated; "
                                     f"accept its terms on the Hub and set HF_TOKEN") from None
        if code == 404 and err == "RevisionNotFound":
            raise ModelNotFoundError(f"model {what}: revision {revision!r} not found in {repo_id} on {endpoint}") from None
        if code == 404:
            raise ModelNotFoundError(f"model {what}: repo {repo_id!r} not found on {endpoint} (HTTP 404; check the "
                                     f"name, or set HF_TOKEN if it is private; there is no local folder {repo_id!r} "
                                     f"either)") from None
        raise HubUnavailable(f"model {what}: the Hub at {endpoint} answered HTTP {code} ({e.reason}); it may be down. "
                             f"Try again later, or {_offline_advice(name)}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        kind = "did not answer within %gs" % timeout if isinstance(reason, (socket.timeout, TimeoutError)) else f"is unreachable ({reason})"
        raise HubUnavailable(f"model {what}: the Hugging Face Hub at {endpoint} {kind}: it is offline or unreachable "
                             f"from here, and the model is not in the local cache. Set HF_HUB_OFFLINE=1 to use only "
                             f"the cache, {_offline_advice(name)}") from None
    try:
        info = json.loads(body)
        files = [s["rfilename"] for s in info.get("siblings", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise HubUnavailable(f"model {what}: {endpoint} did not answer like a Hugging Face Hub (no file list); "
                             f"check HF_ENDPOINT, or {_offline_advice(name)}") from None
    return info.get("sha"), files


def _download(repo_id: str, filename: str, revision: str, name: str, *, endpoint, token, timeout, cache_dir, force) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=str(cache_dir), endpoint=endpoint,
                                    token=token, etag_timeout=timeout, force_download=force))
    except Exception as e:  # huggingface_hub's classes differ between versions: sort them by name
        kinds = {c.__name__ for c in type(e).__mro__}
        what = f"model {name!r} ({repo_id}@{revision}, file {filename})"
        if "LocalEntryNotFoundError" in kinds or "OfflineModeIsEnabled" in kinds:  # network failed, not in cache
            raise HubUnavailable(f"{what}: the download from {endpoint} failed and the file is not in the cache; the "
                                 f"Hub is offline or unreachable. Try again later, or {_offline_advice(name)}") from None
        if kinds & {"RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError",
                    "RemoteEntryNotFoundError", "GatedRepoError"}:
            raise ModelNotFoundError(f"{what}: not found or not accessible on {endpoint} ({type(e).__name__}); "
                                     f"check the name and revision, or set HF_TOKEN for a private or gated repo") from None
        if kinds & {"HfHubHTTPError", "HTTPError",
                    "ConnectError", "TimeoutException", "ConnectionError", "Timeout", "TransportError", "OSError"}:
            first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise HubUnavailable(f"{what}: the download from {endpoint} failed ({first}); the Hub is offline, "
                                 f"unreachable or failing. Try again later, or {_offline_advice(name)}") from None
        raise


def verify_sha256(path: Path, expected: str, name: str, filename: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise CheckpointError(
            f"model {name!r}: {filename} has sha256 {digest.hexdigest()}, the registry expects {expected}; refused "
            f"({path}). The file is corrupt or not the one registered: fetch it again with force_download=True, "
            f"or fix the sha256 in weights/registry.json if the repo changed on purpose")


def resolve(name_or_path: str | os.PathLike, revision: str | None = None, *, registry: str | os.PathLike | None = None,
            config_file: str | None = None, weights_file: str | None = None, cache_dir=None, endpoint: str | None = None,
            token: str | bool | None = None, timeout: float | None = None, local_files_only: bool = False,
            force_download: bool = False, progress: Callable[[str], None] | None = None) -> ModelFiles:
    """Find a model's files on disk, downloading them from the Hub if needed. See the module docstring.

    Raises ModelNotFoundError (unknown name, missing repo/revision/file, missing embedded weights),
    HubUnavailable (offline, unreachable, timeout, server error, with the model not cached) and
    CheckpointError (unsafe names, sha256 mismatch, bad registry)."""
    say = progress or (lambda message: None)
    name = os.fspath(name_or_path)
    if config_file is not None:
        check_filename(config_file, "config_file")
    if weights_file is not None:
        check_filename(weights_file, "weights_file")
    if revision is not None:
        check_revision(revision)

    # 1. a local directory
    if Path(name).is_dir():
        return _local_dir(Path(name), name, config_file, weights_file)

    # 2. a registry name, or a repo id that the registry knows
    entries = load_registry(registry)
    entry = entries.get(name) or next((e for e in entries.values() if e.repo_id == name), None)
    if entry is not None and entry.is_local:
        files = _default_files(entry.format)
        missing = [f for f in files.values() if not (entry.path / f).is_file()]
        if missing:
            raise ModelNotFoundError(f"model {entry.name!r}: its embedded weights are not there yet: "
                                     f"{', '.join(str(entry.path / f) for f in missing)} missing. Train and save them "
                                     f"(see weights/README.md), or pick another model: {', '.join(entries)}")
        result = ModelFiles(entry.name, entry.format, entry.path / files["config"], entry.path / files["weights"])
        _verify(entry, result, entry.name, (files["config"], files["weights"]))
        return result
    if entry is None and "/" not in name:
        raise ModelNotFoundError(f"unknown model {name!r}: not a folder, not in the registry ({', '.join(entries) or 'empty'}), "
                                 f"and not a Hub repo id ('user/name')")

    # 3. a Hub repo
    repo_id = entry.repo_id if entry else check_repo_id(name, f"model {name!r} (no such folder or registry name)")
    label = entry.name if entry else repo_id
    revision = revision or (entry.revision if entry else "main")
    known = (config_file, weights_file) if config_file and weights_file else None
    if entry is not None and not known:
        known = (entry.files["config"], entry.files["weights"])
    cache, endpoint, token, timeout = _cache_dir(cache_dir), _endpoint(endpoint), _token(token), _timeout(timeout)

    fmt = entry.format if entry else None
    if known and fmt is None:
        fmt = "taming_lite" if known[0].endswith(".json") else "original"
    if not force_download:  # the cache first: no request at all when everything is there
        if known:
            cached = _cached_files(repo_id, revision, list(known), cache)
        else:
            listing = _cached_listing(repo_id, revision, cache)
            cached = None
            if listing is not None:
                try:
                    fmt, *names = detect_format(listing[1], repo_id)
                    cached = _cached_files(repo_id, revision, names, cache)
                    known = tuple(names)
                except ModelNotFoundError:
                    cached = None
        if cached is not None:
            say(f"{label}: found in the cache ({cache})")
            result = ModelFiles(label, fmt, cached[known[0]], cached[known[1]], repo_id, revision,
                                _cached_commit(repo_id, revision, cache), from_cache=True)
            _verify(entry, result, label, known)
            return result

    if local_files_only or _offline():
        why = "HF_HUB_OFFLINE is set" if _offline() else "local_files_only=True"
        raise HubUnavailable(f"model {label!r} ({repo_id}@{revision}): not in the local cache ({cache}) and the Hub "
                             f"is offline ({why}). Unset HF_HUB_OFFLINE and connect once to download it, "
                             f"or {_offline_advice(label)}")

    say(f"{label}: asking {endpoint} for {repo_id}@{revision}")
    commit, remote = _repo_info(repo_id, revision, label, endpoint, token, timeout)
    if known:
        absent = [f for f in known if f not in remote]
        if absent:
            raise ModelNotFoundError(f"model {label!r}: {repo_id}@{revision} has no {', '.join(absent)} "
                                     f"(it has: {', '.join(sorted(remote)[:20]) or 'no files'})")
    else:
        fmt, *names = detect_format(remote, f"{repo_id}@{revision}")
        known = tuple(check_filename(n, repo_id) for n in names)
    paths = []
    for filename in known:
        say(f"{label}: downloading {filename} from {repo_id}@{revision}")
        paths.append(_download(repo_id, filename, revision, label, endpoint=endpoint, token=token, timeout=timeout,
                               cache_dir=cache, force=force_download))
    result = ModelFiles(label, fmt, paths[0], paths[1], repo_id, revision, commit)
    _verify(entry, result, label, known)
    return result


def _verify(entry: ModelEntry | None, files: ModelFiles, label: str, known) -> None:
    if entry is None or not entry.sha256:
        return
    for filename, path in zip(known, (files.config, files.weights)):
        if filename in entry.sha256:
            verify_sha256(path, entry.sha256[filename], label, filename)


def from_pretrained(name_or_path: str | os.PathLike, revision: str | None = None, device=None, dtype=None,
                    **kwargs) -> nn.Module:
    """Load a model by registry name, Hub repo id or local directory, in eval mode on `device`
    (default: CUDA, then MPS, then CPU), cast to `dtype` ("fp16", torch.float16, ...) if given.
    Keyword arguments go to `resolve` (registry, config_file, weights_file, cache_dir, endpoint, token,
    timeout, local_files_only, force_download, progress)."""
    files = resolve(name_or_path, revision, **kwargs)
    progress = kwargs.get("progress")
    if progress:
        progress(f"{files.name}: loading {files.weights.name}")
    return files.load(device=device, dtype=dtype)
