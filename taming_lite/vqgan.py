"""VQGAN: convolutional encoder, vector quantizer, convolutional decoder.

One file, in the layout of the original taming-transformers code so that its checkpoints
load without renaming (`encoder.down.{i}.block.{j}.conv1`, `quantize.embedding.weight`, ...).

    image (B, in_channels, H, W) in [-1, 1]
      -> encoder            (B, z_channels, H/f, W/f)      f = 2 ** (len(ch_mult) - 1)
      -> quant_conv         (B, embed_dim, H/f, W/f)
      -> quantize           nearest codebook entry, indices (B, H/f, W/f) in [0, n_embed)
      -> post_quant_conv    (B, z_channels, H/f, W/f)
      -> decoder            (B, out_ch, H * u/f, W * u/f)  u = upsample_factor (= f unless grown)

The segmentation variant (`VQGAN` with `n_labels` set) takes one-hot label maps and returns
logits; it carries the original's `colorize` buffer (a random projection used for display).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

UPSAMPLE_MODES = ("bilinear", "nearest")  # F.interpolate modes an extra decoder level may use


@dataclass
class VQGANConfig:
    # ddconfig of the original
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    z_channels: int = 256
    resolution: int = 256
    in_channels: int = 3
    out_ch: int = 3
    double_z: bool = False
    dropout: float = 0.0
    # quantizer
    embed_dim: int = 256
    n_embed: int = 1024
    beta: float = 0.25
    legacy_beta: bool = True  # original placement: beta on the codebook term (training loss only)
    # segmentation variant: number of label channels (None for an image/depth VQGAN)
    n_labels: int | None = None
    # not in the original: res blocks of each decoder level, highest resolution first (None: num_res_blocks
    # at every level, as the original). A decoder grown this way keeps the encoder, codebook and tokens.
    decoder_num_res_blocks: tuple[int, ...] | None = None
    # not in the original: upsampling levels added above the decoder's top level (each doubles the output
    # side, so the same tokens decode to a larger image); see `Decoder`. 0 for every original model.
    decoder_extra_levels: int = 0
    decoder_extra_res_blocks: int = 1  # res blocks of each extra level
    # how each extra level doubles its features before its conv: "bilinear" (no period-2 pattern for the
    # conv to amplify) or "nearest" (as the original's own levels; made row/column alternation under GAN loss)
    decoder_extra_upsample: str = "bilinear"

    def __post_init__(self):
        self.ch_mult = tuple(self.ch_mult)
        self.attn_resolutions = tuple(self.attn_resolutions)
        if self.decoder_num_res_blocks is not None:
            self.decoder_num_res_blocks = tuple(int(n) for n in self.decoder_num_res_blocks)
            if len(self.decoder_num_res_blocks) != len(self.ch_mult) or min(self.decoder_num_res_blocks) < 0:
                raise ValueError(f"decoder_num_res_blocks needs one count >= 0 per level of ch_mult "
                                 f"{self.ch_mult}, got {self.decoder_num_res_blocks}")
        if self.decoder_extra_levels < 0 or self.decoder_extra_res_blocks < 0:
            raise ValueError(f"decoder_extra_levels and decoder_extra_res_blocks must be >= 0, got "
                             f"{self.decoder_extra_levels} and {self.decoder_extra_res_blocks}")
        if self.decoder_extra_upsample not in UPSAMPLE_MODES:
            raise ValueError(f"decoder_extra_upsample must be one of {UPSAMPLE_MODES}, got "
                             f"{self.decoder_extra_upsample!r}")
        if self.ch % 32 != 0:
            raise ValueError(f"ch must be a multiple of 32 (GroupNorm with 32 groups), got {self.ch}")
        if not self.ch_mult:
            raise ValueError("ch_mult must not be empty")

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def upsample_factor(self) -> int:
        """Output pixels per token side of the decoder. Equal to `downsample_factor` for every original
        model; a decoder grown by extra upsampling levels outputs more pixels from the same tokens, so code
        that sizes an *input* uses `downsample_factor` and code that sizes an *output* uses this."""
        return self.downsample_factor * 2 ** self.decoder_extra_levels

    @property
    def decoder_res_blocks(self) -> tuple[int, ...]:
        """Res blocks of each decoder level, highest resolution first (the Decoder builds one more)."""
        return self.decoder_num_res_blocks or (self.num_res_blocks,) * len(self.ch_mult)

    def to_dict(self) -> dict:
        return asdict(self)


def Normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class Upsample(nn.Module):
    def __init__(self, channels: int, mode: str = "nearest"):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.mode = mode

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode=self.mode))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # asymmetric padding, as in the original


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(self.dropout(swish(self.norm2(h))))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all spatial positions (1x1 convs for q, k, v)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = Normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x)
        q, k, v = (m(h).reshape(B, 1, C, H * W).transpose(2, 3) for m in (self.q, self.k, self.v))  # (B, 1, HW, C)
        h = F.scaled_dot_product_attention(q, k, v)  # (B, 1, HW, C)
        h = h.transpose(2, 3).reshape(B, C, H, W)
        return x + self.proj_out(h)


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        ch, mult = cfg.ch, cfg.ch_mult
        self.conv_in = nn.Conv2d(cfg.in_channels, ch, 3, 1, 1)
        self.down = nn.ModuleList()
        res, block_in = cfg.resolution, ch
        for i, m in enumerate(mult):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * m
            for _ in range(cfg.num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != len(mult) - 1:
                level.downsample = Downsample(block_in)
                res //= 2
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * cfg.z_channels if cfg.double_z else cfg.z_channels, 3, 1, 1)

    def forward(self, x):  # (B, in_channels, H, W) -> (B, z_channels, H/f, W/f)
        h = self.conv_in(x)
        for level in self.down:
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        ch, mult = cfg.ch, cfg.ch_mult
        block_in = ch * mult[-1]
        res = cfg.resolution // 2 ** (len(mult) - 1)
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, cfg.dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, cfg.dropout)
        up = []
        for i in reversed(range(len(mult))):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * mult[i]
            for _ in range(cfg.decoder_res_blocks[i] + 1):
                level.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample(block_in)
                res *= 2
            up.insert(0, level)
        self.up = nn.ModuleList(up)  # up[0] is the highest resolution, as in the original
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_ch, 3, 1, 1)
        # extra levels (not in the original; their keys are new, the original ones unchanged): each upsamples
        # the features (decoder_extra_upsample + conv) and runs res blocks; the image is the top level's output
        # upsampled bilinearly plus a correction from the last level's features (extra_norm_out, extra_conv_out).
        self.extra = nn.ModuleList()
        for _ in range(cfg.decoder_extra_levels):
            level = nn.Module()
            level.upsample = Upsample(block_in, cfg.decoder_extra_upsample)
            level.block = nn.ModuleList(ResnetBlock(block_in, block_in, cfg.dropout)
                                        for _ in range(cfg.decoder_extra_res_blocks))
            self.extra.append(level)
        if cfg.decoder_extra_levels:
            self.extra_norm_out = Normalize(block_in)
            self.extra_conv_out = nn.Conv2d(block_in, cfg.out_ch, 3, 1, 1)

    def forward(self, z):  # (B, z_channels, h, w) -> (B, out_ch, h*u, w*u), u = upsample_factor
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for level in reversed(self.up):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        out = self.conv_out(swish(self.norm_out(h)))
        if not len(self.extra):
            return out
        for level in self.extra:
            h = level.upsample(h)
            for block in level.block:
                h = block(h)
        base = F.interpolate(out, size=h.shape[-2:], mode="bilinear", align_corners=False)
        return base + self.extra_conv_out(swish(self.extra_norm_out(h)))

    def last_layer(self) -> torch.Tensor:
        """The weight that makes the output image (the adaptive GAN weight compares gradient norms here)."""
        return self.extra_conv_out.weight if len(self.extra) else self.conv_out.weight

    @torch.no_grad()
    def init_extra_levels(self) -> None:
        """Make the extra levels start as a plain bilinear upsampling of the top level's image: upsample convs
        pass their input through (identity kernel), res blocks are identities (zero last conv) and the
        correction is zero (zero extra_conv_out). Training then moves them from there."""
        for level in self.extra:
            conv = level.upsample.conv
            conv.weight.zero_()
            conv.bias.zero_()
            for c in range(conv.weight.shape[0]):
                conv.weight[c, c, 1, 1] = 1.0
            for block in level.block:
                nn.init.zeros_(block.conv2.weight)
                nn.init.zeros_(block.conv2.bias)
        if len(self.extra):
            nn.init.zeros_(self.extra_conv_out.weight)
            nn.init.zeros_(self.extra_conv_out.bias)


class VectorQuantizer(nn.Module):
    """Nearest-neighbour codebook lookup with a straight-through gradient.

    loss = ||sg[z_q] - z||^2 + beta ||z_q - sg[z]||^2   (legacy_beta=True, the original's placement)
    loss = beta ||sg[z_q] - z||^2 + ||z_q - sg[z]||^2   (legacy_beta=False, the paper's placement)
    The forward value of z_q is the same either way.
    """

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25, legacy_beta: bool = True):
        super().__init__()
        self.n_embed, self.embed_dim, self.beta, self.legacy_beta = n_embed, embed_dim, beta, legacy_beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_embed, 1.0 / n_embed)

    def nearest(self, z_flat: torch.Tensor) -> torch.Tensor:
        """(N, embed_dim) -> (N,) index of the nearest codebook entry (squared L2, as the original)."""
        e = self.embedding.weight
        d = z_flat.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * z_flat @ e.t()
        return d.argmin(1)

    def forward(self, z: torch.Tensor):
        """z (B, C, h, w) -> z_q (B, C, h, w), loss, indices (B, h, w)."""
        B, C, h, w = z.shape
        z = z.permute(0, 2, 3, 1).contiguous()  # (B, h, w, C)
        indices = self.nearest(z.view(-1, C))
        z_q = self.embedding(indices).view(z.shape)
        commit, codebook = torch.mean((z_q.detach() - z) ** 2), torch.mean((z_q - z.detach()) ** 2)
        loss = commit + self.beta * codebook if self.legacy_beta else self.beta * commit + codebook
        z_q = z + (z_q - z).detach()  # straight-through
        return z_q.permute(0, 3, 1, 2).contiguous(), loss, indices.view(B, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, h, w) -> codebook vectors (B, embed_dim, h, w)."""
        return self.embedding(indices).permute(0, 3, 1, 2).contiguous()


class VQGAN(nn.Module):
    def __init__(self, config: VQGANConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.quantize = VectorQuantizer(config.n_embed, config.embed_dim, config.beta, config.legacy_beta)
        self.quant_conv = nn.Conv2d(config.z_channels, config.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(config.embed_dim, config.z_channels, 1)
        if config.n_labels is not None:
            if config.in_channels != config.n_labels or config.out_ch != config.n_labels:
                raise ValueError("a segmentation VQGAN needs in_channels == out_ch == n_labels")
            self.register_buffer("colorize", torch.randn(3, config.n_labels, 1, 1))

    @property
    def is_segmentation(self) -> bool:
        return self.config.n_labels is not None

    def encode(self, x: torch.Tensor):
        """x (B, in_channels, H, W) -> quant (B, embed_dim, h, w), codebook loss, indices (B, h, w)."""
        h = self.quant_conv(self.encoder(x))
        return self.quantize(h)

    def decode(self, quant: torch.Tensor) -> torch.Tensor:
        """quant (B, embed_dim, h, w) -> (B, out_ch, h*u, w*u), u = config.upsample_factor."""
        return self.decoder(self.post_quant_conv(quant))

    def forward(self, x: torch.Tensor):
        """Reconstruction: returns (dec, codebook loss, indices)."""
        quant, qloss, indices = self.encode(x)
        return self.decode(quant), qloss, indices

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """x (B, in_channels, H, W) in [-1, 1] -> its reconstruction (encode, quantize, decode) clamped to
        [-1, 1], in x's dtype, computed in batches of batch_size in the model's dtype (the model is left as it is)."""
        dtype = next(self.parameters()).dtype
        out = [self(x[i:i + batch_size].to(dtype))[0].clamp(-1, 1).to(x.dtype) for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else x.clone()

    @torch.no_grad()
    def encode_to_indices(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in_channels, H, W) -> LongTensor (B, H/f, W/f)."""
        return self.encode(x)[2]

    @torch.no_grad()
    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """LongTensor (B, h, w) -> image (B, out_ch, h*u, w*u), u = config.upsample_factor."""
        return self.decode(self.quantize.lookup(indices))

    def last_layer(self) -> torch.Tensor:
        """The decoder's last weight: the adaptive GAN weight compares gradient norms here."""
        return self.decoder.last_layer()

    def to_rgb(self, logits: torch.Tensor) -> torch.Tensor:
        """Segmentation logits (B, n_labels, H, W) -> a random-colour image in [-1, 1], as the original."""
        x = F.conv2d(logits, weight=self.colorize)
        return 2.0 * (x - x.min()) / (x.max() - x.min()) - 1.0
