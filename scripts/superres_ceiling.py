"""What the image VQGAN allows super-resolution to reach, for each upscaling factor: bicubic upsampling
of the area-downsampled held-out images vs the VQGAN's own reconstruction of the ground truth (the best
any sample decoded by it can be), plain and back-projected onto the low-resolution input.

    python scripts/superres_ceiling.py                       # weights/vqgan_image, 200 images, x4 and x8
    python scripts/superres_ceiling.py --vqgan weights/superres --n 1000 --factors 2 4 8

Prints a Markdown table. The project's bars: samples >= +1 dB over bicubic, consistency >= 30 dB.
"""
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from taming_lite.checkpoints import load_stage  # noqa: E402
from taming_lite.evaluate import _dataset, psnr  # noqa: E402
from taming_lite.superres import area_downsample, back_project  # noqa: E402


@torch.no_grad()
def ceiling(vqgan, images: torch.Tensor, factor: int) -> dict:
    """images (n, 3, H, W) in [-1, 1] -> PSNRs (dB) averaged over images."""
    low = area_downsample(images, factor)
    bicubic = psnr(F.interpolate(low, scale_factor=factor, mode="bicubic", align_corners=False), images).mean()
    recon = vqgan.reconstruct(images)
    projected = back_project(recon, low, factor)
    return {"bicubic_psnr": float(bicubic),
            "recon_gain": float(psnr(recon, images).mean() - bicubic),
            "back_projected_recon_gain": float(psnr(projected, images).mean() - bicubic),
            "recon_consistency": float(psnr(area_downsample(recon, factor), low).mean())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vqgan", default="weights/vqgan_image", help="a VQGAN folder, or a transformer's (its first stage)")
    p.add_argument("--n", type=int, default=200, help="held-out images (landscapes and humans)")
    p.add_argument("--factors", type=int, nargs="+", default=[4, 8])
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    try:
        vqgan = load_stage(args.vqgan).float().eval()
    except (ValueError, OSError) as e:
        p.error(str(e))
    size = vqgan.config.resolution
    bad = [f for f in args.factors if f < 2 or size % f]
    if bad:
        p.error(f"factors {bad}: each must be at least 2 and divide the image size {size}")
    ds = _dataset("superres", size, args.n)
    images = torch.stack([ds[i]["image"] for i in range(args.n)])
    print(f"{args.n} held-out images of {size}x{size} px, first stage {args.vqgan}\n")
    print("| factor | bicubic PSNR | reconstruction vs bicubic | back-projected reconstruction vs bicubic "
          "| reconstruction's consistency |\n|---|---|---|---|---|")
    for f in args.factors:
        r = ceiling(vqgan, images, f)
        print(f"| x{f} | {r['bicubic_psnr']:.2f} dB | {r['recon_gain']:+.2f} dB | "
              f"{r['back_projected_recon_gain']:+.2f} dB | {r['recon_consistency']:.2f} dB |")


if __name__ == "__main__":
    main()
