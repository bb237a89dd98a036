"""Conditional transformer: first stage (image VQGAN) + cond stage + GPT over the joint sequence.

    x (B, 3, H, W)  --first_stage_model-->  z_indices (B, L)          L = h * w, raster order
    c (B, Cc, Hc, Wc) --cond_stage_model-->  c_indices (B, Lc)         or (B, 1) start token
    c (B,) class ids  --Labelator-------->  c_indices (B, 1)          class-conditional (n_classes > 0)
    GPT( cat(c_indices, z_indices)[:, :-1] )  ->  logits[:, Lc - 1:]    logits[:, i] predicts z_indices[:, i]

That is the paper's "prefix" conditioning. In "aligned" mode (not in the paper; `conditioning="aligned"`)
the cond stage is a trainable `CondEncoder` that turns the raw condition into one feature per image
token, and the GPT sees only the image tokens, each position with the feature of the token it predicts:

    c (B, Cc, Hc, Wc) --CondEncoder--> f (B, n_embd, h, w)
    GPT( cat(sos, z_indices)[:, :-1], cond_emb = f as (B, L, n_embd) )  ->  logits (B, L, vocab)

Public methods and semantics follow the original `Net2NetTransformer` (`encode_to_z`, `encode_to_c`,
`forward`, `sample`, `decode_to_img`); training-only logic (optimisers, losses) lives in
`taming_lite.train`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from collections.abc import Iterator

from .cond_encoder import CondEncoder, CondEncoderConfig, to_sequence
from .gpt import GPT, GPTConfig
from .sampling import SamplingSettings, iter_sample_sliding_window, sample_tokens
from .vqgan import VQGAN, VQGANConfig

CONDITIONING = ("prefix", "aligned")


@dataclass
class Net2NetConfig:
    first_stage: VQGANConfig
    transformer: GPTConfig
    # None: unconditional, a single start token (or a class id, below); a CondEncoderConfig in aligned mode
    cond_stage: VQGANConfig | CondEncoderConfig | None = None
    # > 0: class-conditional (the original `Labelator`): with cond_stage None, the condition is one token,
    # the class id itself (0 .. n_classes - 1, sharing the GPT's vocabulary with the image codes)
    n_classes: int = 0
    sos_token: int = 0
    pkeep: float = 1.0  # training: keep each input token with this probability, else a random one
    # classifier-free guidance (not in the paper): the fraction of training examples whose condition is
    # replaced by the null condition (every condition position holds `null_token`), and the guidance scale
    # sampling uses by default (1 = off). Models trained without it (cond_drop 0, e.g. the paper's) cannot
    # be guided.
    cond_drop: float = 0.0
    guidance: float = 1.0
    downsample_cond_size: int = -1
    # nearest-neighbour upsampling of the condition before the cond stage: an x8 super-resolution model
    # reuses an f=1 cond stage made for x4 (each low-res pixel becomes 2x2, the tokens stay on the
    # output's token grid). 1: none
    cond_upsample: int = 1
    first_stage_key: str = "image"
    cond_stage_key: str = "image"
    # "prefix": the paper's condition tokens before the image tokens; "aligned": a CondEncoder's feature
    # added at the position that predicts each image token (see the module docstring)
    conditioning: str = "prefix"

    def __post_init__(self):
        if self.conditioning not in CONDITIONING:
            raise ValueError(f"conditioning must be one of {CONDITIONING}, got {self.conditioning!r}")
        if isinstance(self.first_stage, dict):
            self.first_stage = VQGANConfig(**self.first_stage)
        if isinstance(self.transformer, dict):
            self.transformer = GPTConfig(**self.transformer)
        if isinstance(self.cond_stage, dict):
            self.cond_stage = (CondEncoderConfig if self.aligned else VQGANConfig)(**self.cond_stage)
        if self.aligned:
            if not isinstance(self.cond_stage, CondEncoderConfig) or self.n_classes:
                raise ValueError("aligned conditioning needs a CondEncoderConfig as cond_stage (and no n_classes)")
            if self.cond_stage.n_embd != self.transformer.n_embd:
                raise ValueError(f"the cond encoder's n_embd {self.cond_stage.n_embd} must be the GPT's "
                                 f"{self.transformer.n_embd}")
        elif isinstance(self.cond_stage, CondEncoderConfig):
            raise ValueError("a CondEncoderConfig cond stage needs conditioning='aligned'")
        if not isinstance(self.cond_upsample, int) or self.cond_upsample < 1:
            raise ValueError(f"cond_upsample must be a whole number >= 1, got {self.cond_upsample!r}")
        if self.transformer.vocab_size < self.first_stage.n_embed:
            raise ValueError(f"GPT vocab_size {self.transformer.vocab_size} < first stage n_embed {self.first_stage.n_embed}")
        if self.n_classes and self.cond_stage is not None:
            raise ValueError("a class-conditional model (n_classes > 0) has no cond stage VQGAN")
        if self.n_classes and self.transformer.vocab_size < self.n_classes:
            raise ValueError(f"GPT vocab_size {self.transformer.vocab_size} < n_classes {self.n_classes}")
        if not self.aligned and self.cond_stage is not None and self.transformer.vocab_size < self.cond_stage.n_embed:
            raise ValueError(f"GPT vocab_size {self.transformer.vocab_size} < cond stage n_embed {self.cond_stage.n_embed}")
        if not 0.0 <= self.cond_drop < 1.0:
            raise ValueError(f"cond_drop must be in [0, 1), got {self.cond_drop}")
        if self.cond_drop > 0 and self.null_token is None and not self.aligned:
            raise ValueError("cond_drop > 0 needs a null token: a cond stage whose codes leave room in the GPT "
                             f"vocabulary (cond n_embed < vocab_size {self.transformer.vocab_size})")
        if not self.guidance >= 1.0:
            raise ValueError(f"guidance must be >= 1 (1 = off), got {self.guidance}")

    @property
    def aligned(self) -> bool:
        return self.conditioning == "aligned"

    @property
    def null_token(self) -> int | None:
        """The token of the null condition (prefix mode): the first id above the cond stage's codes (which
        the condition positions never hold otherwise); None for unconditional models, aligned ones (their
        null condition is a feature) and cond stages that fill the vocabulary."""
        if self.aligned or self.cond_stage is None or self.cond_stage.n_embed >= self.transformer.vocab_size:
            return None
        return self.cond_stage.n_embed

    @property
    def guidable(self) -> bool:
        """Whether classifier-free guidance can be used: trained with condition dropout."""
        return self.cond_drop > 0 and (self.aligned or self.null_token is not None)

    @property
    def unconditional(self) -> bool:
        return self.cond_stage is None

    @property
    def cond_factor(self) -> int:
        """Output pixels per condition pixel along a side: 4 or 8 for super-resolution, 1 for a condition at
        the output's size (depth, labels, pose) and for unconditional models."""
        if self.cond_stage is None:
            return 1
        return self.first_stage.downsample_factor * self.cond_upsample // self.cond_stage.downsample_factor

    def to_dict(self) -> dict:
        return asdict(self)


def check_guidance(config: Net2NetConfig, guidance: float) -> None:
    """ValueError, saying why, for a guidance scale the model cannot use (1 = off is always fine)."""
    try:
        guidance = float(guidance)
    except (TypeError, ValueError):
        raise ValueError(f"guidance must be a number >= 1, got {guidance!r}") from None
    if not guidance >= 1.0 or guidance == float("inf"):
        raise ValueError(f"guidance must be a finite number >= 1 (1 = off), got {guidance}")
    if guidance != 1.0 and not config.guidable:
        why = "it is unconditional" if config.cond_stage is None and not config.n_classes else \
            "it was trained without condition dropout (as the paper's released models)"
        raise ValueError(f"this model cannot use classifier-free guidance: {why}; set guidance to 1")


def resize_condition(c: torch.Tensor, downsample_cond_size: int = -1, cond_upsample: int = 1) -> torch.Tensor:
    """What the cond stage sees of a condition (B, C, H, W): resized to a fixed square size (the original's
    `downsample_cond_size`, nearest) and/or upsampled `cond_upsample` times (nearest)."""
    if downsample_cond_size > -1:
        c = nn.functional.interpolate(c, size=(downsample_cond_size, downsample_cond_size))
    if cond_upsample > 1:
        c = nn.functional.interpolate(c, scale_factor=cond_upsample, mode="nearest")
    return c


class SOSProvider(nn.Module):
    """Cond stage of unconditional models: every sample is conditioned on one start token."""

    def __init__(self, sos_token: int):
        super().__init__()
        self.sos_token = sos_token

    def encode(self, x: torch.Tensor):
        c = torch.full((x.shape[0], 1), self.sos_token, dtype=torch.long, device=x.device)
        return c, None, c


class Labelator(nn.Module):
    """Cond stage of class-conditional models (the original `taming.modules.util.Labelator`): class ids
    (B,) -> one token each, the id itself."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = n_classes

    def encode(self, c: torch.Tensor):
        c = c.reshape(-1, 1).long()
        if c.numel() and not (0 <= int(c.min()) and int(c.max()) < self.n_classes):
            raise ValueError(f"class ids must be in 0..{self.n_classes - 1}, got {c.flatten().tolist()[:8]}")
        return None, None, c


class Net2NetTransformer(nn.Module):
    def __init__(self, config: Net2NetConfig):
        super().__init__()
        self.config = config
        self.first_stage_model = VQGAN(config.first_stage).eval()
        if config.n_classes:
            self.cond_stage_model = Labelator(config.n_classes)
        elif config.cond_stage is None:
            self.cond_stage_model = SOSProvider(config.sos_token)
        elif config.aligned:
            self.cond_stage_model = CondEncoder(config.cond_stage)
        else:
            self.cond_stage_model = VQGAN(config.cond_stage).eval()
        self.transformer = GPT(config.transformer)
        self.pkeep = config.pkeep

    @property
    def be_unconditional(self) -> bool:
        return self.config.unconditional

    def train(self, mode: bool = True):
        """Only the transformer (and an aligned model's cond encoder) trains: the VQGAN stages stay in eval
        mode (frozen), as the original."""
        super().train(mode)
        self.first_stage_model.eval()
        if not self.config.aligned:
            self.cond_stage_model.eval()
        return self

    @property
    def trainable(self) -> nn.Module:
        """What a trainer optimises: the GPT, and in aligned mode the cond encoder beside it."""
        if not self.config.aligned:
            return self.transformer
        return nn.ModuleDict({"transformer": self.transformer, "cond_stage_model": self.cond_stage_model})

    @torch.no_grad()
    def encode_to_z(self, x: torch.Tensor):
        """x (B, 3, H, W) -> quant_z (B, embed_dim, h, w), indices (B, h*w)."""
        quant_z, _, indices = self.first_stage_model.encode(x)
        return quant_z, indices.reshape(quant_z.shape[0], -1)

    @torch.no_grad()
    def encode_to_c(self, c: torch.Tensor):
        """condition -> quant_c, indices (B, Lc) (class-conditional: class ids (B,) -> (None, (B, 1)));
        aligned: -> features (B, n_embd, h, w), None."""
        if self.config.n_classes:
            _, _, indices = self.cond_stage_model.encode(c)
            return None, indices
        c = resize_condition(c, self.config.downsample_cond_size, self.config.cond_upsample)
        if self.config.aligned:
            return self.cond_stage_model(c), None
        quant_c, _, indices = self.cond_stage_model.encode(c)
        return quant_c, indices.reshape(c.shape[0], -1)

    def forward(self, x: torch.Tensor, c: torch.Tensor, generator: torch.Generator | None = None):
        """Teacher-forced logits (B, L, vocab) and target z_indices (B, L)."""
        _, z_indices = self.encode_to_z(x)
        _, c_indices = self.encode_to_c(c)
        return self.forward_indices(z_indices, c_indices, generator)

    def forward_indices(self, z_indices: torch.Tensor, c_indices: torch.Tensor,
                        generator: torch.Generator | None = None, drop: torch.Tensor | None = None):
        """As forward, from precomputed tokens (the trainer caches them). Aligned mode: c_indices is the
        condition tensor itself (B, Cc, Hc, Wc), encoded here (the encoder trains with the GPT).
        drop (B,) bool: these examples get the null condition (default: a random `cond_drop` share while
        training, none otherwise), e.g. to measure what the model takes from the condition."""
        if drop is None and self.training and self.config.cond_drop > 0:  # classifier-free guidance
            drop = torch.rand((z_indices.shape[0],), generator=generator, device=z_indices.device) < self.config.cond_drop
        if self.config.aligned:  # the condition tensor -> one feature per image token, or the null feature
            c = resize_condition(c_indices, self.config.downsample_cond_size, self.config.cond_upsample)
            feat = self.cond_stage_model(c)  # (B, C, h, w)
            if feat.shape[2] * feat.shape[3] != z_indices.shape[1]:
                raise ValueError(f"condition features {tuple(feat.shape[2:])} do not match {z_indices.shape[1]} "
                                 "image tokens")
            if drop is not None:
                feat = torch.where(drop[:, None, None, None], self.cond_stage_model.null_like(feat), feat)
        elif drop is not None:
            c_indices = torch.where(drop[:, None], torch.full_like(c_indices, self.config.null_token), c_indices)
        a_indices = z_indices
        if self.training and self.pkeep < 1.0:
            keep = torch.rand(z_indices.shape, generator=generator, device=z_indices.device) < self.pkeep
            rand = torch.randint(0, self.transformer.config.vocab_size, z_indices.shape, generator=generator,
                                 device=z_indices.device)
            a_indices = torch.where(keep, z_indices, rand)
        if self.config.aligned:
            sos = torch.full_like(z_indices[:, :1], self.config.sos_token)
            logits, _ = self.transformer(torch.cat((sos, a_indices[:, :-1]), dim=1), cond_emb=to_sequence(feat))
            return logits, z_indices
        cz = torch.cat((c_indices, a_indices), dim=1)
        logits, _ = self.transformer(cz[:, :-1])
        return logits[:, c_indices.shape[1] - 1 :], z_indices

    @torch.no_grad()
    def sample(self, x: torch.Tensor, c: torch.Tensor, steps: int, temperature: float = 1.0, sample: bool = False,
               top_k: int | None = None, callback: Callable[[int], None] | None = None, *, top_p: float | None = None,
               generator: torch.Generator | None = None, seed: int | None = None, use_cache: bool = True,
               guidance: float = 1.0):
        """x: given image tokens (B, n) (may be n = 0), c: conditioning tokens (B, Lc) (aligned: the condition
        features (B, n_embd, h, w) of `encode_to_c`, the image a h x w grid).
        Returns (B, n + steps): the given tokens followed by the sampled ones, as the original.
        guidance > 1: classifier-free guidance (models trained with cond_drop only)."""
        if self.transformer.training:
            raise RuntimeError("call model.eval() before sampling")
        settings = SamplingSettings(temperature, top_k, top_p, guidance, seed, sample)  # validated here, once
        generator = generator if generator is not None else settings.generator()
        B, n = x.shape
        if not self.config.aligned and not use_cache:  # the original's way: the whole sequence per token
            uncond = self.null_condition(c, settings.guidance)
            out = sample_tokens(self.transformer, torch.cat((c, x), dim=1), steps, callback,
                                temperature=settings.temperature, sample=sample, top_k=settings.top_k,
                                top_p=settings.top_p, generator=generator,
                                use_cache=False, guidance=settings.guidance,
                                uncond=None if uncond is None else torch.cat((uncond, x), dim=1))
            return out[:, c.shape[1] :]
        h, w = c.shape[2:] if self.config.aligned else (1, n + steps)  # prefix: the sequence as one grid row
        if n + steps > h * w:
            raise ValueError(f"{n} + {steps} tokens exceed the condition's {h}x{w} grid")
        z = torch.zeros((B, h * w), dtype=torch.long, device=x.device)
        z[:, :n] = x
        out = z.view(B, h, w)
        for k in range(steps):
            if callback is not None:
                callback(k)
            if k == 0:
                it = self.iter_grid(c, out, settings, start=n, generator=generator)
            _, out = next(it)
        return out.reshape(B, -1)[:, : n + steps].clone()

    def null_condition(self, c: torch.Tensor, guidance: float) -> torch.Tensor | None:
        """The null condition shaped like the condition c (tokens: a sequence or a grid; aligned: features)
        for guidance > 1; None for guidance 1. Raises ValueError for a model that cannot be guided."""
        check_guidance(self.config, guidance)
        if guidance == 1.0:
            return None
        if self.config.aligned:
            return self.cond_stage_model.null_like(c)
        return torch.full_like(c, self.config.null_token)

    @torch.no_grad()
    def iter_grid(self, cond: torch.Tensor, z: torch.Tensor, settings: SamplingSettings = SamplingSettings(),
                  start: int = 0, window: tuple[int, int] | None = None,
                  generator: torch.Generator | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """Sample the token grid z (B, h, w) past raster position `start`; yields (tokens sampled so far, the
        grid, updated in place) after each token. One path for every model and size: a grid within `window`
        (the token grid the model was trained on; default the whole grid) is one KV-cached sequence, a larger
        one slides the window over it (`taming_lite.sampling.iter_sample_sliding_window`).

        cond: as `encode_to_c` gives it: prefix: condition tokens, a (B, h, w) grid aligned with z (cropped
        with the window) or a (B, Lc) sequence; aligned: features (B, n_embd, h, w). `settings` are taken as
        they are (validated when made); whether the model can use their guidance, `null_condition` checks."""
        B, h, w = z.shape
        kw = dict(start=start, window=window or (h, w), temperature=settings.temperature, sample=settings.sample,
                  top_k=settings.top_k, top_p=settings.top_p, guidance=settings.guidance,
                  generator=generator if generator is not None else settings.generator())
        null = self.null_condition(cond, settings.guidance)
        if not self.config.aligned:
            return iter_sample_sliding_window(self.transformer, cond, z, uncond=null, **kw)
        sos = torch.full((B, 1), self.config.sos_token, dtype=torch.long, device=z.device)
        return iter_sample_sliding_window(self.transformer, sos, z, uncond=None if null is None else sos,
                                          feat=cond, uncond_feat=null, **kw)

    @torch.no_grad()
    def decode_to_img(self, index: torch.Tensor, zshape) -> torch.Tensor:
        """index (B, h*w) tokens, zshape (B, C, h, w) -> image (B, 3, H, W) in about [-1, 1]."""
        B, _, h, w = zshape
        return self.first_stage_model.decode_indices(index.reshape(B, h, w))
