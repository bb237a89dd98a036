"""taming_lite.hub against a local Hugging Face Hub stand-in (tests/hub_server.py: loopback only,
no internet): download, cache hits, revisions, sha256, errors, offline mode, timeouts, tokens, names."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
import torch

from taming_lite.checkpoints import CheckpointError, load_original, load_pretrained, save_pretrained
from taming_lite.hub import (HubUnavailable, ModelNotFoundError, available_offline, from_pretrained, list_models,
                             load_registry, resolve)
from taming_lite.vqgan import VQGAN, VQGANConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hub_server  # noqa: E402

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A fresh FakeHub as HF_ENDPOINT, and a fresh HF cache (tests/hub_server.py). hub.py reads the
    environment at each call, which is what this checks."""
    server = hub_server.use(monkeypatch, tmp_path)
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
    assert available_offline(list_models(registry=registry)[0])
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
    assert [e.name for e in list_models("reconstruction")] == ["vqgan_f16_16384", "vqgan_imagenet_f16_1024",
                                                              "vqgan_imagenet_f16_16384"]
    # the paper's released checkpoints: direct downloads in the original format, one per tab that has one
    released = {e.name: e.task for e in names.values() if e.kind == "url"}
    assert released == {"sflckr": "labels", "drin": "depth", "ffhq": "completion", "celebahq": "completion",
                        "vqgan_imagenet_f16_1024": "reconstruction", "vqgan_imagenet_f16_16384": "reconstruction",
                        "cin_transformer": "completion"}
    for name in released:
        e = names[name]
        assert e.format == "original" and e.landing_page.startswith("https://github.com/CompVis/taming-transformers")
        assert e.size_gb and e.license and all(u.startswith("https://") for u in e.urls.values())
    assert names["drin"].conditioning == {"depth_minmax": True} and names["ffhq"].sampling["top_k"] == 250
    assert names["sflckr"].sampling["top_k"] == 100 and "ImageNet objects" in names["drin"].limits
    for e in names.values():
        if e.is_local and not available_offline(e):
            with pytest.raises(ModelNotFoundError, match=f"model '{e.name}': its embedded weights are not there yet"):
                resolve(e.name)
