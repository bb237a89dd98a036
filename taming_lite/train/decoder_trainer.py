"""Decoder-only training: a larger, sharper decoder for a trained VQGAN's tokens.

The encoder, `quant_conv` and the codebook stay frozen, so every token, and every transformer trained on
those tokens, stays valid; only the way tokens become pixels changes. The decoder may grow by
`extra_levels` upsampling levels (`VQGANConfig.decoder_extra_levels`): it then reads the same 16x16
tokens and outputs an image 2 ** extra_levels times larger, trained against renders of the same scenes
at that size (the encoder still reads the small render). The new levels start as a bilinear upsampling
of the old decoder's image (`Decoder.init_extra_levels`), so step 0 is today's decoder, upscaled.
`train_encoder=true` trains the encoder, `quant_conv` and codebook too (the small render goes through them in
every step, plus the codebook loss): the tokens change, and every transformer on them must be retrained
(the image first stage for drawn conditions, docs/CONDITIONING.md#the-first-stage).

One step (the paper's objective, without the perceptual term: no LPIPS weights here):
    1. generator:      tokens -> decoder -> x_rec (large);  L1 + ssim_weight (1 - SSIM) + L1 at the input
                       size (lowres_weight) and at colour_size px (colour_weight)
                       + adaptive weight x (-D(x_rec))  + feature_weight x feature matching
                       (L1 between D's intermediate features of x_rec and of the real render)
    2. discriminator:  hinge loss on D(x) vs D(x_rec.detach()), from `loss.disc_start` on;
                       the generator gets the GAN terms `loss.disc_warmup` steps later (D learns first).

Data: `data.num_samples` scenes of `data.dataset` (options e.g. source: both) at seed `data.seed`, rendered
once at both sizes into an npz cache (`data.root`, default <out_dir>/pairs.npz), then encoded to tokens.

    python -m taming_lite.train decoder --config configs/preview/decoder128.yaml max_minutes=50
    python -m taming_lite.train decoder --config configs/preview/decoder128.yaml --resume max_minutes=50
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import load_pretrained, read_config, save_pretrained
from ..vqgan import VQGAN
from .common import (BatchStream, Checkpointer, Dist, MetricsLog, Progress, StopRequest, checkpoint_or_stop, collate,
                     restore, run_training, save_grid, seed_step)
from .config import DecoderTrainConfig, config_to_dict
from .losses import D_LOSSES, NLayerDiscriminator, adaptive_weight


def grow_levels(vq: VQGAN, extra_levels: int, extra_res_blocks: int = 1, extra_upsample: str = "bilinear") -> VQGAN:
    """A copy of vq whose decoder has `extra_levels` more upsampling levels (encoder, codebook and the
    existing decoder weights copied), starting as vq's output upsampled bilinearly. A vq that already has
    that many levels is returned as a copy (with `extra_upsample` set: the mode has no weights, so a decoder
    trained with one mode can go on training with the other)."""
    cfg = vq.config
    if cfg.decoder_extra_levels == extra_levels and cfg.decoder_extra_res_blocks == extra_res_blocks:
        grown = VQGAN(replace(cfg, decoder_extra_upsample=extra_upsample))
        grown.load_state_dict(vq.state_dict())
        return grown
    if cfg.decoder_extra_levels != 0:
        raise ValueError(f"the VQGAN already has {cfg.decoder_extra_levels} extra decoder levels; "
                         f"start from one without (or with exactly {extra_levels})")
    grown = VQGAN(replace(cfg, decoder_extra_levels=extra_levels, decoder_extra_res_blocks=extra_res_blocks,
                          decoder_extra_upsample=extra_upsample))
    missing, unexpected = grown.load_state_dict(vq.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("decoder.extra") for k in missing), (missing, unexpected)
    grown.decoder.init_extra_levels()
    return grown


def disc_features(disc: NLayerDiscriminator, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The PatchGAN's activations after each LeakyReLU, and its logits."""
    feats = []
    h = x
    for layer in disc.main:
        h = layer(h)
        if isinstance(layer, nn.LeakyReLU):
            feats.append(h)
    return feats, h


def blur121(x: torch.Tensor) -> torch.Tensor:
    """A [1, 2, 1] x [1, 2, 1] / 16 binomial blur per channel (reflect padding): zero response at the pixel grid's
    own frequency (1/2 cycle per pixel), half the amplitude at 1/4."""
    k = torch.tensor([1.0, 2.0, 1.0], device=x.device, dtype=x.dtype)
    k = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), k, groups=x.shape[1])


def nyquist_notch(x: torch.Tensor) -> torch.Tensor:
    """x without its row and column alternation: the FFT's Nyquist row and column (1/2 cycle per pixel
    vertically or horizontally) set to zero, every other frequency untouched. (B, C, H, W), H and W even."""
    X = torch.fft.rfft2(x.float())
    X[..., x.shape[-2] // 2, :] = 0
    X[..., x.shape[-1] // 2] = 0
    return torch.fft.irfft2(X, s=x.shape[-2:]).to(x.dtype)


# What the discriminator sees (`loss.disc_filter`): the human renders' aliased horizontal edges put ~15x the
# landscapes' power at 1/2 cycle per pixel, and a discriminator that sees it teaches the decoder to paint row
# alternation everywhere. "notch" hides exactly that frequency; "blur" hides it and halves the detail at 1/4
# (the discriminator then barely separates, and the decoder drifts to the L1 blur).
DISC_FILTERS = {"none": lambda x: x, "notch": nyquist_notch, "blur": blur121}


def area_l1(a: torch.Tensor, b: torch.Tensor, size: int) -> torch.Tensor:
    """L1 of `a` and `b` area-downsampled to size x size px (the lowres and colour terms)."""
    return F.l1_loss(F.interpolate(a, size=size, mode="area"), F.interpolate(b, size=size, mode="area"))


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the L1 distance between the discriminator features of fake and (detached) real."""
    return sum(F.l1_loss(f, r.detach()) for f, r in zip(fake, real)) / len(fake)


class PairCache(torch.utils.data.Dataset):
    """Tokens of the small render and the large render of the same scene: {"tokens": (h, w) long,
    "target": (3, S, S) float in [-1, 1]}, and with `small` the small render itself ("small", (3, s, s))."""

    def __init__(self, tokens: torch.Tensor, targets: np.ndarray, small: np.ndarray | None = None):
        self.tokens, self.targets, self.small = tokens, targets, small  # (N, h, w) long; (N, S, S, 3) uint8

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, i):
        item = {"tokens": self.tokens[i], "target": _to_tensor(self.targets[i])}
        if self.small is not None:
            item["small"] = _to_tensor(self.small[i])
        return item


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (3, H, W) in [-1, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float().div(127.5).sub(1.0)


def render_pairs(cfg: DecoderTrainConfig, in_size: int, path: Path, show: bool = True) -> dict:
    """Render (or read from `path`) the scenes at in_size and at data.size: {"small", "large"} uint8 arrays."""
    if path.is_file():
        with np.load(path) as f:
            pairs = {"small": f["small"], "large": f["large"]}
            ss = int(f["supersample"]) if "supersample" in f.files else 1
        if len(pairs["small"]) >= cfg.data.num_samples and pairs["large"].shape[1] == cfg.data.size \
                and pairs["small"].shape[1] == in_size and ss == cfg.supersample:
            return {k: v[: cfg.data.num_samples] for k, v in pairs.items()}
        raise ValueError(f"{path} holds {len(pairs['small'])} pairs of {pairs['small'].shape[1]} / "
                         f"{pairs['large'].shape[1]} px (supersampled {ss}x), not {cfg.data.num_samples} of {in_size} / "
                         f"{cfg.data.size} (supersampled {cfg.supersample}x): delete it or point data.root elsewhere")
    from tqdm.auto import tqdm

    from ..data.datasets import ProceduralDataset
    from ..data.transforms import area_downsample

    ds_small = ProceduralDataset(cfg.data.dataset, size=in_size, seed=cfg.data.seed, **cfg.data.options)
    S, k = cfg.data.size, cfg.supersample
    ds_large = ProceduralDataset(cfg.data.dataset, size=S * k, seed=cfg.data.seed, **cfg.data.options)
    n = cfg.data.num_samples
    small = np.empty((n, in_size, in_size, 3), np.uint8)
    large = np.empty((n, S, S, 3), np.uint8)
    for i in tqdm(range(n), desc="rendering pairs", disable=not show):
        small[i], big = ds_small.arrays(i)["image"], ds_large.arrays(i)["image"]
        large[i] = big if k == 1 else area_downsample(big, k)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, small=small, large=large, supersample=k)
    tmp.rename(path)
    return {"small": small, "large": large}


@torch.no_grad()
def encode_images(vq: VQGAN, images: np.ndarray, batch: int = 64) -> torch.Tensor:
    """uint8 (N, s, s, 3) -> token indices (N, s/f, s/f) of the frozen encoder."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        out.append(vq.encode_to_indices(x))
    return torch.cat(out)


def cached_tokens(vq: VQGAN, images: np.ndarray, path: Path) -> torch.Tensor:
    """`encode_images`, saved to `path` and read back on the next start (a resume) when the images and the
    encoder are the same (checked by a fingerprint of both)."""
    fingerprint = torch.tensor([float(images[:: max(1, len(images) // 64)].astype(np.float64).sum()), len(images),
                                float(sum(p.detach().double().sum() for p in vq.encoder.parameters())),
                                float(vq.quantize.embedding.weight.detach().double().sum())], dtype=torch.float64)
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        if torch.equal(saved["fingerprint"], fingerprint):
            return saved["tokens"].long()
    tokens = encode_images(vq, images)
    small = torch.int16 if vq.config.n_embed <= torch.iinfo(torch.int16).max else torch.int32
    torch.save({"tokens": tokens.to(small), "fingerprint": fingerprint}, path)
    return tokens


def train_decoder(cfg: DecoderTrainConfig, resume: str | bool | None = None,
                  on_step: Callable[[int, dict, torch.nn.Module], bool] | None = None) -> Path:
    """Train; returns the export directory (or the final checkpoint if `export_dir` is not set)."""
    return run_training(cfg, _train, resume, on_step)


def _train(cfg: DecoderTrainConfig, d: Dist, resume, on_step) -> Path:
    started = time.monotonic()
    if d.enabled:
        raise ValueError("the decoder trainer runs in one process (no torchrun)")
    if cfg.loss.disc_filter not in DISC_FILTERS:
        raise ValueError(f"loss.disc_filter must be one of {sorted(DISC_FILTERS)}, got {cfg.loss.disc_filter!r}")
    if cfg.supersample < 1:
        raise ValueError(f"supersample must be at least 1, got {cfg.supersample}")
    from ..evaluate import ssim

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = d.device
    source = load_pretrained(cfg.vqgan).float().eval()
    torch.manual_seed(cfg.seed)
    model = grow_levels(source, cfg.extra_levels, cfg.extra_res_blocks, cfg.extra_upsample).to(dev)
    in_size = source.config.resolution
    factor = model.config.upsample_factor // model.config.downsample_factor
    if cfg.data.size != in_size * factor:
        raise ValueError(f"data.size must be the decoder's output size {in_size * factor} "
                         f"({in_size} px in, {factor}x larger out), got {cfg.data.size}")

    pairs = render_pairs(cfg, in_size, Path(cfg.data.root) if cfg.data.root else out / "pairs.npz", cfg.progress)
    tokens = cached_tokens(source, pairs["small"], out / "tokens.pt")
    dataset = PairCache(tokens, pairs["large"], pairs["small"] if cfg.train_encoder else None)

    for p in model.parameters():
        p.requires_grad_(False)
    trained = list(model.parameters()) if cfg.train_encoder else \
        list(model.decoder.parameters()) + list(model.post_quant_conv.parameters())
    for p in trained:
        p.requires_grad_(True)
    disc = NLayerDiscriminator(3, cfg.loss.disc_ndf, cfg.loss.disc_num_layers).to(dev)
    d_loss_fn = D_LOSSES[cfg.loss.disc_loss]
    opt_g = torch.optim.Adam(trained, lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr or cfg.lr, betas=cfg.betas)

    ckpt = Checkpointer(out, cfg.keep_checkpoints)
    state = restore(model, resume, out, stop_at=cfg.stop_at)
    start = int(state["step"]) if state is not None else 0
    if state is not None:
        opt_g.load_state_dict(state["opt_g"])
        disc.load_state_dict(state["discriminator"])
        opt_d.load_state_dict(state["opt_d"])
        for opt, lr in ((opt_g, cfg.lr), (opt_d, cfg.disc_lr or cfg.lr)):  # the config's rates win (e.g. lower
            for group in opt.param_groups:                                 # ones to settle a resumed run)
                group["lr"] = lr

    source_extra = read_config(cfg.vqgan).get("extra") or {}
    extra = {**source_extra, "output_size": cfg.data.size,
             "decoder": f"trained by taming_lite.train decoder from {cfg.vqgan}"
                        + (" (encoder and codebook too: new tokens)" if cfg.train_encoder else "")}
    metrics = MetricsLog(out / "metrics.csv", True, start if state is not None else None)
    fixed = {k: v.to(dev) for k, v in collate(dataset, list(range(min(4, len(dataset))))).items()}  # for grids
    progress = Progress(cfg.steps, start, cfg.progress, "img", "decoder")

    def training_state():
        return {"opt_g": opt_g.state_dict(), "discriminator": disc.state_dict(), "opt_d": opt_d.state_dict(),
                "config": config_to_dict(cfg)}

    def save_samples(step):
        model.eval()
        with torch.no_grad():
            rec = model(fixed["small"])[0] if cfg.train_encoder else model.decode_indices(fixed["tokens"])
        save_grid([fixed["target"], rec], out / "samples" / f"step_{step:07d}.png")
        model.train()

    lw = cfg.loss
    seen = DISC_FILTERS[lw.disc_filter]  # what the discriminator sees
    stream = BatchStream(dataset, cfg.batch_size, cfg.seed, d, start, cfg.steps, cfg.num_workers)
    model.train()
    disc.train()
    step = start
    with StopRequest(cfg.max_minutes, since=started) as stop:
        for batch in stream:
            seed_step(cfg.seed, step, d.rank)
            t0 = time.perf_counter()
            x = batch["target"].to(dev)
            if cfg.train_encoder:  # the small render through the encoder and codebook being trained
                quant, qloss, _ = model.encode(batch["small"].to(dev))
            else:
                with torch.no_grad():
                    quant = model.quantize.lookup(batch["tokens"].to(dev))
            x_rec = model.decode(quant)

            # 1. generator (the decoder; with train_encoder also the encoder and codebook)
            l1 = (x - x_rec).abs().mean()
            rec = lw.l1_weight * l1
            logs = {"l1": l1.item()}
            if cfg.train_encoder:
                rec = rec + qloss
                logs["codebook"] = qloss.item()
            if lw.ssim_weight > 0:
                s = ssim(x_rec, x).mean()
                rec = rec + lw.ssim_weight * (1 - s)
                logs["ssim"] = s.item()
            # L1 at the input size (the colours and layout the tokens carry), and at colour_size (the coarse
            # colours: a drawn region's colour; blurred renders read as well)
            for name, weight, size in (("l1_lowres", lw.lowres_weight, in_size),
                                       ("l1_colour", lw.colour_weight, lw.colour_size)):
                if weight > 0:
                    term = area_l1(x_rec, x, size)
                    rec = rec + weight * term
                    logs[name] = term.item()
            loss = rec
            if step >= lw.disc_start + lw.disc_warmup:
                disc.requires_grad_(False)
                feats, logits = disc_features(disc, seen(torch.cat([x, x_rec])))
                n = len(x)
                g_loss = -logits[n:].mean()
                d_weight = adaptive_weight(rec, g_loss, model.last_layer(), lw.disc_weight)
                loss = loss + d_weight * lw.disc_factor * g_loss
                logs.update(g=g_loss.item(), d_weight=float(d_weight))
                if lw.feature_weight > 0:
                    fm = feature_matching([f[n:] for f in feats], [f[:n] for f in feats])
                    loss = loss + lw.feature_weight * fm
                    logs["fm"] = fm.item()
                disc.requires_grad_(True)
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()

            # 2. discriminator
            if step >= lw.disc_start:
                logits = disc(seen(torch.cat([x, x_rec.detach()])))
                real, fake = logits.chunk(2)
                d_loss = lw.disc_factor * d_loss_fn(real, fake)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                logs.update(d=d_loss.item(), logits_real=real.mean().item(), logits_fake=fake.mean().item())
            logs["loss"] = loss.item()

            step += 1
            dt = time.perf_counter() - t0
            progress.update(x.shape[0], loss=logs["loss"], l1=logs["l1"])
            if step % cfg.log_every == 0 or step == cfg.steps:
                metrics.write({"step": step, **logs, "lr": cfg.lr, "img_per_s": x.shape[0] / dt,
                               "minutes_this_run": (time.monotonic() - started) / 60})
            if cfg.sample_every and step % cfg.sample_every == 0:
                save_samples(step)
            requested = on_step(step, logs, model) if on_step is not None else False
            checkpoint_or_stop(step, cfg, d, ckpt, model, training_state, extra, stop, bool(requested), progress, out)
    progress.close()

    result = ckpt.save(step, model, training_state(), extra, final=True)
    save_samples(step)
    if cfg.export_dir:
        result = save_pretrained(model.eval(), cfg.export_dir, extra={**extra, "decoder_trained_steps": step})
    print(f"[taming_lite.train] decoder done: {step} steps, {progress.rate():.1f} img/s; weights in {result}")
    return Path(cfg.export_dir) if cfg.export_dir else result
