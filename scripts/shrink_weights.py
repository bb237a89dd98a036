"""Re-save model folders with fp16 storage (half the bytes; loading casts back to fp32).

    python scripts/shrink_weights.py weights/completion weights/depth ...
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from taming_lite.checkpoints import load_pretrained, read_config, save_pretrained  # noqa: E402

for d in sys.argv[1:]:
    meta = read_config(d)
    before = (Path(d) / "model.safetensors").stat().st_size
    save_pretrained(load_pretrained(d), d, extra=meta.get("extra"), dtype=torch.float16)
    after = (Path(d) / "model.safetensors").stat().st_size
    print(f"{d}: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB")
