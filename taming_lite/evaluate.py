"""Evaluation of the shipped models on held-out procedural samples.

    python -m taming_lite.evaluate                       # all that weights/ holds, a quick set
    python -m taming_lite.evaluate --n 1000 --samples 8  # larger sets
    python -m taming_lite.evaluate --only vqgan superres
    python -m taming_lite.evaluate --only labels --per-class   # which classes the samples get wrong

Held-out samples use the data sets' base seed 1 (training uses seed 0), so no evaluation image
was seen in training. Metrics (printed as a Markdown table):
- VQGAN: PSNR and SSIM of reconstructions, codebook usage (share of codes used over the set);
- completion: the given upper half is kept exactly at token level; samples of different seeds differ;
- super-resolution: PSNR vs ground truth of the sample and of bicubic upsampling, and PSNR of the
  sample area-downsampled back vs the low-resolution input (consistency); the same after iterative
  back-projection onto the input (`taming_lite.superres.back_project`, what the app shows beside the raw
  samples), and for the image VQGAN's reconstruction of the ground truth (the first stage's ceiling);
- every task: diversity = mean pairwise pixel MSE between samples of one condition (8 seeds);
- label-to-landscape, depth-to-image, pose-to-human: condition consistency, measured by the evaluator
  networks of `taming_lite.evaluators` (weights/evaluators/<task>/, `--evaluators`): a segmenter, a
  depth regressor and a keypoint detector run on every sample and compared with the sample's input
  condition: `miou_generated_vs_input` (mIoU of the predicted vs the input label map, one confusion
  matrix over all samples), `spearman_generated_vs_input` (rank correlation of predicted vs input depth
  per sample, averaged), `pck_generated_vs_input` (PCK@0.1 of the person's keypoint box). Next to it,
  the same metric of the evaluator against ground truth on `--n` held-out real renders
  (`*_evaluator_on_real`, the evaluator's own accuracy: the ceiling), on those renders passed through
  the model's image VQGAN (`*_evaluator_on_vqgan_recon`, the ceiling the first stage leaves), and on
  those renders paired with the condition of another render (`*_floor_shuffled`: the score of an image
  that ignores its condition but looks like the data, e.g. sky above ground); `*_normalized` =
  (generated - floor) / (real - floor): 0 = the samples ignore their condition, 1 = as consistent as real
  renders. Depth also gets `spearman_deviation_*`: the same correlation after subtracting the mean depth
  map of the real renders from prediction and input, because plain Spearman is high (~0.94) even for an
  unrelated pair (every landscape has sky on top); this one is ~0 for unrelated pairs. With
  `--per-class`, labels also get the IoU of every class (`iou_<class>_generated_vs_input`,
  `..._evaluator_on_real`, `..._evaluator_on_vqgan_recon`; nan for a class in neither map).
  A missing evaluator is reported in the table, not an error.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoints import CheckpointError, load_pretrained
from .evaluators import (METRIC, confusion_matrix, consistency, get_batch, load_data, load_evaluator,
                         miou_from_confusion, target_of)
from .superres import area_downsample, back_project
from .tasks import TASKS

HELD_OUT_SEED = 1


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp(min=1e-10))


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per image SSIM (Gaussian window, on [0, 1] images, averaged over channels)."""
    a, b = (a.clamp(-1, 1) + 1) / 2, (b.clamp(-1, 1) + 1) / 2
    C = a.shape[1]
    x = torch.arange(window, dtype=a.dtype) - window // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum())[:, None] * (g / g.sum())[None, :]
    k = g.expand(C, 1, window, window).contiguous()
    f = lambda t: F.conv2d(t, k, groups=C)  # valid convolution: no padding artefacts
    mu_a, mu_b = f(a), f(b)
    s_aa, s_bb, s_ab = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2))
    return m.flatten(1).mean(1)


def diversity(samples: torch.Tensor) -> float:
    """Mean pairwise pixel MSE between samples (N, C, H, W) in [-1, 1]."""
    pairs = list(itertools.combinations(range(len(samples)), 2))
    return float(torch.stack([((samples[i] - samples[j]) ** 2).mean() for i, j in pairs]).mean())


def _dataset(task: str, size: int, n: int):
    from .data.datasets import make_dataset

    return make_dataset(task, size=size, length=n, seed=HELD_OUT_SEED)


def _batches(ds, keys, n, batch=16):
    for start in range(0, n, batch):
        items = [ds[i] for i in range(start, min(n, start + batch))]
        yield {k: torch.stack([it[k] for it in items]) for k in keys}


@torch.no_grad()
def eval_vqgan(model, task: str, key: str, n: int) -> dict:
    size = model.config.resolution
    if key.startswith("lowres"):  # the low-res VQGAN sees area-downsampled images
        size = size * int(key[len("lowres"):])
    ds = _dataset(task, size, n)
    ps, ss, used, conf = [], [], torch.zeros(model.config.n_embed, dtype=torch.bool), 0
    for b in _batches(ds, [key], n):
        x = b[key]
        dec, _, idx = model(x)
        used[idx.unique()] = True
        if model.is_segmentation:  # pixel accuracy and mIoU of the argmax labels instead of PSNR/SSIM
            ps.append((dec.argmax(1) == x.argmax(1)).float().flatten(1).mean(1))
            conf = conf + confusion_matrix(dec.argmax(1), x.argmax(1), n_classes=x.shape[1])
        else:
            ps.append(psnr(dec, x))
            ss.append(ssim(dec, x))
    out = {"images": n, "codebook_usage": float(used.float().mean())}
    if model.is_segmentation:
        out["pixel_accuracy"] = float(torch.cat(ps).mean())
        out["miou"] = miou_from_confusion(conf)  # what of the map the transformer can see at all
    else:
        out["psnr_db"] = float(torch.cat(ps).mean())
        out["ssim"] = float(torch.cat(ss).mean())
    return out


def _grid(model):
    f = model.first_stage_model.config.downsample_factor
    s = model.first_stage_model.config.resolution
    return s, s // f


@torch.no_grad()
def eval_transformer(model, task: str, cond_key: str | None, n_conditions: int, n_samples: int,
                     evaluator=None, n_real: int = 200, per_class: bool = False) -> dict:
    """`evaluator` (labels / depth / pose tasks): a `taming_lite.evaluators.Evaluator` measuring condition
    consistency of the samples, scored itself on `n_real` held-out real renders and their reconstructions
    (labels with `per_class`: the IoU of every class too)."""
    size, h = _grid(model)
    ds = _dataset(task, size, n_conditions)
    divs, times, extra = [], [], {}
    kept, sr = [], {}
    all_samples, all_targets = [], []
    for i in range(n_conditions):
        item = ds[i]
        x = item["image"][None]
        c = item[cond_key][None] if cond_key else x
        _, z = model.encode_to_z(x)
        _, ci = model.encode_to_c(c)
        given = z[:, : (h * h) // 2] if task == "completion" else z[:, :0]
        samples, toks = [], []
        for seed in range(n_samples):
            t = time.perf_counter()
            out = model.sample(given, ci, steps=h * h - given.shape[1], sample=True, top_k=100, seed=seed)
            times.append(time.perf_counter() - t)
            toks.append(out)
            samples.append(model.decode_to_img(out, (1, 0, h, h)))
        samples = torch.cat(samples)
        divs.append(diversity(samples))
        if evaluator is not None:
            all_samples.append(samples)
            all_targets.append(torch.stack([target_of(task, item)] * len(samples)))
        if task == "completion":
            kept.append(all(torch.equal(t[:, : given.shape[1]], given) for t in toks))
            extra["distinct_lower_halves"] = len({tuple(t[0, given.shape[1]:].tolist()) for t in toks}) == len(toks)
        if task == "superres":
            for k, v in superres_scores(model, x, item[cond_key][None], samples).items():
                sr.setdefault(k, []).append(v)
    out = {"conditions": n_conditions, "samples_each": n_samples, "diversity_mse": sum(divs) / len(divs),
           "seconds_per_sample": sum(times) / len(times)}
    if task == "completion":
        out["upper_half_kept"] = all(kept)
        out.update(extra)
    if task == "superres":
        out.update({k: sum(v) / len(v) for k, v in sr.items()})
    if evaluator is not None:
        out.update(eval_consistency(model, evaluator, task, torch.cat(all_samples), torch.cat(all_targets), n_real,
                                    per_class=per_class))
    return out


@torch.no_grad()
def first_stage_ceiling(vqgan, x, low) -> dict:
    """What super-resolution decoded by `vqgan` can reach: the ground truth x (B, 3, H, W) encoded and decoded
    by it, as PSNR vs x relative to bicubic upsampling of low (B, 3, H/f, W/f), plain and back-projected onto
    low, and its consistency with low (area-downsampled vs low). dB, averaged over images; with the bicubic
    PSNR itself as "bicubic_psnr_db"."""
    factor = x.shape[-1] // low.shape[-1]
    bicubic = psnr(F.interpolate(low, scale_factor=factor, mode="bicubic", align_corners=False), x).mean()
    recon = vqgan.reconstruct(x)
    return {"bicubic_psnr_db": float(bicubic),
            "vqgan_recon_psnr_gain_over_bicubic_db": float(psnr(recon, x).mean() - bicubic),
            "vqgan_recon_consistency_psnr_db": float(psnr(area_downsample(recon, factor), low).mean()),
            "vqgan_recon_back_projected_psnr_gain_over_bicubic_db":
                float(psnr(back_project(recon, low, factor), x).mean() - bicubic)}


@torch.no_grad()
def superres_scores(model, x, low, samples) -> dict:
    """Super-resolution of one image x (1, 3, H, W) from low (1, 3, H/f, W/f): PSNR vs ground truth of the
    samples relative to bicubic upsampling, their consistency (area-downsampled vs low), the same after
    back-projection (`taming_lite.superres`), the same for the mean of the samples, and the first stage's
    ceiling (`first_stage_ceiling`). The mean estimates the posterior mean, the answer with the least
    expected squared error: a sample, however plausible, has twice its expected error (3 dB less PSNR), so
    PSNR judges the mean, not a sample."""
    factor = x.shape[-1] // low.shape[-1]
    lows = low.expand(len(samples), -1, -1, -1)
    ceiling = first_stage_ceiling(model.first_stage_model, x, low)
    bicubic = ceiling.pop("bicubic_psnr_db")
    projected = back_project(samples, lows, factor)
    mean = samples.mean(0, keepdim=True)

    def gain(images):
        return float(psnr(images, x.expand_as(images)).mean() - bicubic)

    def cons(images):
        return float(psnr(area_downsample(images, factor), lows).mean())

    return {"psnr_gain_over_bicubic_db": gain(samples), "downsampled_consistency_psnr_db": cons(samples),
            "back_projected_psnr_gain_over_bicubic_db": gain(projected),
            "back_projected_consistency_psnr_db": cons(projected),
            "mean_of_samples_psnr_gain_over_bicubic_db": gain(mean),
            "mean_of_samples_back_projected_psnr_gain_over_bicubic_db": gain(back_project(mean, low, factor)),
            **ceiling}


@torch.no_grad()
def eval_consistency(model, evaluator, task: str, samples, targets, n_real: int, per_class: bool = False) -> dict:
    """The evaluator's metric on generated samples vs their input conditions, on real held-out renders vs
    ground truth (its ceiling), and on those renders reconstructed by the model's image VQGAN; labels with
    `per_class`: also "iou_<class>_<which>" for the samples, the renders and their reconstructions."""
    m = METRIC[task]
    real = load_data(task, n_real, samples.shape[-1], HELD_OUT_SEED)
    x, t = get_batch(real, torch.arange(len(real["image"])), task)
    recon = model.first_stage_model.reconstruct(x)
    kw = {"mean_depth": t.float().mean(0)} if task == "depth" else {"per_class": per_class} if task == "labels" else {}
    scores = {"generated_vs_input": consistency(evaluator, samples, targets, **kw),
              "evaluator_on_real": consistency(evaluator, x, t, **kw),  # its ceiling
              "evaluator_on_vqgan_recon": consistency(evaluator, recon, t, **kw),  # the first stage's ceiling
              "floor_shuffled": consistency(evaluator, x, t.roll(1, 0), **kw)}  # real image vs another's condition
    out = {}
    for metric in [m] + (["spearman_deviation"] if task == "depth" else []):
        out.update({f"{metric}_{k}": v[metric] for k, v in scores.items()})
        gen, top, floor = (out[f"{metric}_{k}"] for k in ("generated_vs_input", "evaluator_on_real", "floor_shuffled"))
        out[f"{metric}_normalized"] = (gen - floor) / (top - floor) if top > floor else float("nan")
    for which in ("generated_vs_input", "evaluator_on_real", "evaluator_on_vqgan_recon"):
        out.update({f"{k}_{which}": v for k, v in scores[which].items() if k.startswith("iou_")})
    return out

# A VQGAN folder missing from weights/ is taken from the transformer that embeds it (only the image
# VQGAN is shipped on its own; the cond stages live inside weights/<task>/).
EMBEDDED_IN = {"vqgan_image": ("completion", "first_stage_model"), "vqgan_depth": ("depth", "cond_stage_model"),
               "vqgan_labels": ("labels", "cond_stage_model"), "vqgan_lowres": ("superres", "cond_stage_model"),
               "vqgan_skeleton": ("pose", "cond_stage_model")}

VQGANS = {  # weights dir -> (data task, key)
    "vqgan_image": ("completion", "image"),
    "vqgan_depth": ("depth", "depth"),
    "vqgan_labels": ("labels", "labels"),
    "vqgan_lowres": ("superres", "lowres4"),
    "vqgan_skeleton": ("pose", "skeleton"),
}
TRANSFORMERS = {name: s.data_key for name, s in TASKS.items()}  # task -> the data key of its condition
EVALUATED = ("labels", "depth", "pose")  # transformers whose condition consistency an evaluator measures


def condition_key(model, task: str) -> str | None:
    """The dataset key a trained transformer of `task` is conditioned on (super-resolution: 'lowres4' or
    'lowres8', from its stages' downsampling and its cond_upsample)."""
    key = TRANSFORMERS[task]
    return f"lowres{model.config.cond_factor}" if key and key.startswith("lowres") else key


def _evaluator(root: Path, task: str):
    """The evaluator in root/task, or a string saying why there is none."""
    d = root / task
    if not (d / "config.json").is_file():
        return f"(evaluator missing: {_shown(d)}; scripts/train_evaluators.sh)"
    try:
        return load_evaluator(d)
    except CheckpointError as e:
        return f"(evaluator not loadable: {e})"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@torch.no_grad()  # (restores grad mode on return: main is also called from tests)
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(Path(__file__).resolve().parents[1] / "weights"))
    p.add_argument("--n", type=int, default=200, help="held-out images for the VQGAN metrics")
    p.add_argument("--conditions", type=int, default=2, help="conditions per transformer")
    p.add_argument("--samples", type=int, default=8, help="samples (seeds) per condition")
    p.add_argument("--only", nargs="*", default=None, help="names of weights dirs to evaluate")
    p.add_argument("--evaluators", default=None, help="evaluator networks' folder (default: <weights>/evaluators)")
    p.add_argument("--per-class", action="store_true",
                   help="labels: the IoU of every class (samples, real renders, their reconstructions)")
    args = p.parse_args(argv)
    root = Path(args.weights)
    eval_root = Path(args.evaluators) if args.evaluators else root / "evaluators"
    print(f"# taming-lite evaluation, {time.strftime('%Y-%m-%d')}, held-out seed {HELD_OUT_SEED}, weights {_shown(root)}")
    print("\n| model | metric | value |\n|---|---|---|")
    names = list(VQGANS) + list(TRANSFORMERS)
    for name in names:
        if args.only and name not in args.only:
            continue
        d = root / name
        if not (d / "config.json").is_file() and name in EMBEDDED_IN:
            d = root / EMBEDDED_IN[name][0]
        if not (d / "config.json").is_file():
            print(f"| {name} | (missing) | - |")
            continue
        model = load_pretrained(d)
        if name in EMBEDDED_IN and d.name != name:
            model = getattr(model, EMBEDDED_IN[name][1])
        if name in VQGANS:
            task, key = VQGANS[name]
            res = eval_vqgan(model, task, key, args.n)
        else:
            task = name
            key = condition_key(model, name)
            evaluator = _evaluator(eval_root, task) if task in EVALUATED else None
            missing = evaluator if isinstance(evaluator, str) else None
            res = eval_transformer(model, task, key, args.conditions, args.samples,
                                   evaluator=None if missing else evaluator, n_real=args.n,
                                   per_class=args.per_class)
            if missing:
                res[f"{METRIC[task]}_generated_vs_input"] = missing
        for k, v in res.items():
            print(f"| {name} | {k} | {v:.4g} |" if isinstance(v, float) else f"| {name} | {k} | {v} |")


if __name__ == "__main__":
    main()
