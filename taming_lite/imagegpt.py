"""OpenAI's Image-GPT as the pixel baseline of the completion tab, through `transformers` (optional).

    igpt = load("openai/imagegpt-small", device="cuda")     # or a folder saved with save_pretrained
    small = igpt.complete(rgb, given_rows=16, seed=0)       # (32, 32, 3) uint8: the upper 16 rows kept

Image-GPT is the video's "pixels" side: a GPT-2 over the pixels of a 32x32 image, each pixel one of
512 colour clusters (`ImageGPTImageProcessor` resizes, normalises to [-1, 1] and quantises; the clusters
are in its `preprocessor_config.json`). A sequence starts with the start token `vocab_size - 1`; the
model's head predicts only the 512 colours. `complete` keeps the upper rows of the photo's own pixel
tokens and lets `generate` sample the rest (temperature, top-k, top-p; the seed through torch's RNG).

Files: a local folder (config.json, preprocessor_config.json, model.safetensors or pytorch_model.bin),
or a Hub repo id, whose files go through `taming_lite.hub.resolve` like every other Hub model: the HF
cache first (no request when cached), HF_HUB_OFFLINE respected, an unreachable Hub reported within
seconds (HubUnavailable), missing repos and files as ModelNotFoundError.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import hub

# the released sizes (transformers' ImageGPT checkpoints on the Hub): repo id -> approximate download, GB
# (fp32 weights: 76 M, 455 M and 1.4 B parameters)
HUB_MODELS = {"openai/imagegpt-small": 0.3, "openai/imagegpt-medium": 1.8, "openai/imagegpt-large": 5.6}
CONFIG = "config.json"
PROCESSOR = "preprocessor_config.json"
WEIGHTS = hub.TRANSFORMERS_WEIGHTS  # the first one the repo or folder has
INSTALL = "pip install 'transformers>=4.40'"


TransformersMissing = hub.TransformersMissing


def require_transformers():
    """The transformers module, or TransformersMissing saying how to install it."""
    return hub.require_transformers("Image-GPT", INSTALL)


available = hub.transformers_available


def holds_imagegpt(folder: str | os.PathLike) -> bool:
    """Whether a folder holds an Image-GPT in transformers' layout (without loading it)."""
    import json

    folder = Path(folder)
    try:
        cfg = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(cfg, dict) and cfg.get("model_type") == "imagegpt" and (folder / PROCESSOR).is_file()
            and any((folder / w).is_file() for w in WEIGHTS))


@dataclass
class ImageGPT:
    """An Image-GPT model with its image processor, on a device in a dtype."""

    model: torch.nn.Module
    processor: object
    device: torch.device
    name: str = ""
    load_seconds: float = 0.0
    loaded_from: str = ""

    @property
    def resolution(self) -> int:
        """Pixels per side (32 for the released models: n_positions = 32 * 32)."""
        return int(math.isqrt(self.model.config.n_positions))

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def n_colours(self) -> int:
        return self.model.config.vocab_size - 1  # the last token is the start token

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def encode(self, rgb: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 -> colour-cluster ids (1, r * r), raster order (the processor's resize + quantise)."""
        r = self.resolution
        ids = self.processor(images=[np.array(rgb, np.uint8)], size={"height": r, "width": r},
                             return_tensors="pt")["input_ids"]
        return ids.reshape(1, r * r).to(self.device)

    def decode(self, ids: torch.Tensor) -> np.ndarray:
        """Colour-cluster ids (r * r,) -> (r, r, 3) uint8."""
        r = self.resolution
        clusters = np.asarray(self.processor.clusters, np.float32).reshape(-1, 3)
        rgb = np.rint(127.5 * (clusters[ids.reshape(-1).cpu().numpy()] + 1.0))
        return np.clip(rgb, 0, 255).astype(np.uint8).reshape(r, r, 3)

    @torch.no_grad()
    def complete(self, rgb: np.ndarray, given_rows: int, seed: int = 0, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Keep the upper `given_rows` pixel rows (of `resolution`) of the photo, sample the others:
        -> (r, r, 3) uint8. `top_k` None/0 = no limit, `top_p` None/1 = off; `progress(done, total)`."""
        from transformers import LogitsProcessor, LogitsProcessorList

        r = self.resolution
        rows = min(max(int(given_rows), 0), r)
        given = self.encode(rgb)[:, : rows * r]
        sos = torch.full((1, 1), self.model.config.vocab_size - 1, dtype=torch.long, device=self.device)
        prefix = torch.cat((sos, given), dim=1)
        steps = r * r - rows * r
        if steps == 0:
            return self.decode(given[0])

        class Count(LogitsProcessor):  # progress only: the scores pass unchanged
            def __init__(self):
                self.done = 0

            def __call__(self, input_ids, scores):
                self.done += 1
                if progress is not None:
                    progress(self.done, steps)
                return scores

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # generate samples with torch's global RNG
            torch.manual_seed(int(seed))
            out = self.model.generate(input_ids=prefix, attention_mask=torch.ones_like(prefix), do_sample=True,
                                      max_new_tokens=steps, min_new_tokens=steps, temperature=float(temperature),
                                      top_k=int(top_k or 0), top_p=float(top_p or 1.0), pad_token_id=None,
                                      eos_token_id=None, logits_processor=LogitsProcessorList([Count()]))
        return self.decode(out[0, 1:])


def resolve_files(name_or_path: str, progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """(folder holding the model's files, where they came from) for a folder or a Hub repo id.
    The Hub's files go through taming_lite.hub.resolve: the same cache, offline rule and errors."""
    def check(folder):
        return None if holds_imagegpt(folder) else (f"expected {CONFIG} with model_type 'imagegpt', {PROCESSOR} "
                                                    f"and {' or '.join(WEIGHTS)}")
    return hub.resolve_transformers(str(name_or_path), "an Image-GPT", check, (CONFIG, PROCESSOR), progress)


def load(name_or_path: str, device=None, dtype: torch.dtype | None = None,
         progress: Callable[[str], None] | None = None) -> ImageGPT:
    """An Image-GPT by folder or Hub repo id[@revision], in eval mode on `device` (default: CUDA, MPS, CPU)
    in `dtype` (default: fp16 on CUDA, fp32 elsewhere). TransformersMissing if transformers is not there."""
    from .device import default_dtype, pick_device

    require_transformers()
    from transformers import ImageGPTForCausalImageModeling, ImageGPTImageProcessor

    t0 = time.perf_counter()
    dev = pick_device(device)
    folder, where = resolve_files(str(name_or_path), progress)
    if progress:
        progress(f"{name_or_path}: building Image-GPT on {dev}")
    model = ImageGPTForCausalImageModeling.from_pretrained(str(folder))  # (its dtype argument's name changed in 4.56)
    model = model.to(device=dev, dtype=dtype or default_dtype(dev)).eval()
    processor = ImageGPTImageProcessor.from_pretrained(str(folder))
    return ImageGPT(model, processor, dev, str(name_or_path), time.perf_counter() - t0, where)


def tiny_random(resolution: int = 8, n_colours: int = 16, seed: int = 0):
    """A tiny random Image-GPT (config + processor with random clusters), for tests and rehearsals:
    -> (model, processor). Save both with save_pretrained into one folder."""
    require_transformers()
    from transformers import ImageGPTConfig, ImageGPTForCausalImageModeling, ImageGPTImageProcessor

    config = ImageGPTConfig(vocab_size=n_colours + 1, n_positions=resolution * resolution, n_embd=32, n_layer=2,
                            n_head=2)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ImageGPTForCausalImageModeling(config).eval()
    clusters = (torch.rand(n_colours, 3, generator=g) * 2 - 1).numpy()
    processor = ImageGPTImageProcessor(clusters=clusters, size={"height": resolution, "width": resolution})
    return model, processor
