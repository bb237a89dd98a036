"""The paper's Fig. 7 experiment at our scale: one fixed 16x16-token window over pixels (f = 1) vs codes
(f = 2, 4), the same output size (64x64) and the same transformer compute.

    python -m scripts.pixels_vs_codes                       # full settings -> notebooks/results/pixels_vs_codes.npz
    python -m scripts.pixels_vs_codes --quick --out /tmp/x.npz

What is held equal: the images (procedural landscapes, 64x64), the vocabulary (256 palette colours or 256
codebook entries), the GPT (shape, optimiser, steps, batch, sequence length 256 = one 16x16 window, so the same
FLOPs per step) and the sampler (the sliding window of taming_lite.sampling with the same top-k). What differs
is only what one token stands for: f = 1 a pixel (palette index, k-means), f = 2 and f = 4 a 2x2 or 4x4 patch
(a small VQGAN each, trained with the project's trainer for the same number of steps, L1 + codebook loss).
So the window covers 16x16 pixels at f = 1 (1/16 of the image), 32x32 at f = 2 and the whole image at f = 4.

Not held equal (stated in notebook 5): the tokenizers' own cost and loss (the palette is near lossless and
costs a k-means; the VQGANs are lossy and cost training), and what the GPT sees per step (f = 1: a 16x16-pixel
crop, f = 4: a whole image).

Notebook 5 loads the file this writes when its settings are the ones asked for, and runs `run` otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from taming_lite import load_pretrained
from taming_lite.data import render_landscape
from taming_lite.data.datasets import image_to_tensor
from taming_lite.evaluate import frechet_distance, psnr, segmenter_features
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.pixelgpt import PaletteOnly, fit_palette, palette_colours, palette_indices
from taming_lite.sampling import make_generator, sample_sliding_window
from taming_lite.images import tensor_to_rgb
from taming_lite.train import load_config, read_metrics, train_vqgan

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "notebooks" / "results" / "pixels_vs_codes.npz"
FACTORS = (1, 2, 4)
CH_MULT = {2: (1, 1), 4: (1, 1, 2)}  # the VQGAN's levels for each f (each level after the first halves the size)


@dataclass(frozen=True)
class Settings:
    size: int = 64            # image side (pixels), for every f
    window: int = 16          # the GPT's window side in tokens (sequence: start token + window^2 - 1)
    vocab: int = 256          # palette colours (f = 1) or codebook entries (f = 2, 4)
    n_train: int = 1000       # training renders (seeds (0, i))
    n_test: int = 64          # held-out renders (seeds (1, i)) for tokenizer PSNR, GPT loss and the Frechet reference
    vqgan_steps: int = 1000   # each VQGAN (batch 8)
    gpt_steps: int = 1000     # each GPT (the equal compute)
    batch: int = 16
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    lr: float = 1e-3
    n_samples: int = 32       # unconditional samples per model
    top_k: int = 64
    seed: int = 0


QUICK = Settings(size=32, window=8, vocab=32, n_train=32, n_test=8, vqgan_steps=6, gpt_steps=6, batch=4,
                 n_layer=1, n_head=2, n_embd=32, n_samples=2, top_k=16)


def renders(n: int, size: int, seed: int) -> torch.Tensor:
    """n procedural landscapes (seeds (seed, i)) as (n, 3, size, size) in [-1, 1]."""
    return torch.stack([image_to_tensor(render_landscape((seed, i), size, size).image) for i in range(n)])


class Palette:
    """f = 1: a pixel is a token, its index in a k-means palette."""

    factor = 1

    def __init__(self, train: torch.Tensor, k: int, seed: int):
        pixels = train.permute(0, 2, 3, 1).reshape(-1, 3)
        pick = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))[:200_000]
        self.palette = fit_palette(pixels[pick], k, seed=seed)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, S, S)
        return palette_indices(x, self.palette)

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # (B, S, S) -> (B, 3, S, S)
        return palette_colours(z, self.palette)


class Codes:
    """f = 2 or 4: a small VQGAN trained here with the project's trainer (L1 + codebook loss, no GAN)."""

    def __init__(self, factor: int, train: torch.Tensor, s: Settings, work: Path):
        self.factor = factor
        npz = work / "train.npz"
        if not npz.exists():
            np.savez(npz, image=np.stack(tensor_to_rgb(train)))
        out = work / f"vqgan_f{factor}"
        cfg = load_config("vqgan", REPO / "configs" / "tiny_vqgan.yaml", [
            f"out_dir={out}", f"export_dir={out / 'export'}", f"steps={s.vqgan_steps}", "batch_size=8", "lr=1e-3",
            f"model.ch_mult={list(CH_MULT[factor])}", f"model.n_embed={s.vocab}", "model.embed_dim=16",
            "loss.disc_start=1000000000", "data.dataset=completion", f"data.root={npz}", f"data.size={s.size}",
            "progress=false", "log_every=25", "sample_every=0", "ckpt_every=0", "threads=1", f"seed={s.seed}",
            f"dead_code_every={max(10, s.vqgan_steps // 10)}"])
        with torch.enable_grad():
            self.model = load_pretrained(train_vqgan(cfg), device="cpu").eval()
        self.log = read_metrics(out / "metrics.csv")

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, S/f, S/f)
        return torch.cat([self.model.encode_to_indices(x[i:i + 64]) for i in range(0, len(x), 64)])

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:  # (B, S/f, S/f) -> (B, 3, S, S)
        return torch.cat([self.model.decode_indices(z[i:i + 64]) for i in range(0, len(z), 64)]).clamp(-1, 1)


def random_windows(grids: torch.Tensor, n: int, w: int, g: torch.Generator) -> torch.Tensor:
    """n random w x w crops of random token grids (N, H, W) -> (n, w*w), raster order."""
    N, H, W = grids.shape
    img = torch.randint(0, N, (n,), generator=g)
    top = torch.randint(0, H - w + 1, (n,), generator=g)
    left = torch.randint(0, W - w + 1, (n,), generator=g)
    return torch.stack([grids[i, t:t + w, l:l + w].reshape(-1) for i, t, l in zip(img, top, left)])


def window_loss(gpt: GPT, windows: torch.Tensor, sos: int) -> torch.Tensor:
    """Mean cross-entropy (nats/token) of a window's tokens given the start token and the tokens before them."""
    start = torch.full((len(windows), 1), sos, dtype=torch.long)
    logits, _ = gpt(torch.cat((start, windows[:, :-1]), 1))
    return F.cross_entropy(logits[..., :sos].reshape(-1, sos), windows.reshape(-1))


def train_gpt(grids: torch.Tensor, test_grids: torch.Tensor, s: Settings) -> tuple[GPT, list[tuple[int, float]], float]:
    """A GPT on random windows of the token grids (one start token, then the window's tokens); returns the model,
    its (step, training loss) log and the loss on fixed windows of the held-out grids."""
    torch.manual_seed(s.seed)
    cfg = GPTConfig(vocab_size=s.vocab + 1, block_size=s.window * s.window, n_layer=s.n_layer, n_head=s.n_head,
                    n_embd=s.n_embd)
    gpt = GPT(cfg)
    opt = gpt.configure_optimizer(s.lr)
    g = torch.Generator().manual_seed(s.seed)
    log, warmup = [], max(1, s.gpt_steps // 20)
    for step in range(1, s.gpt_steps + 1):
        lr = s.lr * min(1.0, step / warmup) * 0.5 * (1 + math.cos(math.pi * step / s.gpt_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = window_loss(gpt, random_windows(grids, s.batch, s.window, g), s.vocab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == s.gpt_steps:
            log.append((step, float(loss.detach())))
    gpt.eval()
    with torch.no_grad():
        test = random_windows(test_grids, 4 * len(test_grids), s.window, torch.Generator().manual_seed(1))
        test_loss = float(window_loss(gpt, test, s.vocab))
    return gpt, log, test_loss


def run(s: Settings = Settings(), work: Path | None = None, evaluator=None, progress=print) -> dict:
    """Train the three tokenizers and GPTs and sample from each; returns arrays and numbers (see `save`)."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with contextlib.nullcontext(work) if work else tempfile.TemporaryDirectory(prefix="pixels_vs_codes_") as work:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        train, test = renders(s.n_train, s.size, 0), renders(s.n_test, s.size, 1)
        progress(f"rendered {len(train)} + {len(test)} landscapes at {s.size} px ({time.perf_counter() - t0:.0f} s)")
        if evaluator is not None:  # Frechet distances to the held-out renders, in the segmenter's feature space
            test_features = segmenter_features(evaluator, test)
            frechet = lambda x: frechet_distance(segmenter_features(evaluator, x), test_features)  # noqa: E731
        out = {"settings": asdict(s), "real": test[: s.n_samples], "models": {}}
        for f in FACTORS:
            t = time.perf_counter()
            tok = Palette(train, s.vocab, s.seed) if f == 1 else Codes(f, train, s, work)
            t_tok = time.perf_counter() - t
            grids, test_grids = tok.encode(train), tok.encode(test)
            rec = tok.decode(test_grids)
            t = time.perf_counter()
            with torch.enable_grad():
                gpt, log, test_loss = train_gpt(grids, test_grids, s)
            t_gpt = time.perf_counter() - t
            side = s.size // f
            sos = torch.full((s.n_samples, 1), s.vocab, dtype=torch.long)
            t = time.perf_counter()
            empty = torch.zeros(s.n_samples, side, side, dtype=torch.long)
            z = sample_sliding_window(PaletteOnly(gpt, s.vocab), sos, empty, window=(s.window, s.window),
                                      top_k=s.top_k, generator=make_generator(s.seed))
            t_sample = time.perf_counter() - t
            samples = tok.decode(z)
            m = {"f": f, "tokens_per_image": side * side, "grid": side,
                 "window_px": s.window * f, "window_share": min(1.0, (s.window * f / s.size) ** 2),
                 "bits_per_image": side * side * math.log2(s.vocab),
                 "tokenizer_psnr": float(psnr(rec, test).mean()),
                 "tokenizer_seconds": t_tok, "gpt_seconds": t_gpt, "sample_seconds_per_image": t_sample / s.n_samples,
                 "gpt_test_nats_per_token": test_loss,
                 "gpt_test_bits_per_image": test_loss / math.log(2) * side * side,
                 "gpt_log": log,
                 "vqgan_log": [(int(r["step"]), float(r["rec"])) for r in getattr(tok, "log", [])]}
            if evaluator is not None:
                m["frechet"], m["frechet_tokenizer"] = frechet(samples), frechet(rec)
            out["models"][f] = dict(metrics=m, samples=samples, rec=rec[: s.n_samples])
            progress(f"f={f}: tokenizer {t_tok:.0f} s (PSNR {m['tokenizer_psnr']:.2f} dB), GPT {t_gpt:.0f} s "
                     f"(held-out {test_loss:.3f} nats/token), {s.n_samples} samples {t_sample:.0f} s")
        if evaluator is not None:
            out["frechet_floor"] = frechet(renders(s.n_samples, s.size, 2))  # real vs real
        out["seconds"] = time.perf_counter() - t0
    return out


def pack(result: dict) -> dict:
    """The stored form of `run`'s result: {'meta': the numbers (JSON-able), 'real': uint8 (N, S, S, 3),
    'samples_f1': ..., 'rec_f1': ..., ...}; what `load` gives back."""
    u8 = lambda x: np.stack(tensor_to_rgb(x))  # noqa: E731
    out = {"real": u8(result["real"])}
    for f, r in result["models"].items():
        out[f"samples_f{f}"], out[f"rec_f{f}"] = u8(r["samples"]), u8(r["rec"])
    meta = {k: v for k, v in result.items() if k not in ("real", "models")}
    meta["metrics"] = {str(f): r["metrics"] for f, r in result["models"].items()}
    meta["date"] = time.strftime("%Y-%m-%d")
    # through JSON so that a packed result equals a loaded one (tuples become lists, keys strings)
    return {"meta": json.loads(json.dumps(meta)), **out}


def save(result: dict, path: Path) -> None:
    """`pack(result)` as a compressed npz, the numbers as JSON in 'meta'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = pack(result)
    np.savez_compressed(path, meta=np.array(json.dumps(packed.pop("meta"))), **packed)


def load(path: Path) -> dict:
    """What `save` wrote, as `pack` gives it."""
    with np.load(path) as d:
        out = {k: d[k] for k in d.files if k != "meta"}
        out["meta"] = json.loads(str(d["meta"]))
    return out


def load_or_run(s: Settings, path: Path = RESULTS, evaluator=None, progress=print) -> tuple[dict, str]:
    """The stored result when it was made with settings `s`, else a fresh run (saved nowhere); and where it came
    from, in words."""
    if path.is_file():
        stored = load(path)
        if stored["meta"]["settings"] == asdict(s):
            return stored, f"loaded {path.relative_to(REPO) if path.is_relative_to(REPO) else path} " \
                           f"(made {stored['meta']['date']} by `python -m scripts.pixels_vs_codes`, " \
                           f"{stored['meta']['seconds'] / 60:.0f} min on a CPU)"
    return pack(run(s, evaluator=evaluator, progress=progress)), "computed just now"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true", help="tiny settings (seconds): checks that everything runs")
    ap.add_argument("--evaluator", default=str(REPO / "weights" / "evaluators" / "labels"),
                    help="the segmenter whose features give the Frechet distance ('' to skip)")
    ap.add_argument("--work", type=Path, default=None, help="keep the VQGAN runs here (default: a temp folder)")
    args = ap.parse_args(argv)
    evaluator = None
    if args.evaluator and Path(args.evaluator, "config.json").is_file():
        from taming_lite.evaluators import load_evaluator

        evaluator = load_evaluator(args.evaluator)
    result = run(QUICK if args.quick else Settings(), work=args.work, evaluator=evaluator)
    save(result, args.out)
    print(f"{'f':>2} {'tokens':>7} {'bits/img':>9} {'window':>7} {'tok PSNR':>9} {'GPT nats/tok':>13} "
          f"{'GPT s':>6} {'sample s/img':>13} {'Frechet':>8}")
    for f, r in result["models"].items():
        m = r["metrics"]
        print(f"{f:>2} {m['tokens_per_image']:>7} {m['bits_per_image']:>9.0f} {m['window_px']:>5}px "
              f"{m['tokenizer_psnr']:>9.2f} {m['gpt_test_nats_per_token']:>13.3f} {m['gpt_seconds']:>6.0f} "
              f"{m['sample_seconds_per_image']:>13.2f} {m.get('frechet', float('nan')):>8.3f}")
    if "frechet_floor" in result:
        print(f"Frechet floor (real vs real, {len(result['real'])} vs {result['settings']['n_test']}): "
              f"{result['frechet_floor']:.3f}")
    print(f"wrote {args.out} ({time.strftime('%Y-%m-%d')}, {result['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
