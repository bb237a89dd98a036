"""Training configs: dataclasses read from small YAML files, with `key=value` overrides.

    cfg = load_config("configs/vqgan_image.yaml", ["steps=100", "data.size=64", "model.n_embed=128"])

A YAML file holds the fields of `VQGANTrainConfig` or `TransformerTrainConfig` (below); nested
sections are `data` (a `DataConfig`), `model` (VQGANConfig fields for a VQGAN, GPTConfig fields for
a transformer) and, for the VQGAN, `loss` (a `VQLossConfig`). A YAML file may say
`base: other.yaml` to start from another file's values (relative to itself); mappings merge key by
key, and an empty mapping `{}` replaces the base's. Unknown keys are
errors that name the key and the fields that exist, so a typo never trains silently with a
default. Override values are parsed as YAML (`steps=10` is an int, `model.ch_mult=[1,2]` a list).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml


@dataclass
class DataConfig:
    dataset: str = "completion"  # a task of taming_lite.data (completion, depth, labels, superres, pose) or "synthetic"
    image_key: str = "image"    # what the first stage / VQGAN sees
    cond_key: str | None = None  # transformer: what the cond stage sees (None: unconditional)
    size: int = 128             # image side in pixels
    num_samples: int = 2000     # procedural data: how many distinct samples make an epoch
    root: str | None = None     # your data instead: a folder of images (+ side files) or an npz cache
    seed: int = 0               # procedural data: base seed
    options: dict = field(default_factory=dict)  # passed to the data set as keyword arguments (e.g. source: both)


@dataclass
class VQLossConfig:
    """The VQGAN objective of the paper (the original's VQLPIPSWithDiscriminator)."""
    codebook_weight: float = 1.0
    pixel_weight: float = 1.0         # L1
    perceptual: str = "auto"          # "auto": LPIPS if its weights are on disk, else off (and say so); "on"; "off"
    perceptual_weight: float = 1.0
    disc_start: int = 2000            # generator step at which the GAN losses switch on
    disc_weight: float = 0.8          # multiplies the adaptive weight
    disc_factor: float = 1.0
    disc_num_layers: int = 3
    disc_ndf: int = 64
    disc_loss: str = "hinge"          # "hinge" or "vanilla"


@dataclass
class _CommonTrainConfig:
    out_dir: str = "runs/unnamed"     # checkpoints, metrics.csv, sample PNGs
    export_dir: str | None = None     # final weights in the project's format (save_pretrained)
    task: str | None = None           # written into the export's config.json ("extra")
    steps: int = 1000
    batch_size: int = 8               # per process
    lr: float = 4.5e-6
    seed: int = 0
    device: str = "auto"              # "auto", "cpu", "cuda", ...
    precision: str = "auto"           # CUDA autocast: "auto" (bf16/fp16), "fp16", "bf16", "fp32"; CPU is always fp32
    compile: bool = False             # torch.compile the model (CUDA only; ignored with a note on CPU)
    num_workers: int = 0
    threads: int = 0                  # CPU threads for torch (0: leave torch's default)
    log_every: int = 10               # metrics.csv rows
    sample_every: int = 500           # PNG grids (0: only at the end)
    ckpt_every: int = 500             # checkpoints (0: only at the end)
    keep_checkpoints: int = 2         # most recent step checkpoints kept on disk
    progress: bool = True             # tqdm bar (rank 0)
    max_minutes: float = 0.0          # time budget of this process: past it, save a checkpoint and stop (0: none)
    stop_at: int = 0                  # end this piece at that step (< steps): save a checkpoint there and return it,
                                      # exit status 0; the schedule stays `steps` (go on with --resume; 0: off)
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class VQGANTrainConfig(_CommonTrainConfig):
    model: dict = field(default_factory=dict)  # VQGANConfig fields
    loss: VQLossConfig = field(default_factory=VQLossConfig)
    betas: tuple[float, float] = (0.5, 0.9)   # Adam, as the original
    dead_code_every: int = 100        # re-initialise unused codes every N steps (0: never)
    dead_code_threshold: float = 0.0  # a code is dead if used at most this often in the window
    init_from: str | None = None      # start from a trained VQGAN (fine-tuning): a VQGAN directory, or a
    init_from_stage: str = "first_stage"  # transformer directory's first_stage / cond_stage; same config


@dataclass
class TransformerTrainConfig(_CommonTrainConfig):
    model_type: str = "net2net"       # "net2net" (VQGAN tokens) or "pixel" (PixelGPT baseline on palette pixels)
    first_stage: str | None = "weights/vqgan_image"  # directory written by the VQGAN trainer (net2net)
    cond_stage: str | None = None     # None: unconditional (a start token); else a VQGAN directory
    # (first_stage / cond_stage may also name a transformer directory: its first / cond stage is used)
    init_from: str | None = None      # a trained transformer directory to start from (fine-tuning): its GPT
                                      # weights (and a pixel model's palette); the optimizer starts fresh
    init_from_other_tokens: bool = False  # allow init_from a transformer whose first / cond stage makes other
                                      # tokens (e.g. a retrained cond stage): its GPT still knows the other
                                      # side and where to attend; the changed side's embeddings are relearned
    model: dict = field(default_factory=dict)  # GPTConfig fields; vocab_size / block_size are filled in
    conditioning: str = "prefix"      # "prefix" (the paper: cond_stage tokens before the image tokens) or
                                      # "aligned" (a CondEncoder trained here adds one feature per image token;
                                      # leave cond_stage unset)
    cond_encoder: dict = field(default_factory=dict)  # aligned: CondEncoderConfig fields (ch); the rest is filled in
    pkeep: float = 1.0
    cond_drop: float = 0.0            # classifier-free guidance: share of examples trained on the null condition
    guidance: float = 1.0             # the exported model's default guidance scale (1 = off)
    sos_token: int = 0
    downsample_cond_size: int = -1
    cond_upsample: int = 1            # upsample the condition (nearest) before the cond stage, e.g. 2 for x8
                                      # super-resolution through a cond stage made for x4 inputs
    lr: float = 4.5e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1         # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0            # 0: off
    ema_decay: float = 0.0            # 0: no EMA; else the exported weights are the EMA
    token_cache: str | None = "auto"  # "auto": <out_dir>/tokens.pt; a path; or None: encode every batch
    sample_temperature: float = 1.0
    sample_top_k: int | None = 100
    num_sample_images: int = 4
    pixel_resolution: int = 32        # model_type "pixel": images are area-resized to this side
    palette_size: int = 256           # model_type "pixel": k-means colours (the vocabulary)
    palette_pixels: int = 200_000     # model_type "pixel": pixels sampled to fit the palette


@dataclass
class DecoderLossConfig:
    """Decoder-only training (taming_lite.train.decoder_trainer): the VQGAN objective without the codebook."""
    l1_weight: float = 1.0
    ssim_weight: float = 0.0          # x (1 - SSIM), SSIM as taming_lite.evaluate measures it
    lowres_weight: float = 0.0        # x L1 of output and target area-downsampled to the input size
    colour_weight: float = 0.0        # x L1 of output and target area-downsampled to colour_size (the colours
    colour_size: int = 8              # of painted regions, what the labels segmenter reads)
    disc_start: int = 500             # step at which the discriminator starts training
    disc_warmup: int = 200            # ... and this many steps later the decoder gets the GAN terms
    disc_weight: float = 0.8          # multiplies the adaptive weight
    disc_factor: float = 1.0
    feature_weight: float = 1.0       # feature matching on the discriminator's activations (0: off)
    disc_num_layers: int = 3
    disc_ndf: int = 32
    disc_loss: str = "hinge"          # "hinge" or "vanilla"
    disc_filter: str = "none"         # what D sees of both images: "none", "notch", "blur" (decoder_trainer)


@dataclass
class DecoderTrainConfig(_CommonTrainConfig):
    """A new decoder for a trained VQGAN's frozen tokens; `data.size` is the output size (the input size is
    the VQGAN's resolution), data.root an npz cache of rendered pairs (default <out_dir>/pairs.npz)."""
    vqgan: str = "weights/vqgan_image"  # the VQGAN whose encoder and codebook stay, and whose decoder starts it
    extra_levels: int = 1             # upsampling levels added above its decoder (each doubles the output side)
    extra_res_blocks: int = 1         # res blocks per added level
    extra_upsample: str = "bilinear"  # how the added levels double their features (VQGANConfig.decoder_extra_upsample)
    train_encoder: bool = False       # also the encoder, quant_conv and codebook (+ the codebook loss): tokens CHANGE,
                                      # so every transformer on them must be retrained
    supersample: int = 1              # targets rendered this many times larger and area-downsampled (anti-aliased:
                                      # the human renders' aliased edges teach a GAN row stripes)
    loss: DecoderLossConfig = field(default_factory=DecoderLossConfig)
    lr: float = 1.0e-4
    disc_lr: float = 0.0              # 0: lr
    betas: tuple[float, float] = (0.5, 0.9)


CONFIG_CLASSES = {"vqgan": VQGANTrainConfig, "transformer": TransformerTrainConfig, "decoder": DecoderTrainConfig}


def _build(cls, values: dict, where: str):
    """A dataclass from a dict, recursing into dataclass-typed fields, refusing unknown keys."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        default = known[name].default_factory() if known[name].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value or {}, f"{where}.{name}")
        elif name == "betas":
            kwargs[name] = tuple(float(v) for v in value)
        else:
            kwargs[name] = _coerce(value, known[name].default, f"{where}.{name}")
    return cls(**kwargs)


def _coerce(value, default, where: str):
    """YAML reads `5e-3` as a string (no dot); numbers are converted by the field's default type."""
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return type(default)(float(value)) if isinstance(default, float) else int(value)
        except ValueError:
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        merge = isinstance(v, dict) and v and isinstance(out.get(k), dict)  # `{}` clears a section
        out[k] = _merge(out[k], v) if merge else v
    return out


def read_yaml(path: str | Path, _seen: tuple = ()) -> dict:
    """A config file as a dict, with `base:` files merged underneath it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} not found")
    if path.resolve() in _seen:
        raise ValueError(f"{path}: 'base' chain loops")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config keys")
    base = values.pop("base", None)
    if base is not None:
        values = _merge(read_yaml(path.parent / base, _seen + (path.resolve(),)), values)
    return values


def apply_overrides(values: dict, overrides: list[str] | None) -> dict:
    """`a.b=value` strings -> values with those keys set (the value parsed as YAML)."""
    values = _merge({}, values)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. steps=100, data.size=64)")
        key, raw = item.split("=", 1)
        node = values
        *parents, last = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {p!r} is not a section")
        node[last] = yaml.safe_load(raw) if raw != "" else None
    return values


def load_config(kind: str, path: str | Path | None = None, overrides: list[str] | None = None):
    """kind "vqgan" or "transformer"; a YAML path (or None for the defaults); overrides."""
    if kind not in CONFIG_CLASSES:
        raise ValueError(f"unknown trainer {kind!r}; use one of {sorted(CONFIG_CLASSES)}")
    values = read_yaml(path) if path is not None else {}
    values = apply_overrides(values, overrides)
    return _build(CONFIG_CLASSES[kind], values, str(path or kind))


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(kind: str, values: dict):
    return _build(CONFIG_CLASSES[kind], values, kind)
