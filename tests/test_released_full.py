"""One full-size run (slow): a D-RIN-shaped stand-in at the released size (24 x 1024 GPT, two f=16
VQGANs at ch 128; random weights; a 1.8 GB Lightning last.ckpt with loss.* keys) loaded through the
Pipeline in a fresh process, which must stay well under twice the checkpoint in peak memory
(torch.load mmap, the model takes the mapped tensors: 0.69 GB after loading, measured; a plain
torch.load + load_state_dict peaks at 4.04 GB, 2.2x), and one
256x256 image sampled from it (256 tokens after 256 condition tokens, KV cache, fp32)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # ~2 min on a quiet 2-core CPU
REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys, time
import numpy as np
from taming_lite.pipeline import Pipeline

def peak_rss():  # VmHWM: this process's own peak (ru_maxrss would keep the forking parent's across exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

t = time.perf_counter()
pipe = Pipeline.from_pretrained(sys.argv[1], device="cpu")
load_s, rss = time.perf_counter() - t, peak_rss()
d = np.tile(np.linspace(0, 1, 256, dtype=np.float32)[:, None], (1, 256))
t = time.perf_counter()
(img,) = pipe.sample(pipe.prepare(d, (256, 256)), seed=0)
print(json.dumps(dict(load_s=load_s, rss=rss, sample_s=time.perf_counter() - t, shape=list(img.shape),
                      std=float(img.std()), dtype=str(pipe.dtype), params=sum(p.numel() for p in pipe.model.parameters()))))
"""


def test_released_size_loads_in_bounded_memory_and_samples(tmp_path):
    sys.path.insert(0, str(REPO / "tests"))
    import released

    _, ckpt = released.write(tmp_path, "depth", full=True)
    size = ckpt.stat().st_size
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                       timeout=1700)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\nfull-size stand-in: checkpoint {size / 1e9:.2f} GB, {out['params'] / 1e6:.0f} M parameters, load "
          f"{out['load_s']:.1f} s, peak RSS {out['rss'] / 1e9:.2f} GB, one 256x256 image {out['sample_s']:.1f} s")
    assert out["params"] > 440e6 and out["shape"] == [256, 256, 3] and out["dtype"] == "torch.float32"
    assert out["std"] > 1  # an image, not a constant
    assert out["rss"] < 1.5 * size, f"peak RSS {out['rss'] / 1e9:.2f} GB for a {size / 1e9:.2f} GB checkpoint"
