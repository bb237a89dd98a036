"""scripts/train_aligned.sh, the recipe of the aligned models, end to end in its quick mode.

QUICK=1 renders tiny data, trains the pose, depth and labels transformers in aligned mode from the shipped
models of weights/ (a few steps each; the super-resolution stage only with TASKS=superres), the new image first
stage (the decoder trainer in two pieces, stop_at then resumed) and labels again on its tokens,
evaluates them beside the prefix models and publishes them, on a copy of scripts/ and configs/ in a temp dir.
The first run is cut by MAX_MINUTES (exit 75), RESUME=1 finishes it."""

import shutil

import pytest
import torch

import _train_helpers as train_helpers
from _train_helpers import REPO
from taming_lite.checkpoints import load_pretrained, read_config
from taming_lite.train.transformer_trainer import same_tokens

pytestmark = pytest.mark.slow


def run_recipe(root, **env):
    return train_helpers.run_recipe(root, "train_aligned.sh", timeout=1800, BASE=str(REPO / "weights"), **env)


@pytest.mark.timeout(1800)  # about 1 CPU minute, a few wall minutes on a busy machine
def test_quick_aligned_recipe_in_two_pieces(tmp_path):
    for d in ("scripts", "configs"):
        shutil.copytree(REPO / d, tmp_path / d)
    runs = tmp_path / "runs" / "aligned_quick"
    r = run_recipe(tmp_path, MAX_MINUTES="0.05")
    assert r.returncode == 75, r.stdout[-2000:] + r.stderr[-3000:]
    assert "RESUME=1" in r.stderr
    r = run_recipe(tmp_path, RESUME="1")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert sorted(p.name for p in (runs / "done").iterdir()) == ["data", "depth", "evaluate", "firststage", "labels",
                                                                 "pose", "publish", "retokenize", "superres"]
    assert not (runs / "out" / "superres").exists()  # not in the default TASKS
    assert (runs / "firststage_full" / "checkpoints" / "step_0000006").is_dir()  # stop_at 2472 / 400
    assert (runs / "out" / "vqgan_mix").is_dir() and not (runs / "publish" / "vqgan_mix").exists()
    new_first = load_pretrained(runs / "out" / "vqgan_mix")
    for task in ("pose", "depth", "labels"):
        net = load_pretrained(runs / "publish" / task)
        assert net.config.aligned and net.config.guidable and net.transformer.config.block_size == 256
        base = load_pretrained(REPO / "weights" / task)
        assert net.first_stage_model.state_dict().keys() == base.first_stage_model.state_dict().keys()
        # labels (RETOKENIZE) on the new first stage's tokens; pose and depth keep their base's first stage
        assert same_tokens(net.first_stage_model, base.first_stage_model) == (task != "labels"), task
        assert same_tokens(net.first_stage_model, new_first, torch.float16) == (task == "labels"), task
        extra = read_config(runs / "publish" / task)["extra"]  # the decoder record travels with the first stage
        assert extra["output_size"] == 128 and ("new tokens" in extra["decoder"]) == (task == "labels"), task
        for which in ("aligned", "prefix"):
            assert "user-style" in (runs / "eval" / f"{task}_{which}.md").read_text()
    r = run_recipe(tmp_path)  # without RESUME it refuses to start over an existing run
    assert r.returncode == 2 and "RESUME=1" in r.stderr
