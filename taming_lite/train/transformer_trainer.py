"""Transformer (second stage) training loop: cross-entropy on image tokens given conditioning tokens.

    x --first stage (frozen)--> z (B, L)      c --cond stage (frozen)--> c (B, Lc)   (or a start token)
    GPT(cat(c, corrupt(z))[:, :-1]) -> logits for z        loss = CE(logits, z)

With `conditioning="aligned"` there is no cond VQGAN: a `CondEncoder` trained with the GPT turns the
condition tensor into one feature per image token (`taming_lite.net2net`), the sequence holds the image
tokens only, and the cache keeps the condition tensors themselves (one-hot maps as class ids).

`corrupt` is the original's pkeep: each input image token is kept with probability pkeep, else
replaced by a random token (targets stay clean). With `cond_drop` > 0 (classifier-free guidance, not in
the paper) that share of the examples sees the null condition instead of its own. The VQGANs never change while the transformer
trains, so by default every sample is encoded once and the tokens are cached to disk
(`token_cache`); training then touches no image at all. AdamW decays matrices only
(`GPT.configure_optimizer`), the learning rate warms up linearly then follows a cosine, gradients
are clipped, and an EMA of the weights can be kept (it is what gets exported).

The export is one self-contained `Net2NetTransformer` directory (first stage + cond stage + GPT),
which `load_pretrained` and the app read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import (CONFIG_NAME, WEIGHTS_NAME, decoder_record, load_pretrained, load_stage, read_config,
                           save_pretrained)
from ..cond_encoder import CondEncoderConfig
from ..device import autocast, autocast_dtype
from ..gpt import GPTConfig, configure_optimizer
from ..net2net import Net2NetConfig, Net2NetTransformer, resize_condition
from ..pixelgpt import PixelGPT, PixelGPTConfig, fit_palette
from ..vqgan import VQGAN
from .common import (BatchStream, Checkpointer, Dist, EMA, MetricsLog, Progress, StopRequest, check_ranks_agree,
                     checkpoint_or_stop, collate, restore, run_training, save_grid, seed_step, warmup_cosine)
from .config import TransformerTrainConfig, config_to_dict
from .data import build_dataset, check_keys


class TokenLM(nn.Module):
    """Net2NetTransformer.forward_indices as a module's forward, so DDP can wrap it (only the GPT trains)."""

    def __init__(self, net: Net2NetTransformer):
        super().__init__()
        self.net = net

    def forward(self, z, c, generator=None):
        return self.net.forward_indices(z, c, generator)


def build_net2net(cfg: TransformerTrainConfig, dataset) -> Net2NetTransformer:
    """Frozen stages from their directories + a fresh GPT sized for their token grids (aligned: + a fresh
    CondEncoder for the condition)."""
    aligned = cfg.conditioning == "aligned"
    first = load_stage(cfg.first_stage, "first_stage")
    if aligned and (cfg.cond_stage or not cfg.data.cond_key):
        raise ValueError("aligned conditioning trains its own cond encoder: set data.cond_key, leave cond_stage unset")
    cond = load_stage(cfg.cond_stage, "cond_stage") if cfg.cond_stage else None
    if not aligned and (cond is None) != (cfg.data.cond_key is None):
        raise ValueError("set both cond_stage and data.cond_key (conditional) or neither (unconditional)")
    item = collate(dataset, [0])
    z = first.encode_to_indices(item[cfg.data.image_key])
    L = z.numel()
    c = resize_condition(item[cfg.data.cond_key], cfg.downsample_cond_size, cfg.cond_upsample) if cfg.data.cond_key \
        else None
    Lc = 1 if cond is None else cond.encode_to_indices(c).numel()
    vocab = max(first.config.n_embed, cond.config.n_embed if cond is not None else 0, cfg.sos_token + 1)
    gpt = GPTConfig(**{"vocab_size": vocab, "block_size": L if aligned else Lc + L, **cfg.model})
    if gpt.block_size < (L if aligned else Lc + L - 1):
        raise ValueError(f"model.block_size={gpt.block_size} is too small for {0 if aligned else Lc} cond + {L} "
                         "image tokens")
    if aligned:  # the encoder maps the condition onto the image's token grid
        w = item[cfg.data.image_key].shape[-1] // first.config.downsample_factor
        onehot = bool(((c == 0) | (c == 1)).all() and (c.sum(1) == 1).all())
        cond_config = CondEncoderConfig(**{"in_channels": c.shape[1], "n_embd": gpt.n_embd, "resolution": c.shape[-1],
                                           "downsample": c.shape[-1] // w, "n_labels": c.shape[1] if onehot else None,
                                           **cfg.cond_encoder})
    else:
        cond_config = cond.config if cond is not None else None
    config = Net2NetConfig(first_stage=first.config, cond_stage=cond_config, conditioning=cfg.conditioning,
                           transformer=gpt, sos_token=cfg.sos_token, pkeep=cfg.pkeep,
                           cond_drop=cfg.cond_drop, guidance=cfg.guidance,
                           downsample_cond_size=cfg.downsample_cond_size, cond_upsample=cfg.cond_upsample,
                           first_stage_key=cfg.data.image_key,
                           cond_stage_key=cfg.data.cond_key or cfg.data.image_key)
    net = Net2NetTransformer(config)
    net.first_stage_model.load_state_dict(first.state_dict())
    net.first_stage_model.requires_grad_(False)
    if cond is not None:
        net.cond_stage_model.load_state_dict(cond.state_dict())
    if not aligned:
        net.cond_stage_model.requires_grad_(False)
    return net


@torch.no_grad()
def build_pixelgpt(cfg: TransformerTrainConfig, dataset) -> PixelGPT:
    """The pixel-level baseline: a palette fitted with k-means on training pixels + a fresh GPT."""
    if cfg.cond_stage or cfg.data.cond_key:
        raise ValueError("model_type 'pixel' is unconditional: leave cond_stage and data.cond_key unset")
    r, k = cfg.pixel_resolution, cfg.palette_size
    g = torch.Generator().manual_seed(cfg.seed)
    n_images = min(len(dataset), max(1, cfg.palette_pixels // (r * r) + 1))
    order = torch.randperm(len(dataset), generator=g)[:n_images].tolist()
    images = F.interpolate(collate(dataset, order)[cfg.data.image_key], size=(r, r), mode="area")
    pixels = images.permute(0, 2, 3, 1).reshape(-1, 3)
    pixels = pixels[torch.randperm(len(pixels), generator=g)[: cfg.palette_pixels]]
    gpt = {"vocab_size": k + 1, "block_size": r * r, **cfg.model}
    net = PixelGPT(PixelGPTConfig(transformer=GPTConfig(**gpt), resolution=r, palette_size=k))
    net.palette.copy_(fit_palette(pixels, k, seed=cfg.seed))
    return net


def build_model(cfg: TransformerTrainConfig, dataset) -> nn.Module:
    if cfg.model_type == "net2net":
        net = build_net2net(cfg, dataset)
    elif cfg.model_type == "pixel":
        net = build_pixelgpt(cfg, dataset)
    else:
        raise ValueError(f"model_type must be 'net2net' or 'pixel', got {cfg.model_type!r}")
    if cfg.init_from:
        init_weights(net, cfg.init_from, other_tokens=cfg.init_from_other_tokens)
    return net


@torch.no_grad()
def init_weights(net: nn.Module, path: str, other_tokens: bool = False) -> None:
    """Start from the transformer in `path` (fine-tuning): copy its GPT (a pixel model: and its palette)
    into `net`, which must have the same shapes and, for a Net2Net, read the same tokens (equal encoders
    and codebooks: the decoders may differ) unless `other_tokens`: then a stage may differ (its tokens
    mean something new, and the run relearns them) as long as the GPT's shapes match.

    A prefix model into an aligned one (`prefix_into_aligned`): the GPT's weights and the positions of
    its image tokens, with a fresh cond encoder whose output starts at zero."""
    src = load_pretrained(path)
    if type(src) is not type(net):
        raise ValueError(f"init_from {path!r} holds a {type(src).__name__}, this run trains a {type(net).__name__}")
    if isinstance(net, Net2NetTransformer) and net.config.aligned and not src.config.aligned:
        return prefix_into_aligned(src, net, path)
    if src.transformer.config != net.transformer.config:
        raise ValueError(f"init_from {path!r}: its GPT config {src.transformer.config} differs from this run's "
                         f"{net.transformer.config}")
    if isinstance(net, Net2NetTransformer):
        for stage in ("first_stage_model", "cond_stage_model"):
            a, b = getattr(src, stage), getattr(net, stage)
            if type(a) is not type(b):  # a start token vs a VQGAN: another task
                raise ValueError(f"init_from {path!r}: its {stage} is a {type(a).__name__}, this run's a "
                                 f"{type(b).__name__}")
            if isinstance(a, VQGAN) and not same_tokens(a, b):
                if not other_tokens:
                    raise ValueError(f"init_from {path!r}: its {stage} makes other tokens than this run's "
                                     f"(encoder or codebook differ); set first_stage / cond_stage to {path!r}, "
                                     "or init_from_other_tokens=true to relearn them")
                print(f"[taming_lite.train] init_from {path}: its {stage} makes other tokens than this run's; "
                      "their embeddings are relearned (init_from_other_tokens)")
        if net.config.aligned:  # the cond encoder trains with the GPT: it starts from src's too
            net.cond_stage_model.load_state_dict(src.cond_stage_model.state_dict())
    else:
        net.palette.copy_(src.palette)
    net.transformer.load_state_dict(src.transformer.state_dict())


@torch.no_grad()
def prefix_into_aligned(src: Net2NetTransformer, net: Net2NetTransformer, path: str = "") -> None:
    """Warm start of an aligned model from a prefix model reading the same image tokens: every GPT weight
    but the positions, and pos_emb of the positions that predicted the image tokens (prefix position
    Lc - 1 + i predicted token i; aligned position i does). The cond encoder's output layer starts at zero,
    so the model starts as the prefix model's image-token statistics and learns the condition from there."""
    a, b = src.transformer.config, net.transformer.config
    if (a.n_layer, a.n_head, a.n_embd, a.vocab_size) != (b.n_layer, b.n_head, b.n_embd, b.vocab_size):
        raise ValueError(f"init_from {path!r}: its GPT {a} and this run's {b} differ beyond their lengths")
    if not same_tokens(src.first_stage_model, net.first_stage_model):
        raise ValueError(f"init_from {path!r}: its first stage makes other image tokens than this run's")
    L = b.block_size
    Lc = a.block_size - L  # the prefix model's condition tokens (block_size = Lc + L)
    if Lc < 1:
        raise ValueError(f"init_from {path!r}: block_size {a.block_size} leaves no condition before {L} tokens")
    state = {k: v for k, v in src.transformer.state_dict().items() if k != "pos_emb"}
    state["pos_emb"] = src.transformer.pos_emb[:, Lc - 1 : Lc - 1 + L]
    net.transformer.load_state_dict(state)
    net.cond_stage_model.conv_out.weight.zero_()
    net.cond_stage_model.conv_out.bias.zero_()


def same_tokens(a: VQGAN, b: VQGAN, dtype: torch.dtype | None = None) -> bool:
    """Whether two VQGANs turn images into the same tokens: equal encoders and codebooks (compared
    after casting to `dtype` if given, e.g. fp16 for weights stored in fp16); decoders may differ."""
    sa, sb = a.state_dict(), b.state_dict()
    ka, kb = ([k for k in s if k.startswith(("encoder.", "quant_conv.", "quantize."))] for s in (sa, sb))
    cast = (lambda t: t.to(dtype)) if dtype is not None else (lambda t: t)
    return ka == kb and all(torch.equal(cast(sa[k]), cast(sb[k])) for k in ka)


@torch.no_grad()
def encode_dataset(net: Net2NetTransformer, dataset, cfg: TransformerTrainConfig, device, batch: int = 16,
                   show: bool = True) -> dict:
    """Every sample -> {"z": (N, L), "c": (N, Lc)} token tensors (int16 when they fit). Aligned: "c" holds
    the condition tensors as the dataset gives them (`pack_condition`; `forward_indices` resizes them)."""
    from tqdm.auto import tqdm

    zs, cs = [], []
    n = len(dataset)
    aligned = getattr(net.config, "aligned", False)  # a PixelGPT has no condition
    for s in tqdm(range(0, n, batch), desc="encoding tokens", disable=not show, unit="batch"):
        items = collate(dataset, list(range(s, min(n, s + batch))))
        x = items[cfg.data.image_key].to(device)
        zs.append(net.encode_to_z(x)[1].cpu())
        c = items[cfg.data.cond_key].to(device) if cfg.data.cond_key else x
        cs.append(c.cpu() if aligned else net.encode_to_c(c)[1].cpu())  # aligned: forward_indices resizes it
    dtype = torch.int16 if net.transformer.config.vocab_size <= 32767 else torch.int32
    c = pack_condition(torch.cat(cs), net.config.cond_stage.n_labels) if aligned else torch.cat(cs).to(dtype)
    return {"z": torch.cat(zs).to(dtype), "c": c}


def pack_condition(c: torch.Tensor, n_labels: int | None) -> torch.Tensor:
    """Condition tensors (N, C, H, W) as the token cache keeps them: one-hot maps as uint8 class ids
    (N, H, W), the rest in fp16."""
    return c.argmax(1).to(torch.uint8) if n_labels else c.to(torch.float16)


def unpack_condition(c: torch.Tensor, n_labels: int | None) -> torch.Tensor:
    """The inverse of `pack_condition` (and condition tokens -> long)."""
    if c.dtype == torch.uint8:
        return F.one_hot(c.long(), n_labels).permute(0, 3, 1, 2).float()
    return c.float() if c.is_floating_point() else c.long()


def _cache_key(cfg: TransformerTrainConfig) -> str:
    """What the cached tokens depend on: the stages' bytes and the data config."""
    h = hashlib.sha256(json.dumps(config_to_dict(cfg.data), sort_keys=True).encode())
    h.update(f"{cfg.conditioning} {cfg.downsample_cond_size} {cfg.cond_upsample} {cfg.model_type} {cfg.pixel_resolution} {cfg.palette_size} "
             f"{cfg.palette_pixels} {cfg.seed}".encode())
    palette_from = cfg.init_from if cfg.model_type == "pixel" else None  # a Net2Net's tokens ignore init_from
    for stage in (cfg.first_stage, cfg.cond_stage, palette_from):
        if stage:
            for name in (CONFIG_NAME, WEIGHTS_NAME):
                h.update((Path(stage) / name).read_bytes())
    return h.hexdigest()


def load_or_encode_tokens(net, dataset, cfg: TransformerTrainConfig, d: Dist) -> dict | None:
    if cfg.token_cache is None:
        return None
    path = Path(cfg.out_dir) / "tokens.pt" if cfg.token_cache == "auto" else Path(cfg.token_cache)
    key = _cache_key(cfg)
    if d.main:
        cached = torch.load(path, weights_only=True) if path.is_file() else None
        if cached is None or cached.get("key") != key:
            tokens = encode_dataset(net, dataset, cfg, d.device, show=cfg.progress)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({**tokens, "key": key}, path)
            print(f"[taming_lite.train] cached {tokens['z'].shape[0]} token sequences in {path}")
    d.barrier()
    cached = torch.load(path, weights_only=True)
    return {"z": cached["z"], "c": cached["c"]}


class _TokenSet(torch.utils.data.Dataset):
    def __init__(self, tokens: dict):
        self.z, self.c = tokens["z"], tokens["c"]

    def __len__(self):
        return self.z.shape[0]

    def __getitem__(self, i):
        return {"z": self.z[i], "c": self.c[i]}


@torch.no_grad()
def sample_grid(net: Net2NetTransformer | PixelGPT, z: torch.Tensor, c: torch.Tensor, cfg: TransformerTrainConfig,
                path: Path, seed: int = 0) -> Path:
    """Rows: condition (decoded cond tokens), a sample, the ground truth (decoded image tokens).
    PixelGPT: the upper half given and the lower half sampled, then the ground truth."""
    was_training = net.training
    net.eval()
    if isinstance(net, PixelGPT):
        r = net.config.resolution
        half = z.shape[1] // 2
        out = net.sample(z[:, :half], z.shape[1] - half, temperature=cfg.sample_temperature,
                         top_k=cfg.sample_top_k, seed=seed)
        net.train(was_training)
        return save_grid([net.decode(out.view(-1, r, r)), net.decode(z.view(-1, r, r))], path)
    f = net.first_stage_model
    side = int(round(z.shape[1] ** 0.5))
    zshape = (z.shape[0], f.config.embed_dim, side, z.shape[1] // side)
    cond_in = net.encode_to_c(c)[0] if net.config.aligned else c
    out = net.sample(z[:, :0], cond_in, steps=z.shape[1], temperature=cfg.sample_temperature, sample=True,
                     top_k=cfg.sample_top_k, seed=seed)
    rows = [net.decode_to_img(out, zshape), net.decode_to_img(z, zshape)]
    if net.config.aligned:  # the condition itself: one-hot maps as grey levels by class, 1 channel as grey
        shown = c.argmax(1, keepdim=True) * (2.0 / max(1, c.shape[1] - 1)) - 1 if net.config.cond_stage.n_labels else c
        rows.insert(0, F.interpolate(shown[:, :3].expand(-1, 3, -1, -1) if shown.shape[1] == 1 else shown[:, :3],
                                     size=rows[0].shape[-2:], mode="nearest"))
    elif not net.be_unconditional:
        cs = net.cond_stage_model
        cside = int(round(c.shape[1] ** 0.5))
        cond = cs.decode_indices(c.reshape(c.shape[0], cside, c.shape[1] // cside))
        if cs.is_segmentation:
            from .vqgan_trainer import _display

            cond = _display(cs, cond)
        rows.insert(0, F.interpolate(cond, size=rows[0].shape[-2:], mode="nearest"))
    net.train(was_training)
    return save_grid(rows, path)


def first_stage_record(path) -> dict:
    """The decoder record of the first stage's folder (`checkpoints.decoder_record`, and how many steps its decoder
    was fine-tuned), carried into the transformer's metadata: the model card of the export says which decoder
    it holds. {} for a first stage that has none (or no folder: no first stage, a registry name)."""
    if not path or not Path(path).is_dir():
        return {}
    extra = read_config(path).get("extra") or {}
    steps = {"decoder_finetuned_steps": extra["decoder_finetuned_steps"]} if "decoder_finetuned_steps" in extra else {}
    return {**steps, **decoder_record(extra)}


def train_transformer(cfg: TransformerTrainConfig, resume: str | bool | None = None,
                      on_step: Callable[[int, dict, torch.nn.Module], bool] | None = None) -> Path:
    """Train; returns the export directory (or the final checkpoint). `on_step` as in train_vqgan."""
    return run_training(cfg, _train, resume, on_step)


def _train(cfg: TransformerTrainConfig, d: Dist, resume, on_step) -> Path:
    started = time.monotonic()  # the time budget (max_minutes) counts data preparation too
    out = Path(cfg.out_dir)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    dev = d.device
    dataset = build_dataset(cfg.data)
    check_keys(dataset, cfg.data.image_key, cfg.data.cond_key)
    torch.manual_seed(cfg.seed)
    net = build_model(cfg, dataset).to(dev)
    tokens = load_or_encode_tokens(net, dataset, cfg, d)
    trainable = net.trainable if isinstance(net, Net2NetTransformer) else net.transformer  # GPT (+ cond encoder)
    n_labels = net.config.cond_stage.n_labels if isinstance(net, Net2NetTransformer) and net.config.aligned else None
    opt = configure_optimizer(trainable, cfg.lr, cfg.weight_decay, tuple(cfg.betas))
    ema = EMA(trainable, cfg.ema_decay) if cfg.ema_decay > 0 else None

    ckpt = Checkpointer(out, cfg.keep_checkpoints)
    state = restore(net, resume, out, d.main, cfg.stop_at)
    start = int(state["step"]) if state is not None else 0
    if state is not None:
        opt.load_state_dict(state["opt"])
        if ema is not None:
            ema.load_state_dict(state["ema"])

    amp_dtype = autocast_dtype(dev, cfg.precision)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    lm = d.wrap(TokenLM(net))
    if cfg.compile:
        if dev.type == "cuda":
            lm = torch.compile(lm)
        elif d.main:
            print("[taming_lite.train] compile=true ignored: torch.compile is used on CUDA only")

    metrics = MetricsLog(out / "metrics.csv", d.main, start if state is not None else None)
    progress = Progress(cfg.steps, start, cfg.progress and d.main, "tok", f"transformer {cfg.task or ''}".strip())
    extra = {"task": cfg.task, "image_size": cfg.data.size, "cond": cfg.data.cond_key, "dataset": cfg.data.dataset,
             **first_stage_record(cfg.first_stage)}
    source = _TokenSet(tokens) if tokens is not None else dataset
    k = min(cfg.num_sample_images, len(source))
    fixed = collate(_TokenSet(tokens), list(range(k))) if tokens is not None else None

    def training_state():
        s = {"opt": opt.state_dict(), "config": config_to_dict(cfg)}
        if ema is not None:
            s["ema"] = ema.state_dict()
        return s

    def encode_batch(items):  # without a token cache: images -> tokens, conditions -> tokens (aligned: as they are)
        x = items[cfg.data.image_key].to(dev)
        c = items[cfg.data.cond_key].to(dev) if cfg.data.cond_key else x
        return net.encode_to_z(x)[1], c if isinstance(net, Net2NetTransformer) and net.config.aligned else net.encode_to_c(c)[1]

    def save_samples(step):
        if k == 0:
            return
        if fixed is not None:
            z, c = fixed["z"].long().to(dev), unpack_condition(fixed["c"], n_labels).to(dev)
        else:
            z, c = encode_batch(collate(dataset, list(range(k))))
        with autocast(dev, cfg.precision):
            sample_grid(net, z, c, cfg, out / "samples" / f"step_{step:07d}.png", seed=cfg.seed)

    stream = BatchStream(source, cfg.batch_size, cfg.seed, d, start, cfg.steps, cfg.num_workers)
    net.train()
    step = start
    with StopRequest(cfg.max_minutes, since=started) as stop:
        for batch in stream:
            gen = seed_step(cfg.seed, step, d.rank, dev)
            t0 = time.perf_counter()
            if tokens is not None:
                z, c = batch["z"].long().to(dev), unpack_condition(batch["c"], n_labels).to(dev)
            else:
                z, c = encode_batch(batch)
            lr = cfg.lr * warmup_cosine(step, cfg.steps, cfg.warmup_steps, cfg.min_lr_ratio)
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(dev, cfg.precision):
                logits, target = lm(z, c, gen)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1))
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable.parameters(),
                                                       cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
            scaler.step(opt)
            scaler.update()
            if ema is not None:
                ema.update(trainable)

            step += 1
            dt = time.perf_counter() - t0
            n_tok = z.numel() * d.world
            logs = {"loss": loss.item(), "grad_norm": float(grad_norm), "lr": lr}
            progress.update(n_tok, loss=logs["loss"])
            if d.main and (step % cfg.log_every == 0 or step == cfg.steps):
                metrics.write({"step": step, **logs, "tok_per_s": n_tok / dt})
            if d.main and cfg.sample_every and step % cfg.sample_every == 0:
                save_samples(step)
            requested = on_step(step, logs, net) if on_step is not None else False
            checkpoint_or_stop(step, cfg, d, ckpt, net, training_state, extra, stop, bool(requested), progress, out)
    progress.close()

    diff = check_ranks_agree(trainable, d)
    if diff != 0.0:
        raise RuntimeError(f"DDP ranks ended with different weights (max abs diff {diff})")
    result = out / "checkpoints" / "final"
    if d.main:
        result = ckpt.save(step, net, training_state(), extra, final=True)
        if ema is not None:
            ema.copy_to(trainable)  # sample and export the averaged weights
        save_samples(step)
        if cfg.export_dir:
            result = save_pretrained(net, cfg.export_dir, extra={**extra, "ema": ema is not None})
        print(f"[taming_lite.train] transformer done: {step} steps, {progress.rate():.0f} tok/s; weights in {result}")
    d.barrier()
    return Path(cfg.export_dir) if cfg.export_dir else result
