"""VQGAN training loop (image, depth, low-res, skeleton and segmentation VQGANs).

One step, as the original's two-optimizer Lightning module:
    1. generator:      x -> VQGAN -> x_rec;  L1 (+ LPIPS) + codebook loss + adaptive-weighted GAN loss
                       (the segmentation VQGAN: BCE on one-hot labels + codebook loss, no GAN)
    2. discriminator:  hinge loss on D(x) vs D(x_rec.detach()), from `loss.disc_start` on
Every `dead_code_every` steps, codes no input used in that window are re-initialised to randomly
chosen encoder outputs of the current batch (their Adam moments reset), against codebook collapse.
Codebook usage (fraction of codes used in the window) and perplexity (of the batch's code
histogram) are logged with the losses.

    from taming_lite.train import load_config, train_vqgan
    train_vqgan(load_config("vqgan", "configs/vqgan_image.yaml", ["steps=200"]))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoints import save_pretrained
from ..device import autocast, autocast_dtype
from ..vqgan import VQGAN, VQGANConfig
from .common import (_mix, BatchStream, Checkpointer, Dist, MetricsLog, Progress, StopRequest, check_ranks_agree,
                     checkpoint_or_stop, collate, restore, run_training, save_grid, seed_step)
from .config import VQGANTrainConfig, config_to_dict
from .data import build_dataset, check_keys
from .losses import VQLoss, segmentation_loss


def build_vqgan(cfg: VQGANTrainConfig, channels: int) -> VQGAN:
    """The VQGAN of a config: `model` fields, with resolution and channels defaulting to the data's; with
    `init_from`, the weights of that VQGAN (whose config must be the same)."""
    fields = {"resolution": cfg.data.size, "in_channels": channels, "out_ch": channels, **cfg.model}
    model = VQGAN(VQGANConfig(**fields))
    if cfg.init_from:
        from ..checkpoints import load_stage

        src = load_stage(cfg.init_from, cfg.init_from_stage)
        if src.config != model.config:
            raise ValueError(f"init_from {cfg.init_from!r} ({cfg.init_from_stage}): its config {src.config} differs "
                             f"from this run's {model.config}")
        model.load_state_dict({k: v.float() for k, v in src.state_dict().items()})
    return model


def codebook_stats(counts: torch.Tensor) -> tuple[float, float]:
    """Code histogram -> (fraction of codes used, perplexity = exp(entropy))."""
    total = counts.sum()
    if total == 0:
        return 0.0, 0.0
    p = counts.float() / total
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float((counts > 0).float().mean()), float(entropy.exp())


@torch.no_grad()
def reinit_dead_codes(model: VQGAN, x: torch.Tensor, counts: torch.Tensor, threshold: float,
                      generator: torch.Generator, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Codes used at most `threshold` times (counts: (n_embed,)) get random encoder outputs of x.
    Returns how many codes were re-initialised. Call with the same generator state on every rank and
    broadcast the codebook afterwards (the trainer does)."""
    dead = (counts <= threshold).nonzero().flatten()
    if dead.numel() == 0:
        return 0
    z = model.quant_conv(model.encoder(x))  # (B, embed_dim, h, w), before quantisation
    z = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])  # (B*h*w, embed_dim)
    pick = torch.randint(0, z.shape[0], (dead.numel(),), generator=generator).to(z.device)
    weight = model.quantize.embedding.weight
    weight[dead] = z[pick].to(weight.dtype)
    if optimizer is not None:  # stale moments would drag the new entries back
        st = optimizer.state.get(weight, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                st[key][dead] = 0
    return int(dead.numel())


def _display(model: VQGAN, t: torch.Tensor) -> torch.Tensor:
    """Model input/output -> something save_grid shows: segmentation maps in the label palette."""
    if not model.is_segmentation:
        return t
    from ..data import NUM_CLASSES, PALETTE

    if t.shape[1] == NUM_CLASSES:
        pal = torch.from_numpy(PALETTE).float().to(t.device) / 127.5 - 1  # (K, 3)
        return pal[t.argmax(1)].permute(0, 3, 1, 2)
    return model.to_rgb(t)


def train_vqgan(cfg: VQGANTrainConfig, resume: str | bool | None = None,
                on_step: Callable[[int, dict, torch.nn.Module], bool] | None = None) -> Path:
    """Train; returns the export directory (or the final checkpoint if `export_dir` is not set).
    `on_step(step, logs, model)` runs after every step (model: the plain VQGAN); returning True
    requests a stop as Ctrl-C does."""
    return run_training(cfg, _train, resume, on_step)


def _train(cfg: VQGANTrainConfig, d: Dist, resume, on_step) -> Path:
    started = time.monotonic()  # the time budget (max_minutes) counts data preparation too
    out = Path(cfg.out_dir)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    dev = d.device
    dataset = build_dataset(cfg.data)
    check_keys(dataset, cfg.data.image_key)
    channels = dataset[0][cfg.data.image_key].shape[0]

    torch.manual_seed(cfg.seed)  # same init on every rank (DDP also broadcasts rank 0's)
    model = build_vqgan(cfg, channels).to(dev)
    seg = model.is_segmentation
    vqloss = None if seg else VQLoss(cfg.loss, channels).to(dev)
    opt_ae = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = None if seg else torch.optim.Adam(vqloss.discriminator.parameters(), lr=cfg.lr, betas=cfg.betas)
    counts = torch.zeros(model.config.n_embed, dtype=torch.long, device=dev)  # code use since the last re-init

    ckpt = Checkpointer(out, cfg.keep_checkpoints)
    state = restore(model, resume, out, d.main, cfg.stop_at)
    start = int(state["step"]) if state is not None else 0
    if state is not None:
        opt_ae.load_state_dict(state["opt_ae"])
        if not seg:
            vqloss.discriminator.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
        counts.copy_(state["code_counts"])
    if start >= cfg.steps and d.main:
        print(f"[taming_lite.train] checkpoint is at step {start} >= steps={cfg.steps}; nothing to train")

    amp_dtype = autocast_dtype(dev, cfg.precision)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    ddp_model = d.wrap(model)
    ddp_disc = None if seg else d.wrap(vqloss.discriminator)
    if cfg.compile:
        if dev.type == "cuda":
            ddp_model = torch.compile(ddp_model)
        elif d.main:
            print("[taming_lite.train] compile=true ignored: torch.compile is used on CUDA only")

    metrics = MetricsLog(out / "metrics.csv", d.main, start if state is not None else None)
    fixed = collate(dataset, list(range(min(4, len(dataset)))))[cfg.data.image_key].to(dev)  # for grids
    progress = Progress(cfg.steps, start, cfg.progress and d.main, "img", f"vqgan {cfg.task or ''}".strip())
    extra = {"task": cfg.task, "image_size": cfg.data.size, "cond": None, "key": cfg.data.image_key,
             "dataset": cfg.data.dataset}

    def training_state():
        s = {"opt_ae": opt_ae.state_dict(), "code_counts": counts.cpu(), "config": config_to_dict(cfg)}
        if not seg:
            s.update(discriminator=vqloss.discriminator.state_dict(), opt_d=opt_d.state_dict())
        return s

    def save_samples(step):
        model.eval()
        with torch.no_grad(), autocast(dev, cfg.precision):
            rec = model(fixed)[0]
        save_grid([_display(model, fixed), _display(model, rec)], out / "samples" / f"step_{step:07d}.png")
        model.train()

    stream = BatchStream(dataset, cfg.batch_size, cfg.seed, d, start, cfg.steps, cfg.num_workers)
    model.train()
    step = start
    with StopRequest(cfg.max_minutes, since=started) as stop:
        for batch in stream:
            seed_step(cfg.seed, step, d.rank)  # reseeds the global RNG (dropout, dead codes): exact resume
            t0 = time.perf_counter()
            x = batch[cfg.data.image_key].to(dev, non_blocking=True)

            # 1. generator (autoencoder + codebook)
            with autocast(dev, cfg.precision):
                x_rec, qloss, indices = ddp_model(x)
            x_rec = x_rec.float()
            if seg:
                loss, logs = segmentation_loss(qloss.float(), x, x_rec, cfg.loss.codebook_weight)
            else:
                disc = vqloss.discriminator
                disc.requires_grad_(False)  # gradients flow through D to x_rec, not into D
                with autocast(dev, cfg.precision):
                    loss, logs = vqloss.generator_loss(qloss.float(), x, x_rec, step, model.last_layer(), disc)
                disc.requires_grad_(True)
            opt_ae.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt_ae)

            # 2. discriminator
            if not seg and step >= cfg.loss.disc_start:
                with autocast(dev, cfg.precision):
                    d_loss, d_logs = vqloss.discriminator_loss(x, x_rec, step, ddp_disc)
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(d_loss).backward()
                scaler.step(opt_d)
                logs.update(d_logs)
            scaler.update()

            # codebook bookkeeping
            batch_counts = torch.bincount(indices.flatten(), minlength=model.config.n_embed)
            counts += batch_counts
            usage_batch, perplexity = codebook_stats(d.all_reduce_sum(batch_counts.clone()))
            logs.update(loss=loss.item(), perplexity=perplexity, usage_batch=usage_batch)
            if cfg.dead_code_every and (step + 1) % cfg.dead_code_every == 0:
                window = d.all_reduce_sum(counts.clone())
                logs["usage"] = float((window > cfg.dead_code_threshold).float().mean())
                shared = torch.Generator().manual_seed(_mix(cfg.seed, step, 4))  # same on every rank
                logs["dead_reinit"] = reinit_dead_codes(model, x, window, cfg.dead_code_threshold, shared, opt_ae)
                d.broadcast(model.quantize.embedding.weight.data)  # rank 0's encoder outputs win
                counts.zero_()

            step += 1
            dt = time.perf_counter() - t0
            progress.update(x.shape[0] * d.world, loss=logs["loss"], ppl=perplexity)
            if d.main and (step % cfg.log_every == 0 or step == cfg.steps):
                metrics.write({"step": step, **logs, "lr": cfg.lr, "img_per_s": x.shape[0] * d.world / dt})
            if d.main and cfg.sample_every and step % cfg.sample_every == 0:
                save_samples(step)
            requested = on_step(step, logs, model) if on_step is not None else False
            checkpoint_or_stop(step, cfg, d, ckpt, model, training_state, extra, stop, bool(requested), progress, out)
    progress.close()

    diff = check_ranks_agree(model, d)
    if diff != 0.0:
        raise RuntimeError(f"DDP ranks ended with different weights (max abs diff {diff})")
    result = out / "checkpoints" / "final"
    if d.main:
        result = ckpt.save(step, model, training_state(), extra, final=True)
        save_samples(step)
        if cfg.export_dir:
            result = save_pretrained(model, cfg.export_dir, extra=extra)
        rate = progress.rate()
        print(f"[taming_lite.train] vqgan done: {step} steps, {rate:.1f} img/s; weights in {result}")
    d.barrier()
    return Path(cfg.export_dir) if cfg.export_dir else result
