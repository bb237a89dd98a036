"""Pixel-level baseline in the style of Image-GPT: a GPT over colour-palette indices of pixels.

The paper's point is that a transformer on VQGAN codes reaches far higher resolutions than one
on pixels at the same cost. This is the "pixels" side of that comparison:

    image (B, 3, H, W) --area resize--> (B, 3, r, r) --nearest palette colour--> tokens (B, r*r)
    GPT( [sos] + tokens[:-1] ) -> logits over the palette       (sos = palette_size)

With r = 32 the sequence (1 + 1024 tokens) is as long as a conditional 16x16-token model's,
yet the output is only 32x32 pixels. The palette is fitted with k-means on training pixels
(`fit_palette`) and stored in the checkpoint as a buffer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gpt import GPT, GPTConfig
from .sampling import make_generator, sample_tokens, validate_sampling


@dataclass
class PixelGPTConfig:
    transformer: GPTConfig
    resolution: int = 32
    palette_size: int = 256

    def __post_init__(self):
        if isinstance(self.transformer, dict):
            self.transformer = GPTConfig(**self.transformer)
        if self.transformer.vocab_size != self.palette_size + 1:
            raise ValueError(f"vocab_size must be palette_size + 1 (start token), got {self.transformer.vocab_size}")
        if self.transformer.block_size < self.resolution**2:
            raise ValueError(f"block_size {self.transformer.block_size} < {self.resolution ** 2} pixels")

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def fit_palette(pixels: torch.Tensor, k: int, iters: int = 20, seed: int = 0) -> torch.Tensor:
    """k-means on pixels (N, 3) in [-1, 1] -> palette (k, 3), initialised with k-means++-lite
    (random distinct pixels), deterministic by seed."""
    g = torch.Generator().manual_seed(seed)
    pixels = pixels.float()
    centers = pixels[torch.randperm(len(pixels), generator=g)[:k]].clone()
    if len(centers) < k:
        raise ValueError(f"need at least {k} pixels to fit a palette of {k} colours, got {len(pixels)}")
    for _ in range(iters):
        assign = torch.cdist(pixels, centers).argmin(1)
        sums = torch.zeros_like(centers).index_add_(0, assign, pixels)
        counts = torch.bincount(assign, minlength=k).float()
        empty = counts == 0
        centers = torch.where(empty[:, None], centers, sums / counts.clamp(min=1)[:, None])
        if empty.any():  # re-seed unused colours from random pixels
            centers[empty] = pixels[torch.randint(0, len(pixels), (int(empty.sum()),), generator=g)]
    return centers


def palette_indices(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """images (B, 3, H, W) in [-1, 1] -> the index of each pixel's nearest palette colour (B, H, W)."""
    B, _, H, W = images.shape
    return torch.cdist(images.permute(0, 2, 3, 1).reshape(-1, 3), palette).argmin(1).view(B, H, W)


def palette_colours(indices: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """palette indices (B, H, W) -> images (B, 3, H, W) in [-1, 1]."""
    return palette[indices].permute(0, 3, 1, 2).contiguous()


class PixelGPT(nn.Module):
    def __init__(self, config: PixelGPTConfig):
        super().__init__()
        self.config = config
        self.register_buffer("palette", torch.zeros(config.palette_size, 3))
        self.transformer = GPT(config.transformer)

    @property
    def sos_token(self) -> int:
        return self.config.palette_size

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [-1, 1] -> palette indices (B, r, r)."""
        r = self.config.resolution
        small = F.interpolate(images, size=(r, r), mode="area") if images.shape[-2:] != (r, r) else images
        return palette_indices(small, self.palette)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """palette indices (B, r, r) -> images (B, 3, r, r) in [-1, 1]."""
        return palette_colours(indices, self.palette)

    def forward(self, images: torch.Tensor):
        """Teacher-forced logits (B, r*r, palette) and targets (B, r*r)."""
        target = self.encode(images).reshape(images.shape[0], -1)
        return self.forward_indices(target)

    @torch.no_grad()
    def encode_to_z(self, images: torch.Tensor):
        """As Net2NetTransformer.encode_to_z: (None, palette indices (B, r*r)), for the trainer."""
        return None, self.encode(images).reshape(images.shape[0], -1)

    @torch.no_grad()
    def encode_to_c(self, images: torch.Tensor):
        """The conditioning is the start token alone: (None, (B, 1))."""
        sos = torch.full((images.shape[0], 1), self.sos_token, dtype=torch.long, device=images.device)
        return None, sos

    def forward_indices(self, target: torch.Tensor, c: torch.Tensor | None = None, generator=None):
        """Teacher-forced logits (B, L, palette) for palette tokens (B, L); `c` and `generator` are
        accepted for the trainer's token-LM interface and unused (the start token is fixed)."""
        sos = torch.full((target.shape[0], 1), self.sos_token, dtype=torch.long, device=target.device)
        logits, _ = self.transformer(torch.cat((sos, target[:, :-1]), 1))
        return logits[..., : self.config.palette_size], target

    @torch.no_grad()
    def sample(self, given: torch.Tensor, steps: int, temperature: float = 1.0, sample: bool = True,
               top_k: int | None = None, top_p: float | None = None, generator=None, seed: int | None = None,
               callback=None) -> torch.Tensor:
        """given (B, n) palette indices (raster order) -> (B, n + steps)."""
        temperature, top_k, top_p = validate_sampling(temperature, top_k, top_p, self.config.palette_size)
        sos = torch.full((given.shape[0], 1), self.sos_token, dtype=torch.long, device=given.device)
        # the start token is never a valid output: mask its logit through top-k over the palette only
        gpt = PaletteOnly(self.transformer, self.config.palette_size)
        out = sample_tokens(gpt, torch.cat((sos, given), 1), steps, callback, temperature=temperature,
                            sample=sample, top_k=top_k, top_p=top_p, generator=make_generator(seed, generator))
        return out[:, 1:]


class PaletteOnly:
    """A view of a GPT whose logits exclude the start token (used by the samplers)."""

    def __init__(self, gpt: GPT, n: int):
        self.gpt, self.n, self.config = gpt, n, gpt.config

    def new_cache(self, *a, **k):
        return self.gpt.new_cache(*a, **k)

    def forward_cached(self, *a, **k):
        out = self.gpt.forward_cached(*a, **k).clone()
        out[..., self.n :] = float("-inf")
        return out

    def __call__(self, idx):
        logits, loss = self.gpt(idx)
        logits = logits.clone()
        logits[..., self.n :] = float("-inf")
        return logits, loss
