"""What an image first stage keeps of drawn conditions: for the user-style conditions of labels, depth and pose
(`taming_lite.data.user_style`), the evaluator's reading of the matching render itself, of its reconstruction
through the VQGAN (encode, quantize, decode: the ceiling every sample of a transformer on it has), and of the
decode of the *unquantized* encoder output (what the codebook loses; equal to the reconstruction: the encoder
and decoder lose it). Also PSNR of the reconstruction against the render, at the input size.

    python -m scripts.drawn_ceiling                                  # weights/vqgan_image, 24 conditions each
    python -m scripts.drawn_ceiling --vqgan runs/x/checkpoints/step_0000500 --sheet ceiling.png

Prints a Markdown table (docs/EVALUATION.md: the target is 85 % of the render's own score). --sheet writes
condition | render | reconstruction for the first 8 label maps.
"""
import argparse

import numpy as np
import torch

from taming_lite.checkpoints import load_stage_or_exit
from taming_lite.data import user_style
from taming_lite.evaluate import HELD_OUT_SEED, USER_METRICS, USER_NAMES, USER_STYLE_SEED, matching_renders, psnr, \
    user_target
from taming_lite.evaluators import consistency, load_data, load_evaluator, resized

TASKS = ("labels", "depth", "pose")


@torch.no_grad()
def readings(vqgan, task: str, evaluator, n: int, size: int) -> tuple[dict, torch.Tensor, list]:
    """{which: {metric: value}} for which in render / reconstruction / unquantized, the renders, the conditions."""
    conds = user_style.conditions(task, n, size, USER_STYLE_SEED)
    targets = torch.stack([user_target(task, c) for c in conds])
    renders = matching_renders(task, conds, size)
    recon = resized(vqgan.reconstruct(renders), size)
    unquantized = resized(vqgan.decode(vqgan.quant_conv(vqgan.encoder(renders))).clamp(-1, 1), size)
    kw = {"mean_depth": load_data("depth", 200, size, HELD_OUT_SEED)["target"].float().mean(0)} if task == "depth" else {}
    out = {which: consistency(evaluator, x, targets, **kw)
           for which, x in (("render", renders), ("reconstruction", recon), ("unquantized", unquantized))}
    out["psnr"] = float(psnr(recon, renders).mean())
    return out, torch.stack([renders, recon]), conds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vqgan", default="weights/vqgan_image", help="a VQGAN folder, or a transformer's (its first stage)")
    p.add_argument("--evaluators", default="weights/evaluators")
    p.add_argument("--n", type=int, default=24, help="user-style conditions per task")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--sheet", default=None, help="a PNG of condition | render | reconstruction (labels)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    vqgan = load_stage_or_exit(p, args.vqgan)
    size = vqgan.config.resolution
    print("| task | metric | render | reconstruction | unquantized | reconstruction / render | PSNR dB |")
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        res, images, conds = readings(vqgan, task, load_evaluator(f"{args.evaluators}/{task}"), args.n, size)
        for metric in USER_METRICS[task]:
            r, q, u = (res[w][metric] for w in ("render", "reconstruction", "unquantized"))
            print(f"| {task} | {USER_NAMES.get(metric, metric)} | {r:.3f} | {q:.3f} | {u:.3f} | {q / r:.0%} | "
                  f"{res['psnr']:.2f} |")
        if task == "labels" and args.sheet:
            write_sheet(args.sheet, conds[:8], images[:, :8])


def write_sheet(path: str, conds: list, images: torch.Tensor) -> None:
    from PIL import Image

    from taming_lite.data.labels import colorize
    from taming_lite.data.datasets import tensor_to_image

    size = images.shape[-1]
    rows = [np.concatenate([colorize(np.asarray(c))] + [tensor_to_image(x[i]) for x in images], 1)
            for i, c in enumerate(conds)]
    Image.fromarray(np.concatenate(rows, 0)).resize((3 * 2 * size, len(rows) * 2 * size), Image.NEAREST).save(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
