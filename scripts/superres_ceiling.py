"""What the image VQGAN allows super-resolution to reach, for each upscaling factor: bicubic upsampling
of the area-downsampled held-out images vs the VQGAN's own reconstruction of the ground truth (the best
any sample decoded by it can be), plain and back-projected onto the low-resolution input.

    python -m scripts.superres_ceiling                       # weights/vqgan_image, 200 images, x4 and x8
    python -m scripts.superres_ceiling --vqgan weights/superres --n 1000 --factors 2 4 8

Prints a Markdown table. The project's bars: samples >= +1 dB over bicubic, consistency >= 30 dB.
"""
import argparse

import torch

from taming_lite.checkpoints import load_stage_or_exit
from taming_lite.evaluate import _dataset, first_stage_ceiling
from taming_lite.superres import area_downsample


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vqgan", default="weights/vqgan_image", help="a VQGAN folder, or a transformer's (its first stage)")
    p.add_argument("--n", type=int, default=200, help="held-out images (landscapes and humans)")
    p.add_argument("--factors", type=int, nargs="+", default=[4, 8])
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    vqgan = load_stage_or_exit(p, args.vqgan)
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
        r = first_stage_ceiling(vqgan, images, area_downsample(images, f))
        print(f"| x{f} | {r['bicubic_psnr_db']:.2f} dB | {r['vqgan_recon_psnr_gain_over_bicubic_db']:+.2f} dB | "
              f"{r['vqgan_recon_back_projected_psnr_gain_over_bicubic_db']:+.2f} dB | "
              f"{r['vqgan_recon_consistency_psnr_db']:.2f} dB |")


if __name__ == "__main__":
    main()
