"""scripts/train_defaults.sh in pieces: MAX_MINUTES stops it with a checkpoint (exit 75), RESUME=1 goes on.

The script runs on a copy of scripts/ and configs/ in a temp dir (it writes runs/ and weights/ beside
them), with overrides that shrink the image VQGAN so a step takes milliseconds."""

import os
import shutil
import subprocess

from _train_helpers import REPO

TINY = ("data.size=32 model.ch=32 model.ch_mult=[1,2] model.attn_resolutions=[] model.z_channels=32 model.n_embed=16 "
        "batch_size=2 loss.disc_ndf=16 loss.disc_num_layers=2 loss.perceptual=\"off\" threads=1 progress=false")


def run_script(root, **env):
    full = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "VQGAN_STEPS": "1000000",
            "NUM_SAMPLES": "8", "EXTRA": TINY, **env}
    return subprocess.run(["bash", str(root / "scripts" / "train_defaults.sh")], cwd=root, env=full,
                          capture_output=True, text=True, timeout=300)


def test_time_budget_and_resume(tmp_path):
    for d in ("scripts", "configs"):
        shutil.copytree(REPO / d, tmp_path / d)
    ckpts = tmp_path / "runs" / "vqgan_image" / "checkpoints"

    r = run_script(tmp_path, MAX_MINUTES="0.05")
    assert r.returncode == 75, r.stderr[-2000:]
    assert "time budget of 0.05 min reached during vqgan_image" in r.stderr and "RESUME=1" in r.stderr
    first = int((ckpts / "latest.txt").read_text().strip().removeprefix("step_"))
    assert first > 0 and not (tmp_path / "weights").exists()  # nothing exported, nothing else started

    r = run_script(tmp_path, MAX_MINUTES="0.05", RESUME="1")
    assert r.returncode == 75, r.stderr[-2000:]
    assert f"resuming from runs/vqgan_image/checkpoints/step_{first:07d} at step {first}" in r.stdout
    assert int((ckpts / "latest.txt").read_text().strip().removeprefix("step_")) > first
