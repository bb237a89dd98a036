"""DDP under torchrun on CPU (gloo, 2 processes): both trainers run, and both ranks end with the same weights."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from _train_helpers import REPO

SCRIPT = textwrap.dedent("""
    import sys, torch, torch.distributed as dist
    from pathlib import Path
    from taming_lite.train import load_config, train_transformer, train_vqgan

    tmp = Path(sys.argv[1])
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    final = {}

    def keep(step, logs, model):
        final.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    common = ["progress=false", "threads=1"]
    vq = load_config("vqgan", sys.argv[2], [f"out_dir={tmp}/vq", f"export_dir={tmp}/vq_x", "steps=4",
                     "batch_size=2", "loss.disc_start=2", "dead_code_every=2", *common])
    train_vqgan(vq, on_step=keep)
    torch.save(final, tmp / f"vqgan_rank{rank}.pt")
    final.clear()
    tr = load_config("transformer", sys.argv[3], [f"out_dir={tmp}/tr", f"first_stage={tmp}/vq_x",
                     f"cond_stage={tmp}/vq_x", "data.cond_key=image", "steps=3", "batch_size=2", "pkeep=0.5", *common])
    train_transformer(tr, on_step=keep)
    torch.save(final, tmp / f"transformer_rank{rank}.pt")
    dist.destroy_process_group()
""")


@pytest.mark.timeout(240)
def test_ddp_two_ranks_identical_weights(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path), str(REPO / "configs" / "tiny_vqgan.yaml"), str(REPO / "configs" / "tiny_transformer.yaml")]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=220)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name in ("vqgan", "transformer"):
        a = torch.load(tmp_path / f"{name}_rank0.pt", weights_only=True)
        b = torch.load(tmp_path / f"{name}_rank1.pt", weights_only=True)
        assert a.keys() == b.keys() and a
        assert all(torch.equal(a[k], b[k]) for k in a), name
    # the two ranks saw different data: the metrics come from rank 0 only, one row per step
    assert len((tmp_path / "vq" / "metrics.csv").read_text().splitlines()) == 1 + 4
