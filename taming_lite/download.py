"""Direct downloads beside the Hub: the registry entries whose files are plain URLs (the paper's
released checkpoints), into one cache folder.

    config, weights, cached = resolve_entry(entry, progress=print)

Cache: $TAMING_LITE_CACHE, default `<HF home>/taming_lite` (HF_HOME; else, on a Space with persistent
storage, /data/.huggingface; else ~/.cache/huggingface), one folder per registry name holding the
entry's two files and `sha256.json`.

Sources (`entry.sources`): the entry's own links first, then its mirrors; each is sent with its own
request headers (a share host that answers 400 without its share page as Referer). Redirects are
followed (at most MAX_REDIRECTS) and counted in the status. When a source fails for a file (dead,
HTML page, unreachable, or bytes unlike the pinned sha256), the next one is tried; when all fail,
the error names every source and what it answered. A sha256 is pinned by the registry (`sha256`) or
published by the host itself: a Hub mirror's `X-Linked-Etag` (the LFS sha256), read from the redirect. A download goes to
`<file>.part` and is renamed when complete; an interrupted one resumes from the `.part` file with an
HTTP Range request (a server that ignores it sends the whole file again), from the same link only
(`<file>.part.url` says which; another source starts again from zero). Before a download the free
disk is checked against the announced size. A link that answers 404 or another error, or an HTML
page instead of a file (a landing page, a login or a "file not found" page served with status 200),
is reported with the URL and the entry's landing page. The file's sha256 is recorded on its first
download (and must equal the registry's, if it gives one) and checked on every load: a file changed
since is refused. With HF_HUB_OFFLINE=1 (the Hub's offline rule) only cached files are used.
Progress: a tqdm bar on stderr, and `progress(message)` callbacks (the app's status line) at most
every PROGRESS_EVERY_S seconds.

Archives: an entry whose two links are members of one zip (`<zip URL>#<path in the zip>`, e.g. the cin
transformer's log folder `...cin_transformer.zip?path=%2F#checkpoints/last.ckpt`) downloads the zip once
(the same `.part` resume), unpacks the two members into the entry's folder (`unpack_archive`) and deletes
the zip; the unpacked files are then verified like any other download.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__
from .registry import (HubUnavailable, ModelEntry, ModelNotFoundError, Source, check_filename,
                       env_flag, hf_home, space_storage)

CACHE_ENV = "TAMING_LITE_CACHE"
MANIFEST = "sha256.json"
CHUNK = 1 << 20
PROGRESS_EVERY_S = 0.5
FREE_MARGIN = 200_000_000  # bytes left free after a download
DEFAULT_TIMEOUT = 20.0     # seconds without an answer (connect, or between chunks)
MAX_REDIRECTS = 10         # as urllib's default; heibox answers one 302, the Hub one to its CDN
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<?xml", b"<body")


class DownloadError(ModelNotFoundError):
    """A link that does not give the file: dead, an HTML page, too big for the disk, or a changed file."""


class NotEnoughDisk(DownloadError):
    """The file does not fit on the cache's disk: no other source can help."""


def cache_dir() -> Path:
    """$TAMING_LITE_CACHE, else <HF home>/taming_lite (read at each call; see registry.hf_home)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return hf_home() / "taming_lite"


def entry_folder(entry: ModelEntry) -> Path:
    return cache_dir() / check_filename(entry.name, "registry name")


def cached_entry_files(entry: ModelEntry) -> tuple[Path, Path] | None:
    """(config, weights) if both are downloaded, else None. No network, no hashing."""
    folder = entry_folder(entry)
    paths = tuple(folder / entry.files[k] for k in ("config", "weights"))
    return paths if all(p.is_file() for p in paths) else None


def sha256_of(path: Path):
    """A sha256 hash object fed with the file's bytes (read in 4 MB blocks); more bytes can follow."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest


def sha256_file(path: Path) -> str:
    """The file's sha256 as 64 hex digits."""
    return sha256_of(path).hexdigest()


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_manifest(folder: Path, data: dict) -> None:
    tmp = folder / (MANIFEST + ".part")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, folder / MANIFEST)


def resolve_entry(entry: ModelEntry, progress: Callable[[str], None] | None = None, force: bool = False,
                  timeout: float | None = None) -> tuple[Path, Path, bool]:
    """Download (or find in the cache) a URL entry's two files and verify them: -> (config, weights, from_cache).

    Raises HubUnavailable (offline, unreachable: the partial file is kept for a resume), DownloadError
    (dead link, HTML page, disk full, a file changed since its first download or unlike the registry's
    sha256); with several sources, only once every source has failed."""
    say = progress or (lambda message: None)
    folder = entry_folder(entry)
    paths = {k: folder / entry.files[k] for k in ("config", "weights")}
    from_cache = all(p.is_file() for p in paths.values()) and not force
    if archive_url(entry) and not from_cache:  # both files come out of one zip: see fetch_archive
        fetch_archive(entry, paths, say, timeout=timeout, force=force)
    digests: dict[str, str] = {}
    for key in ("config", "weights"):  # the small config first: a dead link is found before gigabytes
        path = paths[key]
        if path.is_file() and not force:
            continue
        if env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE"):
            raise HubUnavailable(f"model {entry.name!r}: {path.name} is not in the cache ({folder}) and downloads are "
                                 f"off (HF_HUB_OFFLINE is set). Unset it to download from {entry.urls[key]}")
        folder.mkdir(parents=True, exist_ok=True)
        if key == "weights":
            note = storage_note(entry, folder)
            if note:
                say(note)
        got, source = fetch_from_sources(entry, key, path, say, timeout=timeout, force=force)
        digests[path.name] = got.sha256
        manifest = _manifest(folder)
        manifest[path.name] = {"sha256": got.sha256, "url": source.urls[key], "source": source.name,
                               "bytes": path.stat().st_size, "redirects": got.redirects}
        _write_manifest(folder, manifest)
    verify_entry(entry, paths, say, digests)
    return paths["config"], paths["weights"], from_cache


def fetch_from_sources(entry: ModelEntry, key: str, dest: Path, say, timeout=None, force=False) -> tuple["Fetched", Source]:
    """One file of the entry from its first source that gives it (with the expected sha256, when one is
    pinned or published): -> (what was fetched, the source). Raises when none does, naming each."""
    pinned = entry.sha256.get(entry.files[key])
    tried: list[tuple[Source, Exception]] = []
    for i, source in enumerate(entry.sources):
        if i:
            say(f"{entry.name}: trying {source.label(key)} for {dest.name}")
        try:
            got = fetch(source.urls[key], dest, name=entry.name, landing_page=entry.landing_page, progress=say,
                        timeout=timeout, expect_checkpoint=key == "weights", force=force, headers=source.headers)
            check_digest(got, pinned, source.urls[key], entry.name)
            return got, source
        except NotEnoughDisk:
            raise  # no other source fits on this disk either
        except (DownloadError, HubUnavailable) as e:
            tried.append((source, e))
            if len(entry.sources) > 1:
                say(f"{entry.name}: {source.label(key)} did not give {dest.name}: {_short(e)}")
    if len(tried) == 1:
        raise tried[0][1]
    lines = "\n".join(f"- {s.label(key)}, {s.urls[key]}: {_short(e)}" for s, e in tried)
    kind = DownloadError if any(isinstance(e, DownloadError) for _, e in tried) else HubUnavailable
    raise kind(f"model {entry.name!r}: no source gave {dest.name}; tried, in order:\n{lines}\nLinks to the released "
               f"checkpoints move: see the landing page {entry.landing_page or '(none given)'} and update "
               f"weights/registry.json, or try again later if a host was only unreachable")


def check_digest(got: "Fetched", pinned: str | None, url: str, name: str) -> None:
    """Refuse (and delete) a fetched file unlike the sha256 the registry pins or the host publishes."""
    for expected, who in ((pinned, "the registry pins"), (got.published_sha256, "the host publishes")):
        if expected and got.sha256 != expected:
            got.path.unlink(missing_ok=True)
            raise DownloadError(f"model {name!r}: the bytes from {url} have sha256 {got.sha256}, {who} {expected}; "
                                f"refused (not kept)")


def storage_note(entry: ModelEntry, folder: Path) -> str:
    """What a large download means for this disk: where it goes, the free space, whether it survives a
    Space's restart. '' for a small entry on a machine that is not a Space."""
    on_space = bool(os.environ.get("SPACE_ID"))
    if not entry.is_large and not on_space:
        return ""
    free = shutil.disk_usage(_existing(folder)).free
    size = f"~{entry.size_gb:g} GB (estimate)" if entry.size_gb else "its files"
    text = f"{entry.name}: {size} into {folder}, {free / 1e9:.1f} GB free there"
    storage = space_storage()
    if storage is not None and _under(folder, storage):
        text += "; on the Space's persistent storage (/data): kept across restarts"
    elif on_space and storage is None:
        text += ("; this Space has no persistent storage, so the download is lost at each restart (add storage "
                 "in the Space's settings: the cache then moves to /data)")
    if entry.size_gb and free < entry.size_gb * 1e9 + FREE_MARGIN:
        text += f"; that may not be enough: free some space or set {CACHE_ENV} to a larger disk"
    return text


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _short(e: Exception) -> str:
    """An error's message without the model name in front."""
    text = str(e)
    return text.split(": ", 1)[1] if text.startswith("model '") and ": " in text else text


def verify_entry(entry: ModelEntry, paths: dict[str, Path], say=lambda m: None, digests: dict | None = None) -> None:
    """Record each file's sha256 on its first use, check it on every later one (and against the registry).
    `digests`: {file name: sha256} already computed while downloading (not hashed again)."""
    folder = paths["weights"].parent
    manifest = _manifest(folder)
    changed = False
    for key, path in paths.items():
        digest = (digests or {}).get(path.name)
        if digest is None:
            if path.stat().st_size > 50_000_000:
                say(f"{entry.name}: checking the sha256 of {path.name} ({path.stat().st_size / 1e9:.2f} GB)")
            digest = sha256_file(path)
        expected = entry.sha256.get(entry.files[key])
        if expected and digest != expected:
            raise DownloadError(f"model {entry.name!r}: {path} has sha256 {digest}, the registry expects {expected}; "
                                f"refused. Delete {folder} to download it again from {entry.urls[key]}, or fix "
                                f"the registry (landing page: {entry.landing_page or 'none given'})")
        recorded = manifest.get(path.name, {}).get("sha256") if isinstance(manifest.get(path.name), dict) else None
        if recorded is None:
            manifest[path.name] = {"sha256": digest, "url": entry.urls[key], "bytes": path.stat().st_size}
            changed = True
        elif recorded != digest:
            raise DownloadError(f"model {entry.name!r}: {path} changed since it was downloaded (sha256 {digest}, "
                                f"recorded {recorded}); refused. Delete {folder} to download it again")
    if changed:
        _write_manifest(folder, manifest)


def _dead(url: str, name: str, landing_page: str, why: str) -> DownloadError:
    return DownloadError(f"model {name!r}: the download link {url} {why}. Links to the released checkpoints move; "
                         f"see the landing page {landing_page or '(none given)'} for the current one and update "
                         f"weights/registry.json")


@dataclass
class Fetched:
    """A downloaded file: where, its sha256 (computed while writing), the redirects followed on the way,
    and the sha256 the host published for it (a Hub file's X-Linked-Etag), if any."""

    path: Path
    sha256: str
    redirects: int = 0
    published_sha256: str | None = None


class _CountingRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling (the request headers are kept), recording each hop."""

    max_redirections = MAX_REDIRECTS

    def __init__(self):
        self.hops: list[tuple[int, str, dict]] = []  # (status, new URL, the redirect's headers)

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.hops.append((code, newurl, dict(headers.items())))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _published_sha256(*header_sets) -> str | None:
    """The LFS sha256 a Hub answer names in X-Linked-Etag (on its redirect to the CDN), if any."""
    for headers in header_sets:
        value = {k.lower(): v for k, v in headers.items()}.get("x-linked-etag", "").strip().strip('"').lower()
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value
    return None


def fetch(url: str, dest: Path, *, name: str = "", landing_page: str = "", progress=None,
          timeout: float | None = None, expect_checkpoint: bool = False, force: bool = False,
          headers: dict | None = None) -> Fetched:
    """Download `url` to `dest` through `dest.part` (resuming a partial file of the same URL), with the
    extra request `headers`, following redirects. See the module docstring."""
    say = progress or (lambda message: None)
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    part = dest.with_name(dest.name + ".part")
    part_url = dest.with_name(dest.name + ".part.url")
    if force or (part.is_file() and (part_url.read_text() if part_url.is_file() else url) != url):
        part.unlink(missing_ok=True)  # asked to, or the partial file came from another link
    have = part.stat().st_size if part.is_file() else 0
    request_headers = {"User-Agent": f"taming-lite/{__version__}", "Accept": "*/*", **(headers or {})}
    if have:
        request_headers["Range"] = f"bytes={have}-"
    redirects = _CountingRedirects()
    opener = urllib.request.build_opener(redirects)
    try:
        response = opener.open(urllib.request.Request(url, headers=request_headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the partial file is not a prefix the server knows: start again
            part.unlink()
            return fetch(url, dest, name=name, landing_page=landing_page, progress=progress, timeout=timeout,
                         expect_checkpoint=expect_checkpoint, headers=headers)
        if e.code >= 500 or e.code == 429:
            raise HubUnavailable(f"model {name!r}: {url} answered HTTP {e.code} ({e.reason}); the server is failing "
                                 f"or busy. Try again later") from None
        if 300 <= e.code < 400:
            raise _dead(url, name, landing_page, f"redirected more than {MAX_REDIRECTS} times (HTTP {e.code})") from None
        hint = ""
        if e.code in (400, 401, 403) and "Referer" not in (headers or {}):
            hint = " (a share host may want its share page as Referer: the registry entry's 'headers')"
        raise _dead(url, name, landing_page, f"answered HTTP {e.code} ({e.reason}){hint}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise HubUnavailable(f"model {name!r}: {url} is unreachable ({reason}); the host is offline or unreachable "
                             f"from here. Set HF_HUB_OFFLINE=1 to use only the cache, or try again later") from None
    with response:
        published = _published_sha256(*[h for _, _, h in redirects.hops], response.headers)
        resumed = response.status == 206
        if have and not resumed:
            have = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = have + remaining if remaining is not None else None
        first = response.read(CHUNK)
        if "html" in (response.headers.get("Content-Type") or "").lower() or (
                not resumed and first.lstrip()[:16].lower().startswith(_HTML_STARTS)):
            raise _dead(url, name, landing_page, "gave an HTML page, not the file (a landing page, a login or "
                                                  "an error page)")
        if expect_checkpoint and not resumed and not first.startswith((b"PK\x03\x04", b"\x80")):
            raise _dead(url, name, landing_page, "did not give a PyTorch checkpoint (the file starts with "
                                                  f"{first[:16]!r})")
        if remaining is not None:
            free = shutil.disk_usage(dest.parent).free
            if free < remaining + FREE_MARGIN:
                raise NotEnoughDisk(f"model {name!r}: {dest.name} needs {remaining / 1e9:.2f} GB but "
                                    f"{dest.parent} has {free / 1e9:.2f} GB free; free some space or set "
                                    f"{CACHE_ENV} to a folder on a larger disk")
        from tqdm.auto import tqdm

        digest = sha256_of(part) if resumed else hashlib.sha256()  # the bytes already there count in the digest
        done = have
        host = urllib.parse.urlsplit(url).netloc
        what = f"{name}: downloading {dest.name}" + (f" (resuming at {have / 1e6:.1f} MB)" if resumed else "")
        hops = len(redirects.hops)
        via = (f" from {host}" + (f", {hops} redirect{'s' * (hops > 1)} to {urllib.parse.urlsplit(response.url).netloc}"
                                  if hops else ""))
        say(what + via)
        part_url.write_text(url)
        last = time.monotonic()
        with open(part, "ab" if resumed else "wb") as f, tqdm(total=total, initial=done, unit="B", unit_scale=True,
                                                               desc=dest.name, leave=False) as bar:
            chunk = first
            while chunk:
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                bar.update(len(chunk))
                if time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    say(f"{what} · {_mb(done, total)}")
                try:
                    chunk = response.read(CHUNK)
                except (socket.timeout, TimeoutError, OSError) as e:
                    raise HubUnavailable(f"model {name!r}: the download of {url} stopped at {done / 1e6:.1f} MB "
                                         f"({e}); the partial file is kept: try again to resume") from None
    if total is not None and done != total:
        raise HubUnavailable(f"model {name!r}: the download of {url} ended at {done} of {total} bytes; the partial "
                             f"file is kept: try again to resume")
    os.replace(part, dest)
    part_url.unlink(missing_ok=True)
    say(f"{name}: downloaded {dest.name} ({done / 1e6:.1f} MB)")
    return Fetched(dest, digest.hexdigest(), hops, published)


def _mb(done: int, total: int | None) -> str:
    return f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"


# --------------------------------------------------------------------------- archives (a zip of a log folder)


def archive_member(url: str) -> tuple[str, str] | None:
    """'https://host/x.zip?q#checkpoints/last.ckpt' -> ('https://host/x.zip?q', 'checkpoints/last.ckpt');
    None for a plain link (no '#')."""
    link, sep, member = url.partition("#")
    return (link, check_filename(member, "archive member")) if sep else None


def archive_url(entry: ModelEntry) -> str | None:
    """The zip both files of the entry come from, or None (plain links). Both or neither must be members."""
    parts = [archive_member(entry.urls[k]) for k in ("config", "weights")] if entry.urls else [None, None]
    if parts == [None, None]:
        return None
    if None in parts or parts[0][0] != parts[1][0]:
        raise DownloadError(f"model {entry.name!r}: 'urls' must be two plain links or two members of one archive "
                            f"('<zip URL>#<path in the zip>'); fix weights/registry.json")
    return parts[0][0]


def fetch_archive(entry: ModelEntry, paths: dict[str, Path], say=lambda m: None, timeout: float | None = None,
                  force: bool = False) -> None:
    """Download the entry's zip into its folder (resuming a partial one), unpack its two members to
    `paths`, delete the zip."""
    url = archive_url(entry)
    folder = paths["weights"].parent
    if env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE"):
        raise HubUnavailable(f"model {entry.name!r}: its files are not in the cache ({folder}) and downloads are "
                             f"off (HF_HUB_OFFLINE is set). Unset it to download the zip {url}")
    folder.mkdir(parents=True, exist_ok=True)
    zip_path = folder / check_filename(Path(urllib.parse.urlsplit(url).path).name or "archive.zip", "archive name")
    if force or not zip_path.is_file():
        fetch(url, zip_path, name=entry.name, landing_page=entry.landing_page, progress=say, timeout=timeout,
              expect_checkpoint=True, force=force, headers=entry.headers)  # a zip starts like a zip checkpoint: PK\x03\x04
    members = {k: archive_member(entry.urls[k])[1] for k in paths}
    unpack_archive(zip_path, {members[k]: paths[k] for k in paths}, name=entry.name, say=say)
    manifest = _manifest(folder)
    for path in paths.values():
        manifest.pop(path.name, None)  # new files: their digests are recorded by verify_entry
    _write_manifest(folder, manifest)
    zip_path.unlink()


def unpack_archive(zip_path: Path, wanted: dict[str, Path], name: str = "", say=lambda m: None) -> None:
    """Extract zip members to files: {member: destination}. A member matches a zip entry with that path or
    ending in '/<member>' (so a top folder, such as the log folder's name, may come first); none or several
    matches, a member that is not a plain file, or too little free disk is a DownloadError. Each file is
    written to `<dest>.part` and renamed when complete."""
    import zipfile

    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        zip_path.unlink(missing_ok=True)
        raise DownloadError(f"model {name!r}: {zip_path.name} is not a readable zip ({e}); it was deleted, try again "
                            f"to download it anew") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for member, dest in wanted.items():
            found = [i for i in infos if i.filename == member or i.filename.endswith("/" + member)]
            if len(found) != 1:
                shown = ", ".join(i.filename for i in infos[:10]) or "no files"
                raise DownloadError(f"model {name!r}: {zip_path.name} has {len(found)} files matching {member!r} "
                                    f"(expected one; it has: {shown}); fix the member in weights/registry.json")
            info = found[0]
            free = shutil.disk_usage(dest.parent).free
            if free < info.file_size + FREE_MARGIN:
                raise DownloadError(f"model {name!r}: unpacking {member} needs {info.file_size / 1e9:.2f} GB but "
                                    f"{dest.parent} has {free / 1e9:.2f} GB free; free some space or set {CACHE_ENV} "
                                    f"to a folder on a larger disk (the zip is kept: no new download is needed)")
            say(f"{name}: unpacking {info.filename} from {zip_path.name} ({info.file_size / 1e6:.1f} MB)")
            part = dest.with_name(dest.name + ".part")
            with zf.open(info) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(part, dest)
