"""scripts/deploy_space.py, offline: the dry run's file list (sizes, what goes through LFS/Xet), that
upload_folder would send exactly that list, the README's Space configuration against the Hub's
documented fields, and that a copy of exactly those files starts the app on the embedded weights
with no network."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from scripts import deploy_space

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="module")
def files():
    return deploy_space.space_files(REPO)


def test_dry_run_lists_what_the_hub_would_store(files, capsys):
    assert deploy_space.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    names = {f.path: f for f in files}
    for needed in ("app.py", "requirements.txt", "README.md", "weights/registry.json", "demos/picker.py",
                   "taming_lite/hub.py", "weights/depth/config.json"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "benchmarks/", "scripts/", "runs/"))
                or "__pycache__" in n or n.endswith((".pyc", ".part"))]
    big = [f for f in files if f.bytes > 10_000_000]
    assert big and all(f.storage == "LFS/Xet (over 10 MB)" for f in big)  # the safetensors a git push would lose
    assert names["weights/vqgan_image/model.safetensors"].storage == "LFS/Xet (binary)"
    assert names["app.py"].storage == "git" and names["weights/registry.json"].storage == "git"
    assert all(f.storage != "git" for f in files if f.path.endswith((".png", ".safetensors")))
    assert f"{names['weights/depth/model.safetensors'].bytes:,}" in out
    assert f"{len(files)} files, " in out and "through LFS/Xet" in out and "front matter: valid" in out
    assert sum(f.bytes for f in files) < 150e6


def test_upload_folder_selects_exactly_the_listed_files(files):
    """huggingface_hub's own filter (what upload_folder applies, its default ignores included) over every
    file in the working tree, untracked ones too, gives the dry run's list."""
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    everything = [p.relative_to(REPO).as_posix() for p in REPO.rglob("*") if p.is_file()]
    chosen = list(filter_repo_objects(everything, allow_patterns=deploy_space.upload_patterns(files),
                                      ignore_patterns=list(DEFAULT_IGNORE_PATTERNS)))
    assert sorted(chosen) == [f.path for f in files]


def test_readme_front_matter_is_valid_for_a_space(files):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names = [f.path for f in files]
    requirements = (REPO / "requirements.txt").read_text()
    assert deploy_space.check_front_matter(readme, names, requirements) == []
    meta = deploy_space.front_matter(readme)
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and len(meta["short_description"]) <= 60

    def problems(**change):
        import yaml

        body = readme.split("\n---\n", 1)[1]
        return deploy_space.check_front_matter("---\n" + yaml.safe_dump({**meta, **change}, allow_unicode=True)
                                               + "---\n" + body, names, requirements)

    assert any("colorFrom" in p for p in problems(colorFrom="orange"))
    assert any("short_description" in p for p in problems(short_description="x" * 61))
    assert any("python_version" in p for p in problems(python_version=3.1))  # YAML's reading of 3.10
    assert any("app_file" in p for p in problems(app_file="main.py"))
    assert any("unknown field 'colour'" in p for p in problems(colour="blue"))
    assert any("sdk_version 4.44.0 is outside" in p for p in problems(sdk_version="4.44.0"))
    assert any("sdk" in p for p in problems(sdk="flask"))
    assert any("pinned" in p for p in problems(pinned="no"))
    assert deploy_space.check_front_matter("# no front matter\n", names)[0].startswith("README.md has no YAML")


@pytest.mark.slow
def test_the_uploaded_files_start_the_app_on_the_embedded_weights_offline(files, tmp_path, monkeypatch):
    """A copy of exactly the dry run's files, started as a Space starts it (SPACE_ID set: downloads on),
    with every network endpoint pointing nowhere; one sample from the embedded pose model."""
    from app_server import AppServer, endpoint_args, free_port
    from gradio_client import Client

    space = tmp_path / "space"
    for f in files:
        (space / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f.path, space / f.path)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"SPACE_ID": "tester/taming-lite", "HF_HUB_OFFLINE": "", "HF_ENDPOINT": nowhere, "HF_HOME": str(tmp_path / "hf"),
           "TAMING_LITE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": "", "NO_PROXY": "*",
           "HTTP_PROXY": nowhere, "HTTPS_PROXY": nowhere}
    server = AppServer(tmp_path, weights=space / "weights", env=env, cwd=space)
    try:
        server.wait()
        log = server.log_path.read_text()
        assert "downloads on" in log, log[-2000:]
        monkeypatch.setenv("TAMING_LITE_EXAMPLES", str(tmp_path / "examples"))
        from demos import examples

        client = Client(server.url, verbose=False)
        gallery, info = client.predict(*endpoint_args("/pose", {"pose": examples.pose_presets(64)["waving"]}, 0, 64),
                                       api_name="/pose")[:2]
        assert len(gallery) == 1 and "placeholder" not in str(info), info
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text()
