"""The cond stage of aligned conditioning: a small convolutional encoder of the raw condition.

    c (B, Cc, Hc, Wc) --conv_in--> (B, ch, Hc, Wc) --log2(downsample) x [SiLU, conv stride 2]-->
      (B, ch, h, w) --2 x ResBlock--> --SiLU, conv_out 1x1--> (B, n_embd, h, w)      h = Hc / downsample

One `n_embd` vector per image token, nothing quantized: a one-hot label map, a depth map, a skeleton
image or a (nearest-upsampled) low-resolution image goes in as it is. `Net2NetTransformer` in
"aligned" mode adds the vector of token i to the GPT's input at the position that predicts token i
(ControlAR's "conditional decoding", Li et al. 2024), instead of the paper's prefix of condition
tokens. `null` is the null condition of classifier-free guidance: the feature every position gets
when the condition is dropped.

The config carries the attributes the pipeline reads of a cond stage (`in_channels`, `n_labels`,
`resolution`, `downsample_factor`), so the fit checks and sizes work for both kinds of cond stage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class CondEncoderConfig:
    in_channels: int
    n_embd: int                   # the GPT's width: one vector per image token
    resolution: int               # condition pixels per side of one training window
    downsample: int = 4           # condition pixels per token side (a power of 2)
    ch: int = 64
    n_labels: int | None = None   # a one-hot label map of this many classes (as VQGANConfig.n_labels)

    def __post_init__(self):
        if self.downsample < 1 or self.downsample & (self.downsample - 1):
            raise ValueError(f"downsample must be a power of 2, got {self.downsample}")
        if self.resolution % self.downsample:
            raise ValueError(f"resolution {self.resolution} is not a multiple of downsample {self.downsample}")

    @property
    def downsample_factor(self) -> int:
        return self.downsample

    def to_dict(self) -> dict:
        return asdict(self)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, ch)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):  # (B, ch, h, w)
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class CondEncoder(nn.Module):
    def __init__(self, config: CondEncoderConfig):
        super().__init__()
        self.config = config
        ch = config.ch
        self.conv_in = nn.Conv2d(config.in_channels, ch, 3, padding=1)
        self.down = nn.ModuleList(nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                                  for _ in range(config.downsample.bit_length() - 1))
        self.mid = nn.Sequential(ResBlock(ch), ResBlock(ch))
        self.norm_out = nn.GroupNorm(8, ch)
        self.conv_out = nn.Conv2d(ch, config.n_embd, 1)
        self.null = nn.Parameter(torch.zeros(config.n_embd))  # the null condition's feature

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """c (B, Cc, Hc, Wc) -> features (B, n_embd, Hc / downsample, Wc / downsample)."""
        if c.shape[1] != self.config.in_channels:
            raise ValueError(f"the condition has {c.shape[1]} channels, the encoder takes {self.config.in_channels}")
        d = self.config.downsample
        if c.shape[2] % d or c.shape[3] % d:
            raise ValueError(f"condition size {tuple(c.shape[2:])} must be a multiple of {d} px")
        x = self.conv_in(c)
        for conv in self.down:
            x = conv(F.silu(x))
        x = self.mid(x)
        return self.conv_out(F.silu(self.norm_out(x)))

    def null_like(self, features: torch.Tensor) -> torch.Tensor:
        """The null condition shaped like features (B, n_embd, h, w)."""
        return self.null.to(features.dtype)[None, :, None, None].expand_as(features)


def to_sequence(features: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h * w, C): one vector per token, raster order."""
    return features.flatten(2).transpose(1, 2)
