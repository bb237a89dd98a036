"""Evaluation of the shipped models on held-out procedural samples and on user-style conditions.

    python -m taming_lite.evaluate                       # all that weights/ holds, a quick set
    python -m taming_lite.evaluate --n 1000 --samples 8  # larger sets
    python -m taming_lite.evaluate --only vqgan superres
    python -m taming_lite.evaluate --only labels --per-class   # which classes the samples get wrong
    python -m taming_lite.evaluate --only labels depth pose --user-style-only --n 24 --samples 4 --json out.json
    python -m taming_lite.evaluate --only labels --guidance 1 2 3   # adherence and diversity against guidance

Held-out samples use the data sets' base seed 1 (`seeds.HELD_OUT_SEED`; training uses seed 0), so no
evaluation image was seen in training. Transformers sample through `taming_lite.pipeline.Pipeline`, as the app
does (`prepare` of the condition as a user gives it, `iter_sample` with the task's defaults, one batch of
`--samples` images per condition, on the CPU), so what is measured is what users get; `--guidance` scales
(default: the model's own) each get their rows ("labels (guidance 2)"), a scale a model cannot use "n/a".
Metrics (printed as a Markdown table, with `--json` also as a file):
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
  Labels also get `miou_per_image_*` (each image's own mIoU, averaged), depth `spearman_within_row_*`
  (each row minus its mean: the top-to-bottom ramp removed). A missing evaluator is reported in the
  table, not an error.
- labels, depth, pose on user-style conditions (rows "<task> (user-style)"; `taming_lite.data.user_style`,
  what people draw, from a generator separate from the training renderers; `--user-conditions` of them,
  seed `seeds.USER_STYLE_SEED`; see `eval_user_style`): label mIoU per image and pooled, depth
  deviation-Spearman, within-row Spearman and plain Spearman, pose PCK@0.1, each beside its floor
  (`_floor_mismatched`: the samples of condition i against condition i - 1) and its ceiling
  (`_ceiling_vqgan_recon`: a matching render through the image VQGAN, against the condition; for poses the
  human render of the same angles, for labels and depth `taming_lite.data.layout.render_layout`, "n/a"
  where the tree has none), the diversity, and what the cond VQGAN keeps of the conditions (`cond_vqgan_*`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import CheckpointError, load_pretrained
from .data import user_style
from .data.datasets import image_to_tensor, make_example, tensor_to_image
from .data.labels import ids_to_index
from .evaluators import (METRIC, confusion_matrix, consistency, get_batch, load_data, load_evaluator, miou,
                         miou_from_confusion, miou_per_image, resized, spearman, target_of, within_row)
from .net2net import check_guidance
from .pipeline import Pipeline
from .vqgan import VQGAN
from .seeds import HELD_OUT_SEED, USER_STYLE_SEED
from .superres import area_downsample, back_project
from .tasks import TASKS


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


# --------------------------------------------------------------------------- realism (docs/REALISM.md)
#
# PSNR and SSIM reward the mean of what a decoder could output, i.e. blur. These three numbers compare a set of
# generated images with a set of real renders of the same size instead of image by image:
# - hf_ratio: high-frequency power (radial frequency above half the Nyquist limit) relative to the renders';
# - frechet_segmenter: a Frechet distance of features of our evaluator segmenter (a domain FID), with its floor,
#   the same distance between two disjoint sets of real renders of the same size;
# - checkerboard: spectral peaks at the frequencies of the decoder's stride (multiples of 1/stride cycles
#   per pixel, where nearest-upsampling decoders leave periodic patterns), relative to the renders'.

HF_CUTOFF = 0.5  # high frequency: radial frequency above this fraction of the Nyquist limit
CHECKERBOARD_TOLERANCE = 1.0  # flagged: periodic power at a stride frequency above the renders by more than
                              # the renders' whole detail power at that frequency (see stride_peaks)


def power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W) power spectrum per image (FFT bin order, averaged over channels), of each
    channel with its mean removed and a 2-D Hann window applied (so the image border does not leak power
    into every frequency), normalised by the number of pixels."""
    x = x.double()
    H, W = x.shape[-2:]
    win = torch.hann_window(H, periodic=False, dtype=x.dtype)[:, None] * torch.hann_window(W, periodic=False,
                                                                                              dtype=x.dtype)[None]
    x = (x - x.mean((-2, -1), keepdim=True)) * win
    return torch.fft.fft2(x).abs().pow(2).mean(1) / (H * W)


def radial_frequency(H: int, W: int) -> torch.Tensor:
    """(H, W) radial frequency of each FFT bin as a fraction of the Nyquist limit (1 = 0.5 cycles/pixel
    along an axis; the corners reach sqrt(2))."""
    fy, fx = torch.fft.fftfreq(H, dtype=torch.float64), torch.fft.fftfreq(W, dtype=torch.float64)
    return (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt() / 0.5


def high_frequency_power(x: torch.Tensor, cutoff: float = HF_CUTOFF) -> torch.Tensor:
    """(B, C, H, W) -> (B,) power at radial frequencies above `cutoff` x Nyquist."""
    mask = radial_frequency(*x.shape[-2:]) > cutoff
    return power_spectrum(x)[:, mask].sum(-1)


def hf_ratio(images: torch.Tensor, reals: torch.Tensor, cutoff: float = HF_CUTOFF) -> float:
    """Mean high-frequency power of `images` over that of `reals` (same size): 1 = as much fine detail
    (edges, texture, but also noise) as the real renders, < 1 smoother, > 1 noisier or sharper."""
    if images.shape[-2:] != reals.shape[-2:]:
        raise ValueError(f"hf_ratio compares images of one size, got {tuple(images.shape[-2:])} and "
                         f"{tuple(reals.shape[-2:])}")
    return float(high_frequency_power(images, cutoff).mean() / high_frequency_power(reals, cutoff).mean())


@torch.no_grad()
def segmenter_features(evaluator, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, D): the evaluator U-Net's encoder activations (stem and every down level),
    each averaged over space, concatenated. The images are read at their own size (the network is fully
    convolutional), so a 128-px image shows its fine detail to the features, not a 64-px resize of it."""
    net, p = evaluator.net, evaluator.config.patch
    evaluator.eval()
    out = []
    for i in range(0, len(x), batch_size):
        h = net.stem(F.pixel_unshuffle(x[i:i + batch_size].float(), p))
        feats = [h.mean((-2, -1))]
        for block in net.down:
            h = block(F.max_pool2d(h, 2))
            feats.append(h.mean((-2, -1)))
        out.append(torch.cat(feats, 1))
    return torch.cat(out).double()


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (N, D) and b (M, D), in float64:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), the matrix square root by `scipy.linalg.sqrtm` (as FID
    implementations take it), without the imaginary part round-off can leave."""
    from scipy.linalg import LinAlgWarning, sqrtm  # imported here, like scipy.stats: only scoring needs scipy

    a, b = a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy()
    mu = a.mean(0) - b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # fewer samples than features make S_a S_b singular; its root is still right
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(s_a @ s_b)
    return float(mu @ mu + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root).real)


def stride_bins(H: int, W: int, stride: int) -> list[tuple[int, int]]:
    """FFT bins (y, x) of the frequencies (ky / stride, kx / stride) cycles per pixel, (ky, kx) != (0, 0): where
    a pattern repeating every `stride` pixels (a decoder's upsampling grid) puts its power."""
    if H % stride or W % stride:
        raise ValueError(f"image size {H}x{W} is not a multiple of the stride {stride}")
    return [(ky * H // stride, kx * W // stride) for ky in range(stride) for kx in range(stride) if (ky, kx) != (0, 0)]


def _around(spec: torch.Tensor, y: int, x: int, radius: int) -> torch.Tensor:
    """Median of the (2 radius + 1)^2 - 1 bins around (y, x) (wrapping around, as the spectrum does)."""
    H, W = spec.shape
    return torch.stack([spec[(y + dy) % H, (x + dx) % W] for dy in range(-radius, radius + 1)
                        for dx in range(-radius, radius + 1) if (dy, dx) != (0, 0)]).median()


def stride_peaks(images: torch.Tensor, reals: torch.Tensor, stride: int, radius: int = 2) -> torch.Tensor:
    """Periodic power of `images` at every stride frequency (`stride_bins`): the set's mean power at the bin
    minus the median of the bins around it (the smooth continuum), over the renders' continuum there.
    (stride^2 - 1,) values: ~0 without a pattern of that period; 1 = a periodic component as strong as
    all the renders' detail at that frequency (clearly visible)."""
    P, Q = power_spectrum(images).mean(0), power_spectrum(reals).mean(0)
    return torch.stack([(P[y, x] - _around(P, y, x, radius)) / _around(Q, y, x, radius).clamp(min=1e-30)
                        for y, x in stride_bins(*images.shape[-2:], stride)])


def checkerboard(images: torch.Tensor, reals: torch.Tensor, stride: int) -> dict:
    """Spectral peaks at the stride's frequencies (`stride_peaks`), of `images` and of the real renders
    themselves: "checkerboard_peak" / "_renders": the largest of each; "checkerboard_excess": the largest
    difference images - renders at one frequency; "checkerboard_flag": excess > CHECKERBOARD_TOLERANCE."""
    p, q = stride_peaks(images, reals, stride), stride_peaks(reals, reals, stride)
    excess = float((p - q.clamp(min=0)).max())  # a dip in the renders' spectrum is no licence for a peak
    return {"checkerboard_peak": float(p.max()), "checkerboard_peak_renders": float(q.max()),
            "checkerboard_excess": excess, "checkerboard_flag": excess > CHECKERBOARD_TOLERANCE}


def realism(images: torch.Tensor, reals: torch.Tensor, stride: int, evaluator=None,
            others: torch.Tensor | None = None, floor: torch.Tensor | None = None,
            checker_reals: torch.Tensor | None = None) -> dict:
    """The realism numbers of `images` (N, 3, S, S) against real renders `reals` of the same size (the images'
    own scenes where they have them: a reconstruction's render, a sample's condition's render):
    hf_ratio and checkerboard_*; with an evaluator (a segmenter) and `others`, a set of real renders of
    other scenes (M, 3, S, S), "frechet_segmenter" of the images vs `others`, and with `floor`, a third set
    of real renders of the images' count, "frechet_segmenter_floor": the same distance for real vs real,
    what the set sizes alone give. `checker_reals`: the renders the checkerboard check compares with
    (default `reals`; samples use many other scenes, since a few conditions' scenes make a noisy spectrum)."""
    out = {"realism_size": int(images.shape[-1]), "realism_images": len(images),
           "hf_ratio": hf_ratio(images, reals),
           **checkerboard(images, reals if checker_reals is None else checker_reals, stride)}
    if evaluator is not None and others is not None:
        f_other = segmenter_features(evaluator, others)
        out["frechet_segmenter"] = frechet_distance(segmenter_features(evaluator, images), f_other)
        if floor is not None:
            out["frechet_segmenter_floor"] = frechet_distance(segmenter_features(evaluator, floor), f_other)
    return out


def real_renders(task: str, size: int, n: int, offset: int = 0) -> torch.Tensor:
    """n held-out renders (items offset .. offset + n - 1 of the task's data set at seed HELD_OUT_SEED):
    (n, 3, S, S)."""
    ds = _dataset(task, size, offset + n)
    return torch.stack([ds[i]["image"] for i in range(offset, offset + n)])


def _dataset(task: str, size: int, n: int):
    from .data.datasets import make_dataset

    return make_dataset(task, size=size, length=n, seed=HELD_OUT_SEED)


def _batches(ds, keys, n, batch=16):
    for start in range(0, n, batch):
        items = [ds[i] for i in range(start, min(n, start + batch))]
        yield {k: torch.stack([it[k] for it in items]) for k in keys}


@torch.no_grad()
def eval_vqgan(model, task: str, key: str, n: int, realism_size: int | None = None, evaluator=None) -> dict:
    """PSNR / SSIM (or, segmentation, pixel accuracy / mIoU) and codebook usage of reconstructions of n held-out
    renders. A decoder with a larger output than its input (`upsample_factor`) is compared with renders of the
    same scenes at its output size. Image VQGANs also get the realism numbers (`realism`) at `realism_size`
    (default: the output size; a smaller output is upscaled bicubically to it, and then PSNR / SSIM against
    renders of that size are added as psnr_db_at_<size> / ssim_at_<size>), Frechet with `evaluator`."""
    size = model.config.resolution
    if key.startswith("lowres"):  # the low-res VQGAN sees area-downsampled images
        size = size * int(key[len("lowres"):])
    out_size = size * model.config.upsample_factor // model.config.downsample_factor
    ds = _dataset(task, size, n)
    ds_out = ds if out_size == size else _dataset(task, out_size, n)
    ps, ss, used, conf = [], [], torch.zeros(model.config.n_embed, dtype=torch.bool), 0
    recons, small = [], []
    for b, t in zip(_batches(ds, [key], n), _batches(ds_out, [key], n)):
        x, target = b[key], t[key]
        dec, _, idx = model(x)
        used[idx.unique()] = True
        if out_size != size and not model.is_segmentation:  # also at the input size: comparable to a plain decoder
            down = resized(dec.clamp(-1, 1), size)
            small.append((psnr(down, x), ssim(down, x)))
        if model.is_segmentation:  # pixel accuracy and mIoU of the argmax labels instead of PSNR/SSIM
            ps.append((dec.argmax(1) == target.argmax(1)).float().flatten(1).mean(1))
            conf = conf + confusion_matrix(dec.argmax(1), target.argmax(1), n_classes=x.shape[1])
        else:
            ps.append(psnr(dec, target))
            ss.append(ssim(dec, target))
            recons.append(dec.clamp(-1, 1))
    out = {"images": n, "codebook_usage": float(used.float().mean())}
    if model.is_segmentation:
        out["pixel_accuracy"] = float(torch.cat(ps).mean())
        out["miou"] = miou_from_confusion(conf)  # what of the map the transformer can see at all
    else:
        out["psnr_db"] = float(torch.cat(ps).mean())
        out["ssim"] = float(torch.cat(ss).mean())
        if out_size != size:
            out["output_size"] = out_size
            out[f"psnr_db_at_{size}"] = float(torch.cat([a for a, _ in small]).mean())  # output area-downsampled
            out[f"ssim_at_{size}"] = float(torch.cat([b for _, b in small]).mean())
    if key == "image" and not model.is_segmentation:
        S = realism_size or out_size
        rec = resized(torch.cat(recons), S)
        reals = real_renders(task, S, n)
        if S != out_size:
            out[f"psnr_db_at_{S}"] = float(psnr(rec, reals).mean())
            out[f"ssim_at_{S}"] = float(ssim(rec, reals).mean())
        stride = S // (size // model.config.downsample_factor)  # output pixels per token at size S
        others, floor = (real_renders(task, S, n, offset=k * n) for k in (1, 2))
        out.update(realism(rec, reals, stride, evaluator, others, floor))
    return out


def _grid(model):
    f = model.first_stage_model.config.downsample_factor
    s = model.first_stage_model.config.resolution
    return s, s // f


def _sample(pipe, job, n_samples: int, guidance: float, seed: int = 0):
    """`n_samples` images of a prepared job through the Pipeline, as the app samples them (one batch, one seed):
    (n, 3, H, W) float in [-1, 1] at the output size, the final token grids (n, h, w), seconds per sample."""
    t = time.perf_counter()
    last = None
    for last in pipe.iter_sample(job, seed=seed, num_samples=n_samples, previews=1, guidance=guidance):
        pass
    seconds = (time.perf_counter() - t) / n_samples
    images = torch.from_numpy(np.stack(last.images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return images, last.tokens.cpu(), seconds


def held_out_condition(task: str, arrays: dict, item: dict, cond_key: str | None, out_scale: float):
    """A held-out render's condition as a user gives it to `Pipeline.prepare` (see `taming_lite.tasks`):
    depth (H, W) in [0, 1]; labels COCO-Stuff ids; superres the low-resolution image (h, w, 3) uint8; pose the
    keypoints in output pixels (`out_scale` = output / render size); completion the image itself."""
    if task == "depth":
        return np.asarray(arrays["depth"], np.float32)
    if task == "labels":
        return arrays["labels"]
    if task == "pose":
        kp = np.array(arrays["keypoints"], np.float32)
        kp[:, :2] *= out_scale
        return kp
    if task == "superres":
        return tensor_to_image(item[cond_key])
    return arrays["image"]


def _pipeline_model_size(pipe) -> tuple[int, int]:
    """(input size, output size) in px of one window: renders and conditions are made at the input size."""
    return pipe.window[0] * pipe.in_stride, pipe.image_size


@torch.no_grad()
def eval_transformer(pipe, cond_key: str | None, n_conditions: int, n_samples: int, evaluator=None,
                     n_real: int = 200, per_class: bool = False, segmenter=None, realism_size: int | None = None,
                     guidance: float = 1.0) -> dict:
    """Samples of a `Pipeline` (`taming_lite.pipeline`) on held-out renders' conditions, given as a user gives them
    (`held_out_condition`) and sampled as the app samples (`Pipeline.iter_sample`, `guidance`).
    `evaluator` (labels / depth / pose tasks): a `taming_lite.evaluators.Evaluator` measuring condition
    consistency of the samples, scored itself on `n_real` held-out real renders and their reconstructions
    (labels with `per_class`: the IoU of every class too). A decoder with a larger output than its input
    has its samples area-downsampled to the input size for these (and for diversity and super-resolution);
    the realism numbers (`realism`, Frechet with `segmenter`) read them at `realism_size` (default: the
    output size), against the renders of the conditions' scenes (and, for Frechet, other scenes)."""
    task, model = pipe.task, pipe.model
    size, out_size = _pipeline_model_size(pipe)
    h = pipe.window[0]
    ds = _dataset(task, size, n_conditions)
    divs, times, extra = [], [], {}
    kept, sr = [], {}
    all_samples, all_targets, full = [], [], []
    for i in range(n_conditions):
        arrays = ds.arrays(i)
        item = make_example(task, arrays)
        condition = held_out_condition(task, arrays, item, cond_key, out_size / size)
        job = pipe.prepare(condition, size=(out_size, out_size), given_rows=h // 2 if task == "completion" else 0)
        samples, toks, secs = _sample(pipe, job, n_samples, guidance)
        times.append(secs)
        full.append(samples)
        samples = resized(samples, size)  # the input size: what the metrics below compare with
        divs.append(diversity(samples))
        if evaluator is not None:
            all_samples.append(samples)
            all_targets.append(torch.stack([target_of(task, item)] * len(samples)))
        if task == "completion":
            given = job.z.reshape(1, -1)[:, :job.start].cpu()
            flat = toks.reshape(len(toks), -1)
            kept.append(bool((flat[:, :job.start] == given).all()))
            extra["distinct_lower_halves"] = len({tuple(t[job.start:].tolist()) for t in flat}) == len(flat)
        if task == "superres":
            for k, v in superres_scores(model, item["image"][None], item[cond_key][None], samples).items():
                sr.setdefault(k, []).append(v)
    out = {"conditions": n_conditions, "samples_each": n_samples, "guidance": guidance,
           "diversity_mse": sum(divs) / len(divs), "seconds_per_sample": sum(times) / len(times)}
    if task == "completion":
        out["upper_half_kept"] = all(kept)
        out.update(extra)
    if task == "superres":
        out.update({k: sum(v) / len(v) for k, v in sr.items()})
    if evaluator is not None:
        out.update(eval_consistency(model, evaluator, task, torch.cat(all_samples), torch.cat(all_targets), n_real,
                                    per_class=per_class))
    full = torch.cat(full)
    S = realism_size or full.shape[-1]
    full = resized(full, S)
    reals = real_renders(task, S, n_conditions).repeat_interleave(n_samples, 0)  # each sample's condition's scene
    m = len(full)
    others, floor = (real_renders(task, S, m, offset=n_conditions + k * m) for k in (0, 1))
    out.update(realism(full, reals, S // h, segmenter, others, floor, checker_reals=torch.cat([others, floor])))
    return out


# --------------------------------------------------------------------------- user-style conditions
#
# What people draw (`taming_lite.data.user_style`), not what the training renderer makes. Per task: the evaluator's
# metrics of the samples against their condition; the floor, the same samples against another condition of the
# set (sample of condition i vs condition i - 1: what ignoring the condition scores); the ceiling, a matching
# render (a human of the same angles; a layout render of the same map) through the image VQGAN against the
# condition (and the render itself); the diversity beside it; the cond VQGAN's reconstruction of the conditions.

USER_METRICS = {"labels": ("miou_per_image", "miou"), "pose": ("pck", "pck_image"),
                "depth": ("spearman_deviation", "spearman_within_row", "spearman")}
USER_NAMES = {"miou": "miou_pooled"}  # a metric's name in the user-style rows


def user_target(task: str, condition) -> torch.Tensor:
    """A user-style condition (at the evaluator's size) as the evaluator's target: labels channel indices (H, W),
    depth (1, H, W) in [-1, 1], pose keypoints (18, 3)."""
    if task == "labels":
        return torch.from_numpy(ids_to_index(condition).astype(np.int64))
    if task == "depth":
        return torch.from_numpy(np.asarray(condition, np.float32))[None] * 2 - 1
    return torch.from_numpy(np.asarray(condition, np.float32))


def matching_renders(task: str, conditions: list, size: int, seed=USER_STYLE_SEED):
    """(n, 3, size, size) renders that follow the user-style conditions (item i of seed (seed, i)), or a string
    saying why there are none: pose, the human of the same angles (`user_style.pose_human`); labels and depth,
    `taming_lite.data.layout.render_layout` of the map."""
    if task == "pose":
        images = [user_style.pose_human((seed, i), size, size).image for i in range(len(conditions))]
    else:
        try:
            from .data.layout import render_layout
        except ImportError:
            return "n/a (no taming_lite.data.layout.render_layout in this tree)"
        images = [render_layout((seed, i), size, size, **{task: c}).image for i, c in enumerate(conditions)]
    return torch.stack([image_to_tensor(im) for im in images])


@torch.no_grad()
def cond_stage_accuracy(model, task: str, conditions: list, size: int) -> dict:
    """What the cond VQGAN keeps of the user-style conditions: labels, mIoU (per image and pooled) of the argmax of
    its reconstruction; depth, Spearman (plain and within rows) of its reconstruction. Empty for pose and for
    aligned conditioning (its cond encoder quantizes nothing: the condition reaches the GPT whole)."""
    if getattr(getattr(model, "config", None), "aligned", False):
        return {}
    cs = model.cond_stage_model
    if task == "labels":
        t = torch.stack([user_target(task, c) for c in conditions])
        x = F.one_hot(t, cs.config.in_channels).permute(0, 3, 1, 2).float()
        pred = torch.cat([cs(x[i:i + 16])[0].argmax(1) for i in range(0, len(x), 16)])  # logits: not clamped
        return {"cond_vqgan_miou_per_image": miou_per_image(pred, t), "cond_vqgan_miou_pooled": miou(pred, t)}
    if task == "depth":
        t = torch.stack([user_target(task, c) for c in conditions])
        pred = torch.cat([cs.reconstruct(t[i:i + 16]) for i in range(0, len(t), 16)])
        return {"cond_vqgan_spearman": float(spearman(pred, t).mean()),
                "cond_vqgan_spearman_within_row": float(spearman(within_row(pred), within_row(t)).mean())}
    return {}


@torch.no_grad()
def eval_user_style(pipe, n: int, n_samples: int, evaluator, guidance: float = 1.0, seed=USER_STYLE_SEED,
                    n_real: int = 200, per_class: bool = False) -> dict:
    """Adherence of a labels / depth / pose Pipeline to n user-style conditions (`taming_lite.data.user_style`),
    `n_samples` samples each: for each metric of USER_METRICS[task] the samples' value, "_floor_mismatched",
    "_ceiling_vqgan_recon", "_matching_render" and "_normalized" = (value - floor) / (ceiling - floor); the
    diversity (mean pairwise pixel MSE of one condition's samples); the cond VQGAN's accuracy on the conditions.
    Depth's "spearman_deviation" subtracts the mean depth map of n_real held-out renders, as on held-out renders."""
    task, model = pipe.task, pipe.model
    size, out_size = _pipeline_model_size(pipe)
    conds = user_style.conditions(task, n, size, seed)
    targets = torch.stack([user_target(task, c) for c in conds])
    samples, divs, times = [], [], []
    for c in conds:
        if task == "pose":
            c = c.copy()
            c[:, :2] *= out_size / size  # keypoints in output pixels
        imgs, _, secs = _sample(pipe, pipe.prepare(c, size=(out_size, out_size)), n_samples, guidance)
        imgs = resized(imgs, size)
        samples.append(imgs)
        divs.append(diversity(imgs))
        times.append(secs)
    x = torch.cat(samples)
    kw = {"per_class": per_class} if task == "labels" else {}
    if task == "depth":
        kw["mean_depth"] = load_data("depth", n_real, size, HELD_OUT_SEED)["target"].float().mean(0)
    rep = lambda t: t.repeat_interleave(n_samples, 0)  # noqa: E731  (one target per sample)
    scores = {"": consistency(evaluator, x, rep(targets), **kw),
              "_floor_mismatched": consistency(evaluator, x, rep(targets.roll(1, 0)), **kw)}
    renders = matching_renders(task, conds, size, seed)
    if not isinstance(renders, str):
        recon = resized(model.first_stage_model.reconstruct(renders), size)
        scores["_ceiling_vqgan_recon"] = consistency(evaluator, recon, targets, **kw)
        scores["_matching_render"] = consistency(evaluator, renders, targets, **kw)
    out = {"conditions": n, "samples_each": n_samples, "guidance": guidance, "seed": seed,
           "diversity_mse": sum(divs) / len(divs), "seconds_per_sample": sum(times) / len(times)}
    for metric in USER_METRICS[task]:
        name = USER_NAMES.get(metric, metric)
        for which in ("", "_floor_mismatched", "_ceiling_vqgan_recon", "_matching_render"):
            out[name + which] = scores[which][metric] if which in scores else renders
        gen, floor, top = (out[name + w] for w in ("", "_floor_mismatched", "_ceiling_vqgan_recon"))
        out[name + "_normalized"] = (gen - floor) / (top - floor) if not isinstance(top, str) and top > floor \
            else float("nan")
    if per_class:
        out.update({k: v for k, v in scores[""].items() if k.startswith("iou_")})
    out.update(cond_stage_accuracy(model, task, conds, size))
    return out


@torch.no_grad()
def first_stage_ceiling(vqgan, x, low) -> dict:
    """What super-resolution decoded by `vqgan` can reach: the ground truth x (B, 3, H, W) encoded and decoded
    by it, as PSNR vs x relative to bicubic upsampling of low (B, 3, H/f, W/f), plain and back-projected onto
    low, and its consistency with low (area-downsampled vs low). dB, averaged over images; with the bicubic
    PSNR itself as "bicubic_psnr_db"."""
    factor = x.shape[-1] // low.shape[-1]
    bicubic = psnr(F.interpolate(low, scale_factor=factor, mode="bicubic", align_corners=False), x).mean()
    recon = resized(vqgan.reconstruct(x), x.shape[-1])  # a larger decoder's output: area-downsampled to x's size
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
    recon = resized(model.first_stage_model.reconstruct(x), x.shape[-1])  # a larger decoder: back to x's size
    kw = {"mean_depth": t.float().mean(0)} if task == "depth" else {"per_class": per_class} if task == "labels" else {}
    scores = {"generated_vs_input": consistency(evaluator, samples, targets, **kw),
              "evaluator_on_real": consistency(evaluator, x, t, **kw),  # its ceiling
              "evaluator_on_vqgan_recon": consistency(evaluator, recon, t, **kw),  # the first stage's ceiling
              "floor_shuffled": consistency(evaluator, x, t.roll(1, 0), **kw)}  # real image vs another's condition
    out = {}
    more = {"depth": ["spearman_deviation", "spearman_within_row"], "labels": ["miou_per_image"]}.get(task, [])
    for metric in [m] + more:
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
USER_CONDITIONS = 24  # user-style conditions per task by default


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
    p.add_argument("--n", type=int, default=200,
                   help="held-out images for the VQGAN metrics and the evaluators' own scores; with "
                        "--user-style-only, the number of user-style conditions per task")
    p.add_argument("--conditions", type=int, default=2, help="held-out conditions per transformer")
    p.add_argument("--samples", type=int, default=8, help="samples (seeds) per condition")
    p.add_argument("--only", nargs="*", default=None, help="names of weights dirs to evaluate")
    p.add_argument("--evaluators", default=None, help="evaluator networks' folder (default: <weights>/evaluators)")
    p.add_argument("--realism-size", type=int, default=None,
                   help="side in px at which the realism numbers compare images with renders (default: the "
                        "decoder's output size; a smaller output is upscaled bicubically)")
    p.add_argument("--per-class", action="store_true",
                   help="labels: the IoU of every class (samples, real renders, their reconstructions)")
    p.add_argument("--guidance", type=float, nargs="+", default=None,
                   help="classifier-free guidance scales to sample with, e.g. 1 2 3 (default: each model's own; "
                        "1 = off; a scale a model cannot use is reported as n/a)")
    p.add_argument("--user-conditions", type=int, default=None,
                   help=f"user-style conditions per task (default {USER_CONDITIONS}; with --user-style-only, --n)")
    p.add_argument("--user-style-only", action="store_true",
                   help="only the user-style sets of the labels, depth and pose transformers")
    p.add_argument("--no-user-style", action="store_true", help="skip the user-style sets")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the table's numbers to a JSON file")
    args = p.parse_args(argv)
    if args.user_style_only and args.no_user_style:
        p.error("--user-style-only and --no-user-style exclude each other")
    n_user = args.user_conditions or (args.n if args.user_style_only else USER_CONDITIONS)
    root = Path(args.weights)
    eval_root = Path(args.evaluators) if args.evaluators else root / "evaluators"
    results: dict[str, dict] = {}

    def report(row: str, res: dict):
        results.setdefault(row, {}).update(res)
        for k, v in res.items():
            print(f"| {row} | {k} | {v:.4g} |" if isinstance(v, float) else f"| {row} | {k} | {v} |")

    print(f"# taming-lite evaluation, {time.strftime('%Y-%m-%d')}, held-out seed {HELD_OUT_SEED}, user-style seed "
          f"{USER_STYLE_SEED}, weights {_shown(root)}")
    print("\n| model | metric | value |\n|---|---|---|")
    names = ([] if args.user_style_only else list(VQGANS)) + list(TRANSFORMERS)
    for name in names:
        if args.only and name not in args.only:
            continue
        if args.user_style_only and name not in EVALUATED:
            continue
        d = root / name
        if not (d / "config.json").is_file() and name in EMBEDDED_IN:
            d = root / EMBEDDED_IN[name][0]
        if not (d / "config.json").is_file():
            report(name, {"(missing)": "-"})
            continue
        segmenter = _evaluator(eval_root, "labels")  # the realism numbers' feature space (Frechet)
        segmenter = None if isinstance(segmenter, str) else segmenter
        if name in VQGANS:
            model = load_pretrained(d)
            if d.name != name:
                model = getattr(model, EMBEDDED_IN[name][1])
                if not isinstance(model, VQGAN):  # an aligned model's cond stage is an encoder, not a VQGAN
                    report(name, {"(none)": f"{d.name} has no {name} (aligned conditioning: a cond encoder)"})
                    continue
            task, key = VQGANS[name]
            report(name, eval_vqgan(model, task, key, args.n, realism_size=args.realism_size, evaluator=segmenter))
            continue
        task = name
        pipe = Pipeline.from_pretrained(str(d), task=task, device="cpu")  # what the app samples with, on the CPU
        key = condition_key(pipe.model, task)
        evaluator = _evaluator(eval_root, task) if task in EVALUATED else None
        missing = evaluator if isinstance(evaluator, str) else None
        for g in args.guidance or [pipe.defaults()["guidance"]]:
            suffix = f"guidance {g:g}" if args.guidance else ""
            row = f"{name} ({suffix})" if suffix else name
            user_row = f"{name} (user-style{', ' + suffix if suffix else ''})"
            try:
                check_guidance(pipe.model.config, g)  # a row for each scale the model can take
            except ValueError as e:
                for r in ([] if args.user_style_only else [row]) + ([user_row] if task in EVALUATED and
                                                                     not args.no_user_style else []):
                    report(r, {"guidance": f"n/a ({e})"})
                continue
            if not args.user_style_only:
                res = eval_transformer(pipe, key, args.conditions, args.samples,
                                       evaluator=None if missing else evaluator, n_real=args.n,
                                       per_class=args.per_class, segmenter=segmenter,
                                       realism_size=args.realism_size, guidance=g)
                if missing:
                    res[f"{METRIC[task]}_generated_vs_input"] = missing
                report(row, res)
            if task in EVALUATED and not args.no_user_style:
                if missing:
                    report(user_row, {METRIC[task]: missing})
                else:
                    report(user_row, eval_user_style(pipe, n_user, args.samples, evaluator, guidance=g,
                                                     n_real=args.n, per_class=args.per_class))
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d"), "weights": _shown(root), "held_out_seed": HELD_OUT_SEED,
                "user_style_seed": USER_STYLE_SEED, "argv": sys.argv[1:] if argv is None else list(argv)}
        Path(args.json).write_text(json.dumps({**meta, "results": _jsonable(results)}, indent=1) + "\n")
        print(f"\n(wrote {args.json})")


def _jsonable(x):
    """NaN and infinities as null (strict JSON), recursively."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    main()
