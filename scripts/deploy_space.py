"""Deploy the app to a Hugging Face Space in one command, with the files the app needs.

    python -m scripts.deploy_space --dry-run                  # offline: what would be uploaded, sizes, storage
    python -m scripts.deploy_space --repo-id you/taming-lite  # create the Space if needed, upload, print its URL

A `git push` of this repository to a Space is refused: the Hub takes files over 10 MB only through
its large-file storage (LFS/Xet), and our safetensors (13-19 MB) sit in plain git. The upload goes
through `huggingface_hub.HfApi.upload_folder(repo_type="space")`, which asks the Hub for each file's
upload mode and sends large and binary files through LFS/Xet itself. Files that were uploaded before
and are no longer in the list are deleted in the same commit (`delete_patterns="*"`).

What goes up (`space_files`): the files git tracks (so nothing untracked: no runs/, caches, .venv),
minus what the app never reads (EXCLUDE): tests/ (test code and 22 MB of fixtures: the original
implementation's reference outputs), notebooks/ (13 MB of committed outputs, read by no tab),
benchmarks/, scripts/ and configs/ (run from a checkout, not by the app), CI files and the dev
requirements. Kept: app.py, demos/, taming_lite/, weights/ (the embedded models and the registry),
docs/ (the About tab and the README link to it), README.md (the Space's configuration, checked here
first against the Hub's documented fields: `check_front_matter`), requirements.txt (the Space
installs it) and pyproject.toml.

Storage column of the dry run (`storage_of`), the rule the Hub documents: files over 10 MB, or
whose extension is in the repo's .gitattributes (a new repo's default list: DEFAULT_LFS_SUFFIXES),
go through LFS/Xet, and so do binary files (the Hub decides from the first 512 bytes it is sent);
the Hub has the last word at upload time.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXCLUDE = ["tests/*", "notebooks/*", "benchmarks/*", "scripts/*", "configs/*", ".ci/*", ".github/*",
           "requirements-dev.txt", ".gitignore",
           # never, even if tracked by mistake: caches, training runs, partial downloads
           "*__pycache__*", "*.pyc", "runs/*", ".pytest_cache/*", "*.part", ".ipynb_checkpoints/*"]
LFS_BYTES = 10 * 1000 * 1000  # "larger than 10MB" (the Hub's storage docs); MB, the stricter reading
SAMPLE_BYTES = 512            # what huggingface_hub sends the Hub to decide a file's upload mode
# the extensions a new Hub repo's .gitattributes sends through LFS (the Hub's default file)
DEFAULT_LFS_SUFFIXES = (".7z", ".arrow", ".bin", ".bz2", ".ckpt", ".ftz", ".gz", ".h5", ".joblib", ".mlmodel",
                        ".model", ".msgpack", ".npy", ".npz", ".onnx", ".ot", ".parquet", ".pb", ".pickle", ".pkl",
                        ".pt", ".pth", ".rar", ".safetensors", ".tar", ".tflite", ".tgz", ".wasm", ".xz", ".zip",
                        ".zst")

# README front matter of a Space: https://huggingface.co/docs/hub/spaces-config-reference
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
SDKS = ("gradio", "streamlit", "docker", "static")
SHORT_DESCRIPTION_MAX = 60
KNOWN_KEYS = {"title", "emoji", "colorFrom", "colorTo", "sdk", "python_version", "sdk_version", "suggested_hardware",
              "suggested_storage", "app_file", "app_port", "base_path", "fullWidth", "header", "models", "datasets",
              "tags", "pinned", "hf_oauth", "hf_oauth_scopes", "hf_oauth_expiration_minutes", "hf_oauth_redirect_path",
              "disable_embedding", "startup_duration_timeout", "custom_headers", "preload_from_hub", "license",
              "short_description", "thumbnail"}


@dataclass(frozen=True)
class SpaceFile:
    path: str      # relative, with '/'
    bytes: int
    storage: str   # "git", "LFS/Xet (over 10 MB)", "LFS/Xet (binary)"


def tracked_files(root: Path) -> list[str]:
    """The files git tracks under `root` (sorted); every file under it when it is not a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.SubprocessError):
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(n for n in names if (root / n).is_file())


def excluded(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in EXCLUDE)


def storage_of(path: Path) -> str:
    size = path.stat().st_size
    if size > LFS_BYTES:
        return "LFS/Xet (over 10 MB)"
    if path.suffix.lower() in DEFAULT_LFS_SUFFIXES:
        return "LFS/Xet (binary)"
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    try:
        sample.decode("utf-8")
        binary = b"\0" in sample
    except UnicodeDecodeError as e:
        binary = e.start < len(sample) - 4  # not a multi-byte character cut at the sample's end
    return "LFS/Xet (binary)" if binary else "git"


def space_files(root: Path = REPO) -> list[SpaceFile]:
    """What the Space gets: tracked files minus EXCLUDE, each with its size and predicted storage."""
    return [SpaceFile(n, (root / n).stat().st_size, storage_of(root / n))
            for n in tracked_files(root) if not excluded(n)]


def upload_patterns(files: list[SpaceFile]) -> list[str]:
    """`allow_patterns` for upload_folder that select exactly these files (glob characters escaped)."""
    return [glob.escape(f.path) for f in files]


# --------------------------------------------------------------------------- the README's Space configuration


def front_matter(readme: str) -> dict:
    """The YAML block at the top of README.md ({} if there is none)."""
    import yaml

    m = re.match(r"^---\n(.*?)\n---\n", readme, re.S)
    data = yaml.safe_load(m.group(1)) if m else None
    return data if isinstance(data, dict) else {}


def check_front_matter(readme: str, files: list[str], requirements: str = "") -> list[str]:
    """Problems of a Space README's configuration against the Hub's documented fields ([] = fine)."""
    meta = front_matter(readme)
    if not meta:
        return ["README.md has no YAML front matter (--- ... ---): the Hub cannot configure the Space"]
    problems = [f"unknown field {k!r} (not in the Spaces configuration reference)" for k in meta if k not in KNOWN_KEYS]

    def want(key, ok, what):
        if key in meta and not ok(meta[key]):
            problems.append(f"{key}: {meta[key]!r} is not {what}")

    for key in ("title", "sdk"):
        if key not in meta:
            problems.append(f"{key} is missing")
    want("title", lambda v: isinstance(v, str) and v.strip(), "a non-empty string")
    want("emoji", lambda v: isinstance(v, str) and 0 < len(v) <= 4 and not any(c.isascii() for c in v),
         "a single emoji")
    for key in ("colorFrom", "colorTo"):
        want(key, lambda v: v in COLORS, f"one of {', '.join(COLORS)}")
    want("sdk", lambda v: v in SDKS, f"one of {', '.join(SDKS)}")
    want("sdk_version", lambda v: isinstance(v, str) and re.fullmatch(r"\d+\.\d+\.\d+", v), "a version string x.y.z")
    want("python_version", lambda v: isinstance(v, str) and re.fullmatch(r"3\.\d+(\.\d+)?", v),
         'a quoted Python 3.x or 3.x.x version (unquoted, YAML reads 3.10 as 3.1)')
    want("app_file", lambda v: isinstance(v, str) and v in files, "a file that is uploaded")
    for key in ("pinned", "fullWidth", "disable_embedding", "hf_oauth"):
        want(key, lambda v: isinstance(v, bool), "true or false")
    want("license", lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", v), "a Hub license id")
    want("short_description", lambda v: isinstance(v, str) and 0 < len(v) <= SHORT_DESCRIPTION_MAX,
         f"a string of at most {SHORT_DESCRIPTION_MAX} characters")
    want("tags", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v), "a list of strings")
    if meta.get("sdk") == "gradio" and "app_file" not in meta and "app.py" not in files:
        problems.append("app_file is missing and there is no app.py")
    if meta.get("sdk") == "gradio" and isinstance(meta.get("sdk_version"), str):
        spec = next((line.split("#")[0].strip()[len("gradio"):] for line in requirements.splitlines()
                     if re.match(r"gradio\s*[<>=!~]", line)), "")
        if spec:
            from packaging.specifiers import SpecifierSet

            if meta["sdk_version"] not in SpecifierSet(spec):
                problems.append(f"sdk_version {meta['sdk_version']} is outside requirements.txt's gradio{spec}")
    return problems


# --------------------------------------------------------------------------- the command


def describe(files: list[SpaceFile]) -> str:
    lines = [f"{'bytes':>12}  {'storage':<22}  path"]
    lines += [f"{f.bytes:>12,}  {f.storage:<22}  {f.path}" for f in files]
    lfs = [f for f in files if f.storage != "git"]
    lines.append(f"{len(files)} files, {sum(f.bytes for f in files) / 1e6:.1f} MB; {len(lfs)} through LFS/Xet "
                 f"({sum(f.bytes for f in lfs) / 1e6:.1f} MB), {len(files) - len(lfs)} in git")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo-id", help="the Space, user/name (created as a Gradio Space if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; no network")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--token", default=None, help="a Hub write token (default: HF_TOKEN or `hf auth login`)")
    p.add_argument("--message", default="Deploy taming-lite (scripts/deploy_space.py)")
    p.add_argument("--root", default=str(REPO), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    root = Path(args.root)
    files = space_files(root)
    names = [f.path for f in files]
    problems = check_front_matter((root / "README.md").read_text(encoding="utf-8"), names,
                                  (root / "requirements.txt").read_text(encoding="utf-8"))
    print(describe(files))
    if problems:
        print("README.md front matter:\n" + "\n".join(f"- {x}" for x in problems), file=sys.stderr)
        return 1
    print("README.md front matter: valid for a Space")
    if args.dry_run:
        return 0
    if not args.repo_id:
        p.error("--repo-id is required to upload (or pass --dry-run)")
    from huggingface_hub import HfApi

    api = HfApi(token=args.token or os.environ.get("HF_TOKEN") or None)
    api.create_repo(args.repo_id, repo_type="space", space_sdk="gradio", private=args.private, exist_ok=True)
    info = api.upload_folder(repo_id=args.repo_id, repo_type="space", folder_path=str(root),
                             allow_patterns=upload_patterns(files), delete_patterns="*", commit_message=args.message)
    print(f"uploaded {len(files)} files: {getattr(info, 'commit_url', info)}\n"
          f"the Space: https://huggingface.co/spaces/{args.repo_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
