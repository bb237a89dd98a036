"""Evaluator networks: a segmenter, a depth regressor and a keypoint detector that measure whether a
generated image follows its condition (label map, depth map, pose).

    python -m taming_lite.evaluators train --task labels --out weights/evaluators/labels --steps 3000
    python -m taming_lite.evaluators score weights/evaluators/labels --n 200   # on held-out real renders

Each is one small U-Net (3x3 conv + BatchNorm + SiLU blocks, max-pool down, nearest-neighbour up,
skip connections) behind a lossless space-to-depth step (pixel_unshuffle by 2: a 64x64 image becomes
12 x 32x32, so the U-Net costs a quarter; pixel_shuffle brings the output back to 64x64). Only the output
head, the loss and the read-out differ by task:

| task   | output per image        | loss                                          | prediction          | metric   |
|--------|-------------------------|-----------------------------------------------|---------------------|----------|
| labels | (14, H, W) class logits | cross-entropy (optionally class-balanced)     | argmax: class index | mIoU     |
| depth  | (1, H, W)               | L1 on depth in [-1, 1] (near = 1)             | the map             | Spearman |
| pose   | (18, H, W) heatmaps     | spatial-softmax CE vs a Gaussian + L1 (px) on | soft-argmax (x, y)  | PCK@0.1  |
|        |                         | the soft-argmax, over visible keypoints       | in px               |          |

Metrics (what `consistency` returns; "target" is ground truth for real renders, the input
condition for generated images):
- mIoU: per class IoU = TP / (TP + FP + FN) from one confusion matrix accumulated over all images,
  averaged over the classes present in the target or the prediction ("miou", pooled); "miou_per_image":
  the same from each image's own confusion matrix, averaged over images (a map of few classes counts as
  much as one of many, and a class missed in one image is not hidden by the others);
- Spearman: rank correlation (average ranks for ties) of predicted vs target depth over all pixels of
  one image, averaged over images (0 for an image whose prediction or target is constant);
  "spearman_within_row": the same of each map with its row means removed (`within_row`), so the
  top-to-bottom ramp every landscape has (sky far, ground near) scores nothing and only what differs
  across a row (an object, a wall, a step) counts;
- PCK@0.1: share of the target's visible keypoints predicted within 0.1 x the larger side of the
  target person's bounding box (the box around its visible keypoints), pooled over all keypoints;
  `pck_image` uses 0.1 x the larger image side instead (a laxer threshold, for reference).

Evaluators train on renders of base seed 2 (`seeds.EVALUATOR_SEED`; the generators use seed 0) and are scored
on held-out seed 1 (`seeds.HELD_OUT_SEED`). Training augments with horizontal flips (left/right
keypoints swapped) and, on half the images, a blur and pixel noise, so that the soft, slightly noisy
images of a VQGAN decoder are not out of distribution. With `--first-stage VQGAN` a share of each batch
(`--recon-share`, default 0.5) is instead the training renders as that VQGAN reconstructs them, with
the renders' own targets: a decoder changes colours and textures in ways a blur does not imitate.
Measured for the segmenter with the shipped 64x64 image VQGAN (3000 steps as scripts/train_evaluators.sh):
mIoU on reconstructions of held-out renders 0.50 -> 0.54, on the real renders 0.70 -> 0.66, so the
reconstructions have lost most of what tells bush, dirt and grass apart, and the shipped segmenter
stays the one trained on renders alone.

Saved like the other models (config.json + model.safetensors), with `model_type: "evaluator"`.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoints import CheckpointError, load_pretrained, load_stage, read_config, register_model_type, save_pretrained
from .data.datasets import make_dataset
from .data.labels import LANDSCAPE_CLASSES, NUM_CLASSES
from .seeds import EVALUATOR_SEED, HELD_OUT_SEED
from .tasks import TASK_NAMES
from .vqgan import VQGAN

TASKS = tuple(t for t in TASK_NAMES if t in ("labels", "depth", "pose"))  # the tasks an evaluator scores
OUT_CHANNELS = {"labels": NUM_CLASSES, "depth": 1, "pose": 18}
METRIC = {"labels": "miou", "depth": "spearman", "pose": "pck"}  # the headline metric of each task
# pose: the left/right partner of each keypoint (a horizontal flip swaps them)
FLIP_PAIRS = [0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16]


@dataclass
class EvaluatorConfig:
    task: str = "labels"  # labels | depth | pose
    image_size: int = 64  # trained resolution; other sizes are resized to it
    in_channels: int = 3
    patch: int = 2  # space-to-depth factor: the U-Net runs at image_size / patch, pixel-(un)shuffled
    ch: int = 16  # channels at the U-Net's top level
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)  # one level per entry; len - 1 down-samplings
    heatmap_sigma: float = 1.0  # pose: px, std of the Gaussian target

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        self.ch_mult = tuple(self.ch_mult)
        if self.image_size % (self.patch * 2 ** (len(self.ch_mult) - 1)):
            raise ValueError(f"image_size {self.image_size} must be divisible by patch x 2^{len(self.ch_mult) - 1}")

    @property
    def out_channels(self) -> int:
        return OUT_CHANNELS[self.task]

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- model


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, ch: int, ch_mult: tuple[int, ...]):
        super().__init__()
        chs = [ch * m for m in ch_mult]
        self.stem = conv_block(in_channels, chs[0])
        self.down = nn.ModuleList(conv_block(chs[i], chs[i + 1]) for i in range(len(chs) - 1))
        self.up = nn.ModuleList(conv_block(chs[i + 1] + chs[i], chs[i]) for i in reversed(range(len(chs) - 1)))
        self.head = nn.Conv2d(chs[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        skips = []
        for block in self.down:
            skips.append(h)
            h = block(F.max_pool2d(h, 2))  # (B, C', H/2, W/2)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1))
        return self.head(h)


class Evaluator(nn.Module):
    """Image (B, 3, H, W) in [-1, 1] -> per-pixel output (B, out_channels, H, W); `predict` reads it out."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.config = config
        p2 = config.patch**2
        self.net = UNet(config.in_channels * p2, config.out_channels * p2, config.ch, config.ch_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.config.patch
        h = F.pixel_unshuffle(x, p)  # (B, 3 p^2, H/p, W/p): every pixel kept, 1/p^2 of the compute
        return F.pixel_shuffle(self.net(h), p)  # (B, out_channels, H, W)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """labels: (B, H, W) channel indices; depth: (B, 1, H, W) in about [-1, 1]; pose: (B, 18, 2) x, y in px
        (pixel centres at +0.5, as the renderer). Images of another size are resized to the trained one
        and the prediction is mapped back."""
        H, W = x.shape[-2:]
        s = self.config.image_size
        if (H, W) != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        out = self(x)
        if self.config.task == "pose":
            xy = soft_argmax(out)
            return xy * torch.tensor([W / s, H / s], device=xy.device)
        if (H, W) != (s, s):
            out = F.interpolate(out, size=(H, W), mode="bilinear", align_corners=False)
        return out.argmax(1) if self.config.task == "labels" else out


register_model_type("evaluator", Evaluator, EvaluatorConfig)  # save_pretrained / load_pretrained know it


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) heatmap logits -> (B, K, 2) expected (x, y) in px under the spatial softmax."""
    B, K, H, W = logits.shape
    p = logits.flatten(2).softmax(-1).view(B, K, H, W)
    xs = torch.arange(W, dtype=p.dtype, device=p.device) + 0.5
    ys = torch.arange(H, dtype=p.dtype, device=p.device) + 0.5
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)


def loss_fn(model: Evaluator, x: torch.Tensor, target: torch.Tensor, class_weight: torch.Tensor | None = None):
    """Training loss for one batch; `target` as in `load_data` (indices, depth, or keypoints (B, 18, 3));
    `class_weight` (labels): per-class weights of the cross-entropy."""
    out = model(x)
    task = model.config.task
    if task == "labels":
        return F.cross_entropy(out, target.long(), weight=class_weight)
    if task == "depth":
        return F.l1_loss(out, target.float())
    B, K, H, W = out.shape
    vis = target[..., 2] > 0  # (B, K)
    xs = torch.arange(W, dtype=out.dtype) + 0.5
    ys = torch.arange(H, dtype=out.dtype) + 0.5
    dx = xs[None, None, None, :] - target[..., 0, None, None]  # (B, K, 1, W)
    dy = ys[None, None, :, None] - target[..., 1, None, None]  # (B, K, H, 1)
    d2 = dx**2 + dy**2  # (B, K, H, W)
    g = torch.exp(-d2 / (2 * model.config.heatmap_sigma**2)).flatten(2)  # (B, K, H*W)
    g = g / g.sum(-1, keepdim=True).clamp(min=1e-12)
    ce = -(g * out.flatten(2).log_softmax(-1)).sum(-1)  # (B, K)
    l1 = (soft_argmax(out) - target[..., :2]).abs().sum(-1)  # (B, K) px
    per_kp = ce + l1
    return (per_kp * vis).sum() / vis.sum().clamp(min=1)


# --------------------------------------------------------------------------- metrics


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, n_classes: int = NUM_CLASSES) -> torch.Tensor:
    """(n, n) counts, rows = target class, columns = predicted class."""
    idx = target.reshape(-1).long() * n_classes + pred.reshape(-1).long()
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def miou(pred: torch.Tensor, target: torch.Tensor, n_classes: int = NUM_CLASSES) -> float:
    """Mean IoU over the classes present in target or prediction, from one confusion matrix of all pixels."""
    return miou_from_confusion(confusion_matrix(pred, target, n_classes))


def iou_per_class(conf: torch.Tensor) -> torch.Tensor:
    """(n,) IoU of each class from a confusion matrix; NaN for a class in neither target nor prediction."""
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def miou_from_confusion(conf: torch.Tensor) -> float:
    iou = iou_per_class(conf)
    present = ~iou.isnan()
    return float(iou[present].mean()) if present.any() else float("nan")


def miou_per_image(pred: torch.Tensor, target: torch.Tensor, n_classes: int = NUM_CLASSES) -> float:
    """mIoU of each image (B, H, W) from its own confusion matrix, averaged over the images."""
    return float(torch.tensor([miou(p, t, n_classes) for p, t in zip(pred, target)]).mean())


def within_row(x: torch.Tensor) -> torch.Tensor:
    """(..., H, W) maps with each row's mean removed: what varies across a row, without the vertical ramp."""
    x = x.float()
    return x - x.mean(-1, keepdim=True)


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image Spearman rank correlation of a and b (B, ...) over all their elements -> (B,), by
    `scipy.stats.spearmanr` (tied values share their mean rank). An image where either is constant gets 0."""
    from scipy.stats import spearmanr  # imported here: scipy.stats takes 1-2 s, and only scoring needs it

    out = []
    for ai, bi in zip(a.detach().flatten(1).float().cpu().numpy(), b.detach().flatten(1).float().cpu().numpy()):
        constant = ai.min() == ai.max() or bi.min() == bi.max()
        out.append(0.0 if constant else float(spearmanr(ai, bi).statistic))
    return torch.tensor(out)


def pck(pred: torch.Tensor, target: torch.Tensor, image_size, alpha: float = 0.1, ref: str = "bbox") -> float:
    """Share of target-visible keypoints within alpha x ref of the target, pooled over the batch.
    pred (B, K, 2) px; target (B, K, 3) x, y, visibility; image_size int or (H, W).
    ref "bbox": the larger side of the box around the visible target keypoints (the image's larger side
    when fewer than 2 are visible); "image": the larger image side."""
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    vis = target[..., 2] > 0  # (B, K)
    if not vis.any():
        return float("nan")
    side = torch.full((len(target),), float(max(H, W)))
    if ref == "bbox":
        for i, (t, v) in enumerate(zip(target, vis)):
            if v.sum() >= 2:
                span = t[v, :2].max(0).values - t[v, :2].min(0).values
                side[i] = span.max()
    elif ref != "image":
        raise ValueError(f"ref must be 'bbox' or 'image', got {ref!r}")
    dist = (pred[..., :2].float() - target[..., :2].float()).norm(dim=-1)  # (B, K)
    hit = dist <= alpha * side[:, None]
    return float(hit[vis].float().mean())


@torch.no_grad()
def consistency(model: Evaluator, images: torch.Tensor, target: torch.Tensor, batch_size: int = 64,
                mean_depth: torch.Tensor | None = None, per_class: bool = False) -> dict:
    """Run the evaluator on images (B, 3, H, W) and compare with the target (ground truth of real renders,
    or the input condition of generated images): labels (B, H, W) channel indices, depth (B, 1, H, W),
    pose keypoints (B, 18, 3). Returns {METRIC[task]: value, ...secondary metrics} (labels: miou, miou_per_image,
    pixel_accuracy; depth: spearman, l1, spearman_within_row; pose: pck, pck_image).
    Depth with `mean_depth` (1, H, W), the average depth map of real renders: also "spearman_deviation",
    the rank correlation of (predicted - mean_depth) vs (target - mean_depth), which ignores the layout
    every landscape shares (sky far on top, ground near at the bottom) and scores only what differs.
    Labels with `per_class`: also "iou_<class name>" for every class (NaN where it is in neither map)."""
    model.eval()
    pred = torch.cat([model.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    task = model.config.task
    if task == "labels":
        conf = confusion_matrix(pred, target)
        out = {"miou": miou_from_confusion(conf), "miou_per_image": miou_per_image(pred, target),
               "pixel_accuracy": float((pred == target).float().mean())}
        if per_class:
            out.update({f"iou_{c[1]}": float(v) for c, v in zip(LANDSCAPE_CLASSES, iou_per_class(conf))})
        return out
    if task == "depth":
        out = {"spearman": float(spearman(pred, target).mean()), "l1": float((pred - target).abs().mean()),
               "spearman_within_row": float(spearman(within_row(pred), within_row(target)).mean())}
        if mean_depth is not None:
            out["spearman_deviation"] = float(spearman(pred - mean_depth, target - mean_depth).mean())
        return out
    size = tuple(images.shape[-2:])
    return {"pck": pck(pred, target, size, ref="bbox"), "pck_image": pck(pred, target, size, ref="image")}


# --------------------------------------------------------------------------- data


def load_data(task: str, n: int, size: int = 64, seed: int = EVALUATOR_SEED, root=None,
              source: str | None = None) -> dict:
    """n samples as compact tensors: image uint8 (n, 3, H, W) and target (labels: uint8 channel indices
    (n, H, W); depth: float16 (n, 1, H, W) in [-1, 1]; pose: float32 keypoints (n, 18, 3)).
    root=None renders them (seed (seed, i)) from the task's renderer, or `source` (e.g. "layout" for labels
    and depth, "human_wide" for pose: `data.datasets.ProceduralDataset`); else an npz cache or image folder
    (`data.make_dataset`)."""
    if root is None:
        ds = make_dataset(task, size=size, length=n, seed=seed, source=source)
    else:
        ds = make_dataset(task, root, size=size, crop="center")
        n = min(n, len(ds))
    images, targets = [], []
    for i in range(n):
        item = ds[i]
        if tuple(item["image"].shape[-2:]) != (size, size):
            raise ValueError(f"{root}: item {i} is {tuple(item['image'].shape[-2:])}, expected {size}x{size}")
        images.append(((item["image"] + 1) * 127.5).round().to(torch.uint8))
        t = target_of(task, item)
        targets.append(t.to(torch.uint8) if task == "labels" else t.half() if task == "depth" else t)
    return {"image": torch.stack(images), "target": torch.stack(targets)}


@torch.no_grad()
def resized(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images to size x size: bicubic up (clamped to [-1, 1]), area down; unchanged at that size."""
    if x.shape[-1] == size:
        return x
    if x.shape[-1] < size:
        return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)
    return F.interpolate(x, size=(size, size), mode="area")


def reconstruct(vqgan: VQGAN, images: torch.Tensor, batch_size: int = 64, log=None) -> torch.Tensor:
    """uint8 images (n, 3, H, W) through a VQGAN (`VQGAN.reconstruct`): uint8 reconstructions at (H, W)
    (a decoder with extra levels, such as the shipped models' 128-pixel one, area-downsampled back to the
    input's size, as `taming_lite.evaluate` does with samples)."""
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].float() / 127.5 - 1.0
        r = resized(vqgan.reconstruct(x, batch_size), x.shape[-1])
        out.append(((r + 1) * 127.5).round().to(torch.uint8))
        if log is not None and (i // batch_size) % 20 == 0:
            log(f"reconstructed {min(i + batch_size, len(images))}/{len(images)}")
    return torch.cat(out)


def target_of(task: str, item: dict) -> torch.Tensor:
    """What an evaluator predicts, from a data set item: labels (H, W) channel indices (long),
    depth (1, H, W) in [-1, 1], pose keypoints (18, 3)."""
    if task == "labels":
        return item["labels"].argmax(0)
    return item["depth"] if task == "depth" else item["keypoints"]


def get_batch(data: dict, idx: torch.Tensor, task: str, augment: bool = False, generator=None,
              recon_share: float = 0.0):
    """Float images in [-1, 1] and float targets for the indices, optionally augmented. With augment and
    data["recon"] (`reconstruct`), a share `recon_share` of the images is their VQGAN reconstruction."""
    x = data["image"][idx].float() / 127.5 - 1.0
    t = data["target"][idx]
    t = t.long() if task == "labels" else t.float()
    if not augment:
        return x, t
    B, _, H, W = x.shape
    if recon_share > 0:
        if "recon" not in data:
            raise ValueError("recon_share > 0 needs data['recon'] (evaluators.reconstruct)")
        use = torch.rand(B, generator=generator) < recon_share
        x[use] = data["recon"][idx][use].float() / 127.5 - 1.0
    flip = torch.rand(B, generator=generator) < 0.5
    x[flip] = x[flip].flip(-1)
    if task == "pose":
        kp = t[flip][:, FLIP_PAIRS]
        kp[..., 0] = W - kp[..., 0]  # pixel centre j + 0.5 -> (W - 1 - j) + 0.5
        t[flip] = kp
    else:
        t[flip] = t[flip].flip(-1)
    # half the batch: a blur of random strength and a little noise (decoder-like images)
    soft = torch.rand(B, generator=generator) < 0.5
    if soft.any():
        xs = x[soft]
        blurred = F.interpolate(F.avg_pool2d(xs, 2), size=(H, W), mode="bilinear", align_corners=False)
        a = torch.rand(len(xs), 1, 1, 1, generator=generator)
        xs = xs + a * (blurred - xs)
        xs = xs + 0.05 * torch.rand(len(xs), 1, 1, 1, generator=generator) * torch.randn(xs.shape, generator=generator)
        x[soft] = xs.clamp(-1, 1)
    return x, t


# --------------------------------------------------------------------------- training


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    n_train: int = 6000
    data_seed: int = EVALUATOR_SEED
    seed: int = 0
    augment: bool = True
    class_balance: float = 0.0  # labels: class weights (1 / frequency)^class_balance (0: plain cross-entropy)
    recon_share: float = 0.0  # share of each batch shown as VQGAN reconstructions (needs data["recon"])
    log_every: int = 100
    history: list = field(default_factory=list)


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def train(config: EvaluatorConfig, tc: TrainConfig, data: dict, log=print) -> Evaluator:
    """Train an evaluator on `data` (from `load_data`); AdamW, linear warm-up then cosine decay.
    Appends (step, mean loss since the last log) to tc.history. Returns the model in eval mode."""
    torch.manual_seed(tc.seed)
    g = torch.Generator().manual_seed(tc.seed)
    model = Evaluator(config).train()
    opt = configure_optimizer(model, tc.lr, tc.weight_decay)
    n = len(data["image"])
    weight = None
    if config.task == "labels" and tc.class_balance > 0:  # rare classes count more (mIoU weighs classes equally)
        freq = torch.bincount(data["target"].flatten().long(), minlength=config.out_channels).double()
        weight = (freq.clamp(min=1) / freq.sum()) ** -tc.class_balance
        weight = (weight / (weight * freq).sum() * freq.sum()).float()  # mean weight per pixel = 1
    t0, running = time.perf_counter(), []
    for step in range(1, tc.steps + 1):
        lr = tc.lr * min(1.0, step / max(1, tc.warmup)) * 0.5 * (1 + math.cos(math.pi * (step - 1) / tc.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, n, (tc.batch_size,), generator=g)
        x, t = get_batch(data, idx, config.task, augment=tc.augment, generator=g, recon_share=tc.recon_share)
        with torch.enable_grad():  # (also when called under no_grad)
            loss = loss_fn(model, x, t, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        running.append(loss.item())
        if step % tc.log_every == 0 or step == tc.steps:
            tc.history.append((step, sum(running) / len(running)))
            log(f"step {step}/{tc.steps} loss {tc.history[-1][1]:.4f} lr {lr:.2e} {time.perf_counter() - t0:.0f}s")
            running = []
    return model.eval()


# --------------------------------------------------------------------------- save / load


def save_evaluator(model: Evaluator, directory, extra: dict | None = None,
                   dtype: torch.dtype | None = torch.float16) -> Path:
    """config.json (model_type "evaluator") + model.safetensors, by `checkpoints.save_pretrained`."""
    return save_pretrained(model, directory, extra=extra, dtype=dtype)


def load_evaluator(directory) -> Evaluator:
    """Load a saved evaluator (fp32, eval mode); CheckpointError naming the file if it does not fit."""
    model_type = read_config(directory)["model_type"]
    if model_type != "evaluator":
        raise CheckpointError(f"{directory}: model_type {model_type!r} is not an evaluator")
    return load_pretrained(directory).float().eval()


def score_real(model: Evaluator, n: int, seed: int, vqgan: nn.Module | None = None, source: str | None = None) -> dict:
    """The evaluator against ground truth on n real renders of base seed `seed` (seeds.HELD_OUT_SEED) of the
    task's renderer or `source`, or, given a VQGAN, on those renders as it reconstructs them."""
    data = load_data(model.config.task, n, model.config.image_size, seed, source=source)
    if vqgan is not None:
        data["image"] = reconstruct(vqgan, data["image"])
    x, t = get_batch(data, torch.arange(len(data["image"])), model.config.task)
    return consistency(model, x, t)


# --------------------------------------------------------------------------- CLI


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m taming_lite.evaluators", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one evaluator, save it, score it on held-out real renders")
    t.add_argument("--task", choices=TASKS, required=True)
    t.add_argument("--out", required=True, help="output directory (config.json + model.safetensors)")
    t.add_argument("--steps", type=int, default=TrainConfig.steps)
    t.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    t.add_argument("--lr", type=float, default=TrainConfig.lr)
    t.add_argument("--n-train", type=int, default=TrainConfig.n_train, help="training renders")
    t.add_argument("--data", default=None, help="npz cache or image folder (default: render seed --data-seed)")
    t.add_argument("--data-seed", type=int, default=EVALUATOR_SEED)
    t.add_argument("--source", default=None,
                   help="renderer of the training renders (default the task's; labels/depth: layout, pose: human_wide)")
    t.add_argument("--size", type=int, default=EvaluatorConfig.image_size)
    t.add_argument("--ch", type=int, default=EvaluatorConfig.ch)
    t.add_argument("--ch-mult", type=int, nargs="+", default=list(EvaluatorConfig.ch_mult))
    t.add_argument("--no-augment", action="store_true")
    t.add_argument("--class-balance", type=float, default=0.0, help="labels: class weights (1/frequency)^this")
    t.add_argument("--first-stage", default=None, metavar="VQGAN",
                   help="a VQGAN (or a model folder holding one): also train on its reconstructions of the renders")
    t.add_argument("--recon-share", type=float, default=0.5,
                   help="with --first-stage: share of each batch shown reconstructed (default 0.5)")
    t.add_argument("--n-eval", type=int, default=200, help="held-out real renders to score on")
    t.add_argument("--fp32", action="store_true", help="store fp32 weights (default fp16)")
    t.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is the most CPU-efficient for these small convolutions on a shared machine)")
    s = sub.add_parser("score", help="score a saved evaluator on held-out real renders")
    s.add_argument("directory")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    s.add_argument("--source", default=None, help="renderer of the held-out renders (default the task's)")
    s.add_argument("--first-stage", default=None, metavar="VQGAN",
                   help="also score on the renders as this VQGAN (or a model folder holding one) reconstructs them")
    args = p.parse_args(argv)
    if not 0.0 <= getattr(args, "recon_share", 0.0) <= 1.0:
        p.error(f"--recon-share must lie in [0, 1], got {args.recon_share}")
    vqgan = None
    if args.first_stage:
        try:
            vqgan = load_stage(args.first_stage)
        except (ValueError, CheckpointError) as e:
            p.error(f"--first-stage: {e}")

    if args.cmd == "score":
        model = load_evaluator(args.directory)
        runs = [("real renders", None)] + ([(f"reconstructions by {args.first_stage}", vqgan)] if vqgan else [])
        for what, vq in runs:
            res = score_real(model, args.n, args.seed, vq, source=args.source)
            print(f"{args.directory} ({model.config.task}) on {args.n} {what} of seed {args.seed}: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))
        return
    torch.set_num_threads(args.threads)
    config = EvaluatorConfig(task=args.task, image_size=args.size, ch=args.ch, ch_mult=tuple(args.ch_mult))
    tc = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, n_train=args.n_train,
                     data_seed=args.data_seed, augment=not args.no_augment, class_balance=args.class_balance,
                     recon_share=args.recon_share if vqgan is not None else 0.0)
    if vqgan is not None and tc.augment is False:
        p.error("--first-stage reconstructions are an augmentation: it cannot go with --no-augment")
    t0 = time.perf_counter()
    data = load_data(args.task, args.n_train, args.size, args.data_seed, args.data, source=args.source)
    print(f"data: {len(data['image'])} {args.task} samples ({time.perf_counter() - t0:.0f}s)")
    if vqgan is not None:
        t0 = time.perf_counter()
        data["recon"] = reconstruct(vqgan, data["image"], log=print)
        print(f"reconstructed them with {args.first_stage} ({time.perf_counter() - t0:.0f}s)")
    t1 = time.perf_counter()
    model = train(config, tc, data)
    train_s = time.perf_counter() - t1
    n_params = sum(p.numel() for p in model.parameters())
    dtype = None if args.fp32 else torch.float16
    extra = {"steps": tc.steps, "batch_size": tc.batch_size, "lr": tc.lr, "n_train": len(data["image"]),
             "data": args.data or f"procedural ({args.source or 'default'} source), base seed {args.data_seed}",
             "augment": tc.augment,
             "class_balance": tc.class_balance, "first_stage": args.first_stage, "recon_share": tc.recon_share,
             "train_seconds": round(train_s), "params": n_params, "final_loss": tc.history[-1][1]}
    save_evaluator(model, args.out, extra, dtype=dtype)
    model = load_evaluator(args.out)  # score what was stored (fp16)
    res = score_real(model, args.n_eval, HELD_OUT_SEED)
    extra["held_out_real"] = {"n": args.n_eval, "seed": HELD_OUT_SEED, **{k: round(v, 4) for k, v in res.items()}}
    if args.source:  # also on held-out renders of the source it trained on
        src = score_real(model, args.n_eval, HELD_OUT_SEED, source=args.source)
        extra["held_out_source"] = {"n": args.n_eval, "seed": HELD_OUT_SEED, "source": args.source,
                                    **{k: round(v, 4) for k, v in src.items()}}
    if vqgan is not None:
        rec = score_real(model, args.n_eval, HELD_OUT_SEED, vqgan)
        extra["held_out_recon"] = {"n": args.n_eval, "seed": HELD_OUT_SEED, "first_stage": args.first_stage,
                                   **{k: round(v, 4) for k, v in rec.items()}}
    save_evaluator(model, args.out, extra, dtype=dtype)
    print(f"saved {args.out}: {n_params} params, {train_s:.0f}s training; on {args.n_eval} held-out real renders: "
          + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))


if __name__ == "__main__":
    # run the package's module, not this __main__ copy of it: a model built from __main__.Evaluator
    # is not a taming_lite.evaluators.Evaluator, and save_pretrained would refuse it
    from taming_lite.evaluators import main as package_main

    package_main()
