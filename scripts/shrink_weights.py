"""Re-save model folders with fp16 storage (half the bytes; loading casts back to fp32).

    python -m scripts.shrink_weights weights/completion weights/depth ...
"""

import sys
from pathlib import Path

import torch

from taming_lite.checkpoints import load_pretrained, read_config, save_pretrained

for d in sys.argv[1:]:
    meta = read_config(d)
    before = (Path(d) / "model.safetensors").stat().st_size
    save_pretrained(load_pretrained(d), d, extra=meta.get("extra"), dtype=torch.float16)
    after = (Path(d) / "model.safetensors").stat().st_size
    print(f"{d}: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB")
