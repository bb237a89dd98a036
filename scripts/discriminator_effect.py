"""What the discriminator does to the shipped 128-px decoder: the same 16x16 tokens of held-out landscapes
decoded by three decoders that differ only in how much adversarial training they had. Writes a small result
file that notebook 1 shows (its own tiny GAN comparison cannot show the effect in CPU minutes).

    python -m scripts.discriminator_effect            # -> notebooks/results/discriminator_effect.npz

The three decoders (same encoder and codebook; configs/preview/ has each run's config and outcome):
- "no D": the shipped decoder fine-tuned 700 more steps with L1 losses only (decoder128_lowres.yaml);
- "shipped": weights/vqgan_image (L1 + 0.2 (1 - SSIM) + PatchGAN from step 150, 1794 steps; decoder128.yaml);
- "more D": the shipped decoder with 1500 more steps of a fresh discriminator (decoder128_gan.yaml).
The first and last come from training runs under runs/preview/ (not committed: `--decoder LABEL=DIR` points
elsewhere), which is why the result is a file and not a notebook cell.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from taming_lite import load_pretrained
from taming_lite.evaluate import checkerboard, hf_ratio, psnr, real_renders
from taming_lite.images import tensor_to_rgb
from taming_lite.train.transformer_trainer import same_tokens

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "notebooks" / "results" / "discriminator_effect.npz"
DECODERS = {
    "no D (700 more steps, L1 only)": REPO / "runs/preview/decoder128_lowres/export",
    "shipped (D from step 150)": REPO / "weights/vqgan_image",
    "more D (1500 more steps)": REPO / "runs/preview/decoder128_gan/step1500_copy",
}


@torch.no_grad()
def measure(decoders: dict[str, Path], n: int = 48, shown: int = 4) -> dict:
    """Decode the shipped encoder's tokens of n held-out 64-px landscapes with each decoder; PSNR against the
    128-px renders of the same scenes, the high-frequency ratio (1 = as much fine detail as the renders) and the
    checkerboard excess (above 1: a periodic artefact at the token stride)."""
    torch.set_num_threads(1)
    encoder = load_pretrained(REPO / "weights" / "vqgan_image", device="cpu").eval()
    x = real_renders("completion", 64, n)
    _, _, tokens = encoder.encode(x)
    out = {"n": n, "renders": real_renders("completion", 128, n), "decoders": {}}
    other_scenes = real_renders("completion", 128, n, offset=n)  # the checkerboard's reference spectrum
    for label, path in decoders.items():
        model = load_pretrained(path, device="cpu").eval()
        if not same_tokens(model, encoder, dtype=torch.float16):
            raise ValueError(f"{path}: its encoder / codebook differ from weights/vqgan_image's (other tokens)")
        rec = model.decode_indices(tokens).clamp(-1, 1)
        out["decoders"][label] = {
            "path": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
            "psnr_db": float(psnr(rec, out["renders"]).mean()), "hf_ratio": hf_ratio(rec, out["renders"]),
            "checkerboard_excess": checkerboard(rec, other_scenes, 8)["checkerboard_excess"],
            "images": rec[:shown]}
    out["renders"] = out["renders"][:shown]
    return out


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"n": result["n"], "date": time.strftime("%Y-%m-%d"), "labels": list(result["decoders"]),
            "metrics": {k: {m: v for m, v in d.items() if m != "images"} for k, d in result["decoders"].items()}}
    arrays = {f"decoder{i}": d["images"] for i, d in enumerate(result["decoders"].values())}
    arrays = {name: np.stack(tensor_to_rgb(x)) for name, x in {"renders": result["renders"], **arrays}.items()}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load(path: Path = RESULTS) -> dict:
    """{'meta': {...}, 'renders': (k, 128, 128, 3) uint8, 'decoders': {label: (k, 128, 128, 3) uint8}}."""
    with np.load(path) as d:
        meta = json.loads(str(d["meta"]))
        return {"meta": meta, "renders": d["renders"],
                "decoders": {label: d[f"decoder{i}"] for i, label in enumerate(meta["labels"])}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--decoder", action="append", default=[], metavar="LABEL=DIR",
                    help="a decoder to compare (repeatable; default: the three of the docstring)")
    ap.add_argument("--n", type=int, default=48, help="held-out landscapes measured")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    decoders = dict(d.split("=", 1) for d in args.decoder) if args.decoder else DECODERS
    decoders = {k: Path(v) for k, v in decoders.items()}
    missing = [str(p) for p in decoders.values() if not (p / "config.json").is_file()]
    if missing:
        raise SystemExit(f"missing decoder folders: {', '.join(missing)} (train them with the configs named in "
                         f"the docstring, or pass --decoder LABEL=DIR)")
    result = measure(decoders, args.n)
    save(result, args.out)
    print(f"{'decoder':<34} {'PSNR dB':>8} {'hf ratio':>9} {'checkerboard':>13}")
    for label, d in result["decoders"].items():
        print(f"{label:<34} {d['psnr_db']:>8.2f} {d['hf_ratio']:>9.3f} {d['checkerboard_excess']:>13.2f}")
    print(f"wrote {args.out} ({args.n} held-out landscapes, {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
