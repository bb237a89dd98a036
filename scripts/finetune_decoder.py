"""Fine-tune only the decoder of a trained VQGAN (L1, no GAN) and put it into the transformers that use it.

The encoder and codebook stay frozen, so every token is unchanged and transformers trained on
these tokens stay valid; only the way tokens become pixels improves. Used for the preview
weights: the short GAN phase of the preview image VQGAN left a checkerboard in the top-left
corner of every decoded image, and this removes it.

    python -m scripts.finetune_decoder --vqgan weights/vqgan_image --data runs/data/images64.npz \
        --steps 600 --into weights/completion weights/depth weights/labels weights/superres weights/pose
    python -m scripts.finetune_decoder --vqgan weights/vqgan_image --copy-only --into weights/pose
        # no training: put the VQGAN's (already fine-tuned) decoder into more transformer folders
    python -m scripts.finetune_decoder --vqgan weights/vqgan_image --decoder-from runs/preview/decoder128/export \
        --into weights/completion weights/depth weights/labels weights/superres weights/pose
        # no training: take the decoder of another VQGAN with the same encoder and codebook (e.g. the larger
        # one of `python -m taming_lite.train decoder`), save it into --vqgan (fp16) and the transformers
"""

import argparse
import time
from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from taming_lite.checkpoints import decoder_record, load_pretrained, read_config, save_pretrained
from taming_lite.data.datasets import make_dataset
from taming_lite.evaluate import psnr, ssim
from taming_lite.train.common import warmup_cosine
from taming_lite.train.decoder_trainer import grow_levels
from taming_lite.train.transformer_trainer import same_tokens
from taming_lite.vqgan import UPSAMPLE_MODES, VQGAN


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vqgan", required=True)
    p.add_argument("--data", help="npz cache (python -m taming_lite.data cache --format npz)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--ssim-weight", type=float, default=0.0,
                   help="add this x (1 - SSIM) to the L1 loss (SSIM as taming_lite.evaluate measures it)")
    p.add_argument("--ssim-window", type=int, default=11,
                   help="SSIM window of that loss (11, the standard; the decoder's fine-tunes before the "
                        "evaluation moved to it used 7)")
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                   help="learning rate: constant, or cosine decay to zero over --steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--into", nargs="*", default=[], help="Net2Net folders whose first stage gets the new decoder")
    p.add_argument("--copy-only", action="store_true", help="no training: copy the VQGAN's decoder into --into")
    p.add_argument("--decoder-from", metavar="DIR",
                   help="no training: a VQGAN folder with the same encoder and codebook whose decoder (any size, "
                        "e.g. from `python -m taming_lite.train decoder`) replaces --vqgan's, then goes --into")
    p.add_argument("--extra-upsample", choices=UPSAMPLE_MODES,
                   help="with --decoder-from: how that decoder's added levels double their features "
                        "(VQGANConfig.decoder_extra_upsample; default: as it was trained)")
    p.add_argument("--grow-decoder", type=int, nargs="+", metavar="N",
                   help="first give the decoder this many res blocks per level, highest resolution first "
                        "(VQGANConfig.decoder_num_res_blocks); the added blocks start as identities")
    args = p.parse_args()
    torch.manual_seed(args.seed)

    if args.extra_upsample and not args.decoder_from:
        p.error("--extra-upsample sets the mode of a decoder taken with --decoder-from")
    if (args.copy_only or args.decoder_from) and args.grow_decoder:
        p.error("--grow-decoder grows a decoder before training it: it does nothing with --copy-only / --decoder-from")
    vq = load_pretrained(args.vqgan)
    if args.decoder_from:
        return take_decoder(vq, args.vqgan, args.decoder_from, args.into, args.extra_upsample)
    if args.copy_only:
        extra = read_config(args.vqgan).get("extra") or {}
        return put_decoder(vq, args.into, extra.get("decoder_finetuned_steps", 0), decoder_record(extra))
    if not args.data:
        p.error("--data is required unless --copy-only")
    if args.grow_decoder:
        try:
            vq = grow_decoder(vq, tuple(args.grow_decoder))
        except ValueError as e:
            p.error(str(e))
    data = make_dataset("completion", root=args.data)
    images = torch.stack([data[i]["image"] for i in range(len(data))])  # (N, 3, H, W)
    with torch.no_grad():  # frozen encoder + codebook: quantised latents once
        quant = torch.cat([vq.encode(images[i : i + 64])[0] for i in range(0, len(images), 64)])
    held = slice(0, 64)  # also trained on; the evaluation proper uses held-out seeds (taming_lite.evaluate)
    with torch.no_grad():
        before = psnr(vq.decode(quant[held]), images[held]).mean().item()

    params = list(vq.decoder.parameters()) + list(vq.post_quant_conv.parameters())
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.9))
    g = torch.Generator().manual_seed(args.seed)
    vq.train()
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        if args.schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = args.lr * warmup_cosine(step - 1, args.steps, warmup=0, min_ratio=0.0)
        idx = torch.randint(0, len(images), (args.batch,), generator=g)
        dec = vq.decode(quant[idx])
        loss = F.l1_loss(dec, images[idx])
        if args.ssim_weight:
            loss = loss + args.ssim_weight * (1 - ssim(dec, images[idx], window=args.ssim_window).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {loss.item():.4f}  {time.perf_counter() - t0:.0f} s", flush=True)
    vq.eval()
    with torch.no_grad():
        after = psnr(vq.decode(quant[held]), images[held]).mean().item()
    print(f"PSNR on 64 training images: {before:.2f} dB -> {after:.2f} dB")

    meta = read_config(args.vqgan)
    extra = meta.get("extra") or {}
    total = extra.get("decoder_finetuned_steps", 0) + args.steps  # a fine-tune of a fine-tuned decoder adds up
    save_pretrained(vq, args.vqgan, extra={**extra, "decoder_finetuned_steps": total}, dtype=torch.float16)
    put_decoder(vq, args.into, total)


def grow_decoder(vq: VQGAN, blocks: tuple[int, ...]) -> VQGAN:
    """A copy of vq whose decoder has `blocks` res blocks per level (highest resolution first). Each
    level keeps its blocks and gets the new ones appended, zero-initialised on their last layer (conv2,
    and proj_out of an attention block), so they start as identities and the decoder's output is
    unchanged until training moves them."""
    cfg = vq.config
    old = cfg.decoder_res_blocks
    if len(blocks) != len(old) or any(b < a for a, b in zip(old, blocks)):
        raise ValueError(f"--grow-decoder needs {len(old)} counts, each >= the current {list(old)}; got {list(blocks)}")
    grown = VQGAN(replace(cfg, decoder_num_res_blocks=blocks))
    missing, unexpected = grown.load_state_dict(vq.state_dict(), strict=False)
    assert not unexpected, unexpected
    for i, (a, b) in enumerate(zip(old, blocks)):
        level = grown.decoder.up[i]
        for j in range(a + 1, b + 1):
            for layer in [level.block[j].conv2] + ([level.attn[j].proj_out] if len(level.attn) else []):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
    assert all(k.startswith("decoder.up.") for k in missing), missing  # only the new blocks start untrained
    return grown


def take_decoder(vq: VQGAN, vqgan_dir: str, source_dir: str, into: list[str],
                 extra_upsample: str | None = None) -> None:
    """Save the VQGAN of source_dir (same encoder and codebook as vq, any decoder) into vqgan_dir in fp16,
    with vqgan_dir's metadata and source_dir's record of how its decoder was trained, then into `into`.
    `extra_upsample`: the mode its added levels use from now on (it has no weights of its own)."""
    new = load_pretrained(source_dir)
    trained_mode = read_config(source_dir)["config"].get("decoder_extra_upsample", "nearest")  # older files: nearest
    if extra_upsample:  # the same weights with the other mode (grow_levels copies a decoder already that size)
        c = new.config
        new = grow_levels(new, c.decoder_extra_levels, c.decoder_extra_res_blocks, extra_upsample)
    if not same_tokens(new, vq, dtype=torch.float16):
        raise SystemExit(f"{source_dir}: its encoder / codebook differ from {vqgan_dir}'s (other tokens); not changed")
    extra = read_config(vqgan_dir).get("extra") or {}
    src = read_config(source_dir).get("extra") or {}
    steps = src.get("decoder_trained_steps", extra.get("decoder_finetuned_steps", 0))
    record = {**decoder_record(src), "decoder_trained_steps": steps}
    if extra_upsample:
        record["decoder_extra_upsample_set"] = f"{extra_upsample} (by --extra-upsample; trained with {trained_mode})"
    save_pretrained(new, vqgan_dir, extra={**extra, **record}, dtype=torch.float16)
    print(f"{vqgan_dir}: decoder from {source_dir} ({new.config.upsample_factor} output px per token)")
    put_decoder(load_pretrained(vqgan_dir), into, extra.get("decoder_finetuned_steps", 0), record)


def put_decoder(vq, folders, steps: int, more: dict | None = None) -> None:
    """Replace the decoder of each Net2Net folder's first stage by vq's (same encoder and codebook; the
    decoder's architecture may differ, e.g. grown by --grow-decoder)."""
    for d in folders:
        net = load_pretrained(d)
        if not same_tokens(net.first_stage_model, vq, dtype=torch.float16):
            raise SystemExit(f"{d}: its first stage is not this VQGAN (encoder/codebook differ); not changed")
        net.config.first_stage = vq.config
        net.first_stage_model = VQGAN(vq.config).eval()
        net.first_stage_model.load_state_dict(vq.state_dict())
        m = read_config(d)
        save_pretrained(net, d, extra={**(m.get("extra") or {}), "decoder_finetuned_steps": steps, **(more or {})},
                        dtype=torch.float16 if m.get("weights_dtype") == "float16" else None)
        print(f"{d}: decoder replaced")


if __name__ == "__main__":
    main()
