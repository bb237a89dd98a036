"""Models by name: the registry in weights/registry.json, the Hugging Face Hub, the local cache.

    from taming_lite.hub import from_pretrained, list_models
    model = from_pretrained("depth")                        # a registry name (embedded weights in weights/)
    model = from_pretrained("vqgan_f16_16384")              # a registry name for a Hub checkpoint
    model = from_pretrained("user/repo", revision="v1")     # any Hub repo in our format or the original one
    model = from_pretrained("path/to/dir", device="cpu")    # a local directory

Resolution of `from_pretrained(x)`, in order: an existing local directory; a name in the registry
(weights/registry.json, read by taming_lite.registry: embedded weights, a Hub repo, or direct
download links, fetched by taming_lite.download into its own cache); a registry entry whose
`repo_id` is `x`; any other `user/repo` id, whose format is detected from its file list
(config.json + model.safetensors = ours; config.yaml + model.ckpt, or one *.yaml and one *.ckpt =
the original taming format). For a task, `taming_lite.pipeline.Pipeline.from_pretrained` wraps this.

Hub downloads go through `huggingface_hub.hf_hub_download` into the standard HF cache, which is read
with `try_to_load_from_cache` / `scan_cache_dir` and whose errors are told apart by their classes. The
environment is read at each call (huggingface_hub reads it once, at import): HF_ENDPOINT,
HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE, HF_TOKEN. The cache is consulted first: a model that is in
the cache for the asked revision loads with no request at all (pass `force_download=True` to fetch
again). Otherwise one short request (`GET /api/models/{repo}/revision/{rev}`, `timeout` seconds,
default 5, env TAMING_LITE_HUB_TIMEOUT) checks that the Hub answers and lists the repo's files
before any download starts, so an offline or unreachable Hub is reported within seconds as
`HubUnavailable` (huggingface_hub alone retries for ~23 s, and longer where traffic is dropped).
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from . import __version__
from .checkpoints import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, load_original, load_pretrained
from .device import pick_device
from .registry import (REPO_ROOT, WEIGHTS_ENV, HubUnavailable, ModelEntry,  # noqa: F401 (re-exported)
                       ModelNotFoundError, check_filename, check_repo_id, check_revision, default_files, env_flag,
                       hf_home, list_models, load_registry, registry_path, space_storage, weights_dir)

TIMEOUT_ENV = "TAMING_LITE_HUB_TIMEOUT"      # seconds before the Hub counts as unreachable
DEFAULT_TIMEOUT = 5.0
DEFAULT_ENDPOINT = "https://huggingface.co"


# --------------------------------------------------------------------------- environment, read at each call


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
    return hf_home() / "hub"


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
    entry: ModelEntry | None = None  # the registry entry it was resolved from, if any
    url: str | None = None           # the weights' download link (URL registry entries)

    def load(self, device=None, dtype=None) -> nn.Module:
        """The model in eval mode on `device` (default: CUDA, then MPS, then CPU), cast to `dtype` if given."""
        device, dtype = pick_device(device), _dtype(dtype)
        if self.format == "taming_lite":
            return load_pretrained(self.config.parent, device=device, dtype=dtype)
        return load_original(self.config, self.weights, device=device, dtype=dtype)

    def describe(self) -> str:
        """Where it came from, in a few words (the app's model line)."""
        if self.repo_id:
            return f"{self.name} (Hub{', cached' if self.from_cache else ''})"
        if self.url:
            return f"{self.name} (download{', cached' if self.from_cache else ''})"
        return self.name

    @property
    def loaded_from(self) -> str:
        """"from disk", "downloaded", "from the HF cache" or "from the download cache" (the app's ready line)."""
        if self.from_cache:
            return "from the HF cache" if self.repo_id else "from the download cache"
        return "downloaded" if self.repo_id or self.url else "from disk"


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


def local_folder(directory: str | os.PathLike, name: str | None = None, config_file=None, weights_file=None) -> ModelFiles:
    """A folder on disk in either format: ours (config.json + model.safetensors) or the original
    (one *.yaml + one *.ckpt, also as the original's log folder: configs/*-project.yaml + checkpoints/last.ckpt)."""
    directory = Path(directory)
    name = name or str(directory)
    if config_file or weights_file:
        fmt = "taming_lite" if str(config_file or "").endswith(".json") else "original"
        cfg, wts = config_file or CONFIG_NAME, weights_file or WEIGHTS_NAME
    else:
        files = [str(p.relative_to(directory).as_posix()) for p in directory.rglob("*") if p.is_file()]
        fmt, cfg, wts = detect_format(files, str(directory))
    return ModelFiles(name, fmt, directory / cfg, directory / wts)


_local_dir = local_folder


def _hf_cached(repo_id: str, filename: str, revision: str, cache_dir: Path) -> Path | None:
    """The file's path in the HF cache for `revision`, or None (huggingface_hub.try_to_load_from_cache; no network)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir), revision=revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def cached_files(repo_id: str, revision: str, filenames: list[str], cache_dir=None) -> dict[str, Path] | None:
    """{file: path} if every file of `revision` is in the standard HF cache, else None. No network."""
    cache = _cache_dir(cache_dir)
    paths = {f: _hf_cached(repo_id, f, revision, cache) for f in filenames}
    return paths if all(p is not None for p in paths.values()) else None


_cached_files = cached_files


def available_offline(entry: ModelEntry, cache_dir=None) -> bool:
    """True if loading a registry entry needs no network: its embedded files exist, or its files are cached
    (a Hub entry's in the HF cache, `cache_dir` or the one in use; a URL entry's in the download cache)."""
    if entry.is_local:
        return all((entry.path / f).is_file() for f in default_files(entry.format).values())
    if entry.repo_id:
        return cached_files(entry.repo_id, entry.revision, list(entry.files.values()), cache_dir) is not None
    from .download import cached_entry_files

    return cached_entry_files(entry) is not None


def _commit_of(path: Path, filename: str) -> str:
    """The snapshot (commit) folder a cached file sits in: .../snapshots/<commit>/<filename>."""
    return path.parents[len(Path(filename).parts) - 1].name


def _cached_listing(repo_id: str, revision: str, cache_dir: Path) -> list[str] | None:
    """The file names cached for `revision` (to tell the format of a repo seen before), or None."""
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache_dir)
    except Exception:  # noqa: BLE001 - no cache folder yet, or one huggingface_hub cannot read: nothing cached
        return None
    for repo in info.repos:
        if repo.repo_id != repo_id or repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            if revision == rev.commit_hash or revision in rev.refs:
                return [f.file_path.relative_to(rev.snapshot_path).as_posix() for f in rev.files]
    return None


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


def _hf_errors(*names: str) -> tuple[type, ...]:
    """huggingface_hub's error classes by name, those this version has (RemoteEntryNotFoundError is 1.x)."""
    from huggingface_hub import errors

    return tuple(getattr(errors, n) for n in names if hasattr(errors, n))


def _download(repo_id: str, filename: str, revision: str, name: str, *, endpoint, token, timeout, cache_dir, force) -> Path:
    from huggingface_hub import hf_hub_download

    what = f"model {name!r} ({repo_id}@{revision}, file {filename})"
    offline = _hf_errors("LocalEntryNotFoundError", "OfflineModeIsEnabled")
    missing = _hf_errors("RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError", "GatedRepoError")
    failing = _hf_errors("HfHubHTTPError") + (OSError,)
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=str(cache_dir), endpoint=endpoint,
                                    token=token, etag_timeout=timeout, force_download=force))
    except offline:  # the network failed and the file is not in the cache (checked before the broader classes)
        raise HubUnavailable(f"{what}: the download from {endpoint} failed and the file is not in the cache; the "
                             f"Hub is offline or unreachable. Try again later, or {_offline_advice(name)}") from None
    except missing as e:
        raise ModelNotFoundError(f"{what}: not found or not accessible on {endpoint} ({type(e).__name__}); "
                                 f"check the name and revision, or set HF_TOKEN for a private or gated repo") from None
    except failing as e:  # HTTP errors, and httpx/requests transport errors (OSError subclasses in both)
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise HubUnavailable(f"{what}: the download from {endpoint} failed ({first}); the Hub is offline, "
                             f"unreachable or failing. Try again later, or {_offline_advice(name)}") from None
    except Exception as e:  # httpx transport errors are not OSErrors
        if type(e).__module__.split(".")[0] in ("httpx", "httpcore", "requests", "urllib3"):
            raise HubUnavailable(f"{what}: the download from {endpoint} failed ({type(e).__name__}); the Hub is "
                                 f"offline or unreachable. Try again later, or {_offline_advice(name)}") from None
        raise


def verify_sha256(path: Path, expected: str, name: str, filename: str) -> None:
    from .download import sha256_file

    digest = sha256_file(path)
    if digest != expected.lower():
        raise CheckpointError(
            f"model {name!r}: {filename} has sha256 {digest}, the registry expects {expected}; refused "
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
        return local_folder(Path(name), name, config_file, weights_file)

    # 2. a registry name, or a repo id that the registry knows
    entries = load_registry(registry)
    entry = entries.get(name) or next((e for e in entries.values() if e.repo_id == name), None)
    if entry is not None and entry.is_local:
        files = default_files(entry.format)
        missing = [f for f in files.values() if not (entry.path / f).is_file()]
        if missing:
            raise ModelNotFoundError(f"model {entry.name!r}: its embedded weights are not there yet: "
                                     f"{', '.join(str(entry.path / f) for f in missing)} missing. Train and save them "
                                     f"(see weights/README.md), or pick another model: {', '.join(entries)}")
        result = ModelFiles(entry.name, entry.format, entry.path / files["config"], entry.path / files["weights"],
                            entry=entry)
        _verify(entry, result, entry.name, (files["config"], files["weights"]))
        return result
    if entry is not None and entry.urls:  # direct download links (taming_lite.download)
        from .download import resolve_entry

        config, weights, cached = resolve_entry(entry, progress=say, force=force_download, timeout=timeout)
        return ModelFiles(entry.name, entry.format, config, weights, from_cache=cached, entry=entry,
                          url=entry.urls["weights"])
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
            cached = cached_files(repo_id, revision, list(known), cache)
        else:
            listing = _cached_listing(repo_id, revision, cache)
            cached = None
            if listing is not None:
                try:
                    fmt, *names = detect_format(listing, repo_id)
                    cached = cached_files(repo_id, revision, names, cache)
                    known = tuple(names)
                except ModelNotFoundError:
                    cached = None
        if cached is not None:
            say(f"{label}: found in the cache ({cache})")
            result = ModelFiles(label, fmt, cached[known[0]], cached[known[1]], repo_id, revision,
                                _commit_of(cached[known[0]], known[0]), from_cache=True, entry=entry)
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
    result = ModelFiles(label, fmt, paths[0], paths[1], repo_id, revision, commit, entry=entry)
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


# --------------------------------------------------------------------------- transformers models (optional)

TRANSFORMERS_PROCESSOR = "preprocessor_config.json"
TRANSFORMERS_WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # the first one the repo or folder has


class TransformersMissing(ImportError):
    """`transformers` is not installed; the message says how to install it."""


def require_transformers(what: str, install: str = "pip install 'transformers>=4.40'"):
    """The transformers module, or TransformersMissing saying that `what` needs it and how to install it."""
    try:
        import transformers
    except ImportError:
        raise TransformersMissing(f"{what} needs the optional `transformers` package, which is not installed "
                                  f"here: `{install}` (then restart the app)") from None
    return transformers


def transformers_available() -> bool:
    """Whether transformers is installed (found, not imported: importing it takes seconds)."""
    import importlib.util

    try:
        return importlib.util.find_spec("transformers") is not None
    except (ImportError, ValueError):  # a broken or stubbed-out module
        return False


def resolve_transformers(name_or_path: str, what: str, check: Callable[[Path], str | None],
                         files: tuple[str, ...] = (CONFIG_NAME, TRANSFORMERS_PROCESSOR),
                         progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """(folder holding a transformers model's files, where they came from) for a folder or a Hub repo
    id[@revision]: `files` plus one of TRANSFORMERS_WEIGHTS. A folder must pass `check` (None, or what is
    wrong with it); a repo's files go through `resolve`: the HF cache first (no request when cached), the
    offline rule, an unreachable Hub reported within seconds (HubUnavailable), missing files as
    ModelNotFoundError."""
    if Path(name_or_path).is_dir():
        folder = Path(name_or_path)
        problem = check(folder)
        if problem:
            raise ModelNotFoundError(f"{folder}: not {what} folder ({problem})")
        return folder, "from disk"
    repo, _, revision = str(name_or_path).partition("@")
    revision = revision or "main"
    check_repo_id(repo, f"{what} {name_or_path!r} (no such folder)")
    config, extra = files[0], files[1:]
    for weights in TRANSFORMERS_WEIGHTS:  # the repo may hold either weights file; the cache first, no request
        if cached_files(repo, revision, [*files, weights]) is not None:
            found = resolve(repo, revision, config_file=config, weights_file=weights, progress=progress)
            return found.config.parent, "from the HF cache"
    last: Exception | None = None
    for weights in TRANSFORMERS_WEIGHTS:
        try:
            found = resolve(repo, revision, config_file=config, weights_file=weights, progress=progress)
        except ModelNotFoundError as e:  # e.g. no model.safetensors in this repo: try the .bin
            last = e
            continue
        for name in extra:
            resolve(repo, revision, config_file=name, weights_file=weights, progress=progress)
        return found.config.parent, "from the HF cache" if found.from_cache else "downloaded"
    raise last

# --------------------------------------------------------------------------- a model's sizes, from its config file


def shape_of(config, extra: dict | None = None) -> dict:
    """A Net2Net config's sizes: window (tokens per side), in_stride, out_stride, image_size (output px of one
    window), sr_factor (output px per condition px); and what the tabs set up from the config alone:
    guidable (trained with condition dropout) and guidance (its default scale; 1 = off)."""
    fs = config.first_stage
    window = int((extra or {}).get("image_size") or fs.resolution) // fs.downsample_factor
    guidable = bool(getattr(config, "guidable", False))
    return dict(window=window, in_stride=fs.downsample_factor, out_stride=fs.upsample_factor,
                image_size=window * fs.upsample_factor,
                sr_factor=max(1, config.cond_factor) * fs.upsample_factor // fs.downsample_factor,
                guidable=guidable, guidance=float(config.guidance) if guidable else 1.0)


def model_shape(model_or_name) -> dict | None:
    """`shape_of` a model, or of a folder / registry name read from its config file only (no weights, no
    network: embedded, or already in the download or HF cache); None when the config is not on disk or is
    not a conditional transformer's."""
    from .checkpoints import CheckpointError, config_from_original, read_config, read_original_config
    from .net2net import Net2NetConfig

    if isinstance(model_or_name, torch.nn.Module):
        return shape_of(model_or_name.config)

    name = str(model_or_name)
    try:
        if Path(name).is_dir():
            files = local_folder(name)
            config_path, fmt = files.config, files.format
        else:
            entry = load_registry().get(name)
            if entry is None:
                return None
            if entry.is_local:
                config_path = entry.path / entry.files["config"]
            elif entry.urls:  # downloaded before: its config is in the download cache
                from .download import cached_entry_files

                cached = cached_entry_files(entry)
                config_path = cached[0] if cached else None
            else:  # a Hub entry in the HF cache
                cached = cached_files(entry.repo_id, entry.revision, [entry.files["config"]])
                config_path = cached[entry.files["config"]] if cached else None
            if config_path is None or not config_path.is_file():
                return None
            fmt = entry.format
        if fmt == "taming_lite":
            meta = read_config(config_path.parent)
            if meta["model_type"] != "net2net":
                return None
            return shape_of(Net2NetConfig(**meta["config"]), meta.get("extra"))
        kind, config = config_from_original(read_original_config(config_path), str(config_path))
        return shape_of(config) if kind == "net2net" else None
    except (CheckpointError, OSError, TypeError, ValueError):
        return None
