"""scripts/train_preview.sh, the recipe of the shipped preview weights, end to end in its quick mode.

QUICK=1 runs every stage (data, VQGANs, transformers, the decoder fine-tunes, the resumed and init_from
chains, x8 super-resolution) with tiny data and step counts, on a copy of scripts/ and configs/ in a temp
dir. The first run is cut by MAX_MINUTES (exit 75), RESUME=1 finishes it: the recipe can run in pieces."""

import shutil

import pytest
import torch
from safetensors import safe_open

import _train_helpers as train_helpers
from _train_helpers import REPO
from taming_lite.checkpoints import load_pretrained, read_config

pytestmark = pytest.mark.slow

SHIPPED = ["vqgan_image", "completion", "depth", "labels", "superres", "pose", "pixel_baseline"]


def run_recipe(root, **env):
    return train_helpers.run_recipe(root, "train_preview.sh", **env)


def dtypes(folder):
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return {str(f.get_slice(k).get_dtype()) for k in f.keys()}


def state(module, fp16=False):
    return {k: (v.half() if fp16 else v).float() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.timeout(3600)  # about 8 CPU minutes, 20 wall minutes on a busy 2-core machine
def test_quick_recipe_in_two_pieces(tmp_path):
    for d in ("scripts", "configs"):
        shutil.copytree(REPO / d, tmp_path / d)
    runs = tmp_path / "runs" / "preview_quick"

    r = run_recipe(tmp_path, MAX_MINUTES="0.4")
    assert r.returncode == 75, r.stdout[-2000:] + r.stderr[-3000:]
    assert "time budget of 0.4 min" in r.stderr and "RESUME=1" in r.stderr
    first = {p.name for p in (runs / "done").iterdir()}
    assert "data" in first and "publish" not in first
    assert not (runs / "out").exists()

    r = run_recipe(tmp_path)  # without RESUME=1 it will not start over the existing runs
    assert r.returncode == 2 and "RESUME=1" in r.stderr

    r = run_recipe(tmp_path, RESUME="1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for s in first:
        assert f"== stage {s}: done before" in r.stdout
    out = runs / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(SHIPPED)
    for name in SHIPPED:
        assert dtypes(out / name) == {"F16"}, name  # stored as shipped

    vq = load_pretrained(out / "vqgan_image")
    assert list(vq.config.decoder_num_res_blocks) == [2, 2, 1]  # grown by stage decoder_grown (2g)
    for task in ("completion", "depth", "labels", "superres", "pose"):
        net = load_pretrained(out / task)
        assert same(state(net.first_stage_model), state(vq)), task  # every task carries the last decoder
    superres = load_pretrained(out / "superres")
    assert read_config(out / "superres")["config"]["cond_upsample"] == 2  # x8 (2k, 2l)
    assert superres.cond_stage_model.config.n_embed == 512  # the new low-res VQGAN (2h)
    labels = load_pretrained(out / "labels")
    new_cond = load_pretrained(runs / "vqgan_labels_follow" / "export")  # the label VQGAN fine-tuned on the mix (2n)
    assert same(state(labels.cond_stage_model.quantize), state(new_cond.quantize, fp16=True))
    for task in ("labels", "pose", "depth"):  # trained with condition dropout (2n): guidance 2 by default
        cfg = read_config(out / task)["config"]
        assert (cfg["cond_drop"], cfg["guidance"]) == (0.15, 2.0), task
    assert (runs / "transformer_depth_follow" / "checkpoints" / "latest.txt").is_file()  # depth: 2n's transformer
    assert not (runs / "vqgan_depth_follow").exists()  # ... over its own depth VQGAN (no new one in the recipe)
    first = load_pretrained(runs / "decoder128" / "export")  # the 128-px decoder (2m), shipped with bilinear doubling
    assert (first.config.decoder_extra_upsample, vq.config.decoder_extra_upsample) == ("nearest", "bilinear")
    assert vq.config.upsample_factor == 2 * vq.config.downsample_factor  # 128 px out of 16x16 tokens
    assert same(state(first.quantize, fp16=True), state(vq.quantize))  # the same tokens: codebook kept
