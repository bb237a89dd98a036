"""A pipeline that runs any of the five tasks end to end, on a model loaded by name or from a folder.

    from taming_lite.pipeline import Pipeline
    pipe = Pipeline.from_pretrained("depth")                 # embedded, registry, Hub repo, URL entry or folder
    job = pipe.prepare(depth_map, size=(256, 256))           # the user's input -> condition tokens + token grid
    images = pipe.sample(job, seed=0, num_samples=2)         # (H, W, 3) uint8 images
    for preview in pipe.iter_sample(job, seed=0):            # or: previews while sampling
        show(preview.images)                                 # unknown tokens greyed out; the last one is final

What a task is (its condition, data key, sampling defaults) is `taming_lite.tasks`; everything that
depends on a *model* (image size, strides, window, guidance) is a property of the `Pipeline`, read
from the model's config, so that callers (the app, scripts, notebooks) need not read the configs of
the models themselves. The pipeline sits above io (`hub`, `download`, `registry`, `checkpoints`) and
`sampling`; none of those imports it.

Sizes. A first stage reads `downsample_factor` input pixels per token side and its decoder writes
`upsample_factor` output pixels per token side (equal for every original model; a decoder with an
extra upsampling level writes twice as many). So *inputs* (the encoder's image, the condition, the
completion's given image) are sized with `in_stride`, *outputs* (decoded images, output sizes, the
app's size sliders) with `out_stride`; `prepare(size=)` takes the output size.

Grids that fit the model's window are sampled as one sequence with the KV cache; larger grids use
the sliding attention window, the condition grid cropped with it (`taming_lite.sampling`).
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .device import autocast, default_dtype
from .sampling import SamplingSettings, validate_sampling
from .tasks import COCO_STUFF_CLASSES, TASKS, TaskSpec, spec

N_PREVIEWS = 6  # intermediate decodes per `iter_sample`


class TaskMismatch(ValueError):
    """A model that cannot sample for the task; the message says what it is and which task it fits."""


# --------------------------------------------------------------------------- which model fits which task


def condition_tasks(cfg) -> list[str]:
    """The tasks whose condition a Net2Net config can take (by the cond stage's layout)."""
    from .data.labels import NUM_CLASSES

    cs = cfg.cond_stage
    if cs is None:
        return ["completion"]
    if cs.n_labels or cs.in_channels not in (1, 3):  # a one-hot label map
        return ["labels"] if cs.in_channels in (NUM_CLASSES, COCO_STUFF_CLASSES) else []
    if cs.in_channels == 1:
        return ["depth"]
    return ["superres"] if cfg.cond_factor > 1 and cs.resolution < cfg.first_stage.resolution else ["pose"]


def describe_condition(cfg) -> str:
    cs = cfg.cond_stage
    if cs is None and getattr(cfg, "n_classes", 0):
        return f"a class id (one of {cfg.n_classes} classes) and nothing else"
    if cs is None:
        return "nothing (an unconditional model)"
    if cs.n_labels:
        return f"a label map with {cs.n_labels} classes"
    return f"a {cs.in_channels}-channel {cs.resolution} px input"


def check_fits(task: str, model, extra: dict, name: str) -> None:
    """Raise TaskMismatch for a model that cannot sample for `task`, saying what it is and where it fits."""
    from .data.labels import NUM_CLASSES
    from .net2net import Net2NetTransformer

    wanted = spec(task)
    if not isinstance(model, Net2NetTransformer):
        raise TaskMismatch(f"{name} is a {type(model).__name__}, not a conditional transformer: it cannot sample "
                           f"images for this tab (a VQGAN alone is a first stage: reconstruction, or training a "
                           f"transformer on top of it). Pick a Net2NetTransformer for {task}.")
    trained_for = extra.get("task")
    if trained_for in TASKS and trained_for != task:
        raise TaskMismatch(f"{name} was trained for the {trained_for} tab, not {task}: pick it there")
    fits = condition_tasks(model.config)
    if task not in fits:
        other = f"; it fits the {' or '.join(fits)} tab" if fits else ""
        raise TaskMismatch(f"{name} is conditioned on {describe_condition(model.config)}, but this tab gives "
                           f"{wanted.describe.format(n=NUM_CLASSES)}{other}")


# --------------------------------------------------------------------------- tensors and images


def rgb_to_tensor(rgb: np.ndarray, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.array(rgb, dtype=np.uint8)).float().permute(2, 0, 1)[None] / 127.5 - 1.0
    return t.to(device=device, dtype=dtype)


def tensor_to_rgb(x: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in about [-1, 1] -> list of (H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(x)


def resize_rgb(rgb: np.ndarray, height: int, width: int, resample=Image.BICUBIC) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.shape[:2] == (height, width):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((width, height), resample))


def resize_depth(d: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.array(Image.fromarray(np.asarray(d, np.float32), mode="F").resize((width, height), Image.BILINEAR))


def label_onehot(ids: np.ndarray, height: int, width: int, channels: int) -> torch.Tensor:
    """COCO-Stuff id map -> (1, channels, height, width) one-hot (nearest resize).

    `channels` = our 14 landscape classes (channel order of taming_lite.data.labels), or 182: the
    original S-FLCKR layout, `np.eye(182)[segmentation]` on the 0-based COCO-Stuff ids themselves
    (its data code applies no offset; our palette ids are those ids)."""
    from .data.labels import NUM_CLASSES, ids_to_index

    ids = np.asarray(ids)
    if channels == NUM_CLASSES:
        idx = ids_to_index(ids)
    elif channels == COCO_STUFF_CLASSES:
        if ids.max(initial=0) >= COCO_STUFF_CLASSES:
            raise ValueError(f"label ids must be COCO-Stuff ids below {COCO_STUFF_CLASSES}, got {int(ids.max())}")
        idx = ids.astype(np.uint8)
    else:
        raise ValueError(f"a label model with {channels} classes: only {NUM_CLASSES} (ours) and "
                         f"{COCO_STUFF_CLASSES} (COCO-Stuff, S-FLCKR) are known")
    idx = np.asarray(Image.fromarray(idx).resize((width, height), Image.NEAREST)).astype(np.int64)
    return F.one_hot(torch.from_numpy(idx), channels).permute(2, 0, 1)[None].float()


# --------------------------------------------------------------------------- the pipeline


@dataclass
class Job:
    """What `Pipeline.prepare` returns: everything `iter_sample` needs, plus what was adjusted."""

    cond: torch.Tensor       # (1, Lc) sequence, or (1, h, w) grid aligned with z; aligned: (1, n_embd, h, w) features
    z: torch.Tensor          # (1, h, w) token grid; raster positions < start are given and kept
    start: int = 0
    height: int = 0          # output pixels
    width: int = 0
    condition_image: np.ndarray | None = None  # what the model was given, for display (completion: the input)
    notes: list[str] = field(default_factory=list)


@dataclass
class Preview:
    done: int
    total: int
    images: list[np.ndarray]  # (H, W, 3) uint8, unknown tokens greyed out until the final one
    tokens: torch.Tensor      # (B, h, w) the token grid so far

    @property
    def final(self) -> bool:
        return self.done == self.total


@dataclass
class Pipeline:
    """A Net2NetTransformer serving one task, on a device in a dtype, with what the app shows about it."""

    task: str
    model: torch.nn.Module
    device: torch.device
    placeholder: bool = False
    source: str = ""
    extra: dict = field(default_factory=dict)
    notice: str = ""          # e.g. why a named model fell back to the embedded one
    name: str = ""            # the picker's name; "" for a tab's own model
    depth_minmax: bool = False  # normalise each depth map to [0, 1] first (D-RIN's data did)
    load_seconds: float = 0.0
    loaded_from: str = ""     # "from disk", "downloaded", "from the HF cache", "from the download cache"
    sampling_defaults: dict = field(default_factory=dict)  # from a registry entry (the paper's settings)

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(cls, name_or_path, task: str | None = None, device=None, dtype=None, progress=None,
                        **kwargs) -> "Pipeline":
        """Load a model by embedded/registry name, Hub repo id, URL registry entry or local folder (ours or
        the original YAML + .ckpt) and wrap it for `task` (default: the registry entry's task, else the one
        its condition fits). `dtype`: None = fp16 on CUDA, fp32 elsewhere ("bf16" on a CPU that has it)."""
        from . import hub
        from .checkpoints import read_config
        from .device import pick_device

        t0 = time.perf_counter()
        dev = pick_device(device)
        files = hub.resolve(name_or_path, progress=progress, **kwargs)
        if progress:
            progress(f"{files.name}: building the model on {dev}")
        model = files.load(device=dev, dtype=default_dtype(dev) if dtype is None else dtype)
        extra = dict(read_config(files.config.parent).get("extra") or {}) if files.format == "taming_lite" else {}
        entry = files.entry
        if task is None:
            task = entry.task if entry is not None and entry.task in TASKS else extra.get("task")
            if task not in TASKS:
                fits = condition_tasks(model.config) if hasattr(model, "config") and hasattr(model.config, "cond_stage") else []
                task = fits[0] if fits else None
        if task is None:
            raise TaskMismatch(f"{files.name} is a {type(model).__name__}: no task samples with it")
        check_fits(task, model, extra, files.name)
        conv = dict(entry.conditioning) if entry is not None else {}
        minmax = conv.get("depth_minmax", files.format == "original")  # every original depth model: D-RIN's data
        defaults = dict(entry.sampling) if entry is not None else {}
        remote = files.repo_id or files.url
        where = ("from the HF cache" if files.repo_id else "from the download cache") if files.from_cache else (
            "downloaded" if remote else "from disk")
        return cls(task, model, dev, source=files.describe(), extra=extra, name=files.name,
                   depth_minmax=bool(minmax) and task == "depth", load_seconds=time.perf_counter() - t0,
                   loaded_from=where, sampling_defaults=defaults)

    @classmethod
    def placeholder_for(cls, task: str, device=None, notice: str = "") -> "Pipeline":
        """A tiny randomly initialised model for `task` (`placeholder_model`), flagged `placeholder`: what the
        app samples with before any trained weights exist."""
        from .device import pick_device

        dev = pick_device(device)
        model = placeholder_model(task).to(dev).eval()
        return cls(task, model, dev, placeholder=True,
                   source=f"untrained placeholder (random init, seed {PLACEHOLDER_SEED})",
                   extra={"task": task, "image_size": model.config.first_stage.resolution}, notice=notice)

    # ------------------------------------------------------------------ what the model is

    @property
    def spec(self) -> TaskSpec:
        return spec(self.task)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.transformer.parameters()).dtype

    @property
    def in_stride(self) -> int:
        """Input pixels per token side (the first stage's encoder)."""
        return self.model.config.first_stage.downsample_factor

    @property
    def out_stride(self) -> int:
        """Output pixels per token side (the first stage's decoder)."""
        return self.model.config.first_stage.upsample_factor

    @property
    def shape(self) -> dict:
        """window, in_stride, out_stride, image_size, sr_factor (see `shape_of`)."""
        return shape_of(self.model.config, self.extra)

    @property
    def window(self) -> tuple[int, int]:
        """The token grid the transformer was trained on (rows, columns)."""
        n = self.shape["window"]
        return n, n

    @property
    def image_size(self) -> int:
        """Output pixels of one window: the default output size."""
        return self.shape["image_size"]

    @property
    def vocab_size(self) -> int:
        return self.model.transformer.config.vocab_size

    @property
    def cond_stride(self) -> int:
        cs = self.model.config.cond_stage
        return cs.downsample_factor if cs is not None else self.in_stride

    @property
    def cond_upsample(self) -> int:
        return self.model.config.cond_upsample

    @property
    def sr_factor(self) -> int:
        """Super-resolution: output pixels per low-resolution input pixel."""
        return self.shape["sr_factor"]

    @property
    def label_channels(self) -> int:
        cs = self.model.config.cond_stage
        return cs.in_channels if cs is not None else 0

    @property
    def guidable(self) -> bool:
        """Whether the model can use classifier-free guidance (trained with condition dropout)."""
        return bool(getattr(self.model.config, "guidable", False))

    def check_guidance(self, guidance: float) -> None:
        """ValueError saying why, for a guidance scale the model cannot take (> 1 needs condition dropout)."""
        from .net2net import check_guidance

        check_guidance(self.model.config, guidance)

    def defaults(self) -> dict:
        """Sampling defaults: the task's, overridden by the model's registry entry (the paper's settings);
        guidance from the model's config (1 = off)."""
        s = self.spec
        guidance = float(getattr(self.model.config, "guidance", 1.0)) if self.guidable else 1.0
        return {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "guidance": guidance,
                **self.sampling_defaults}

    def int8_by_default(self) -> bool:
        """Whether the app quantizes this model by default (`taming_lite.quantize.int8_by_default`: a
        released-size GPT on the CPU)."""
        from .quantize import int8_by_default

        return int8_by_default(self.model.transformer, self.device)

    def precision(self) -> str:
        """How a status line names the transformer's arithmetic: "int8 weights" or its dtype ("float32")."""
        from .quantize import precision

        return precision(self.model.transformer)

    def quantize_int8(self) -> None:
        """Int8 weights for the transformer's linear layers, in place (faster CPU sampling, other numbers:
        `taming_lite.quantize`); the source says so."""
        from .quantize import quantize_int8

        quantize_int8(self.model.transformer)
        self.source += " (int8 weights)"

    def describe(self) -> str:
        """'name on cpu (float32), loaded in 1.2 s' for status lines."""
        dt = str(self.dtype).removeprefix("torch.")
        took = f", loaded in {self.load_seconds:.1f} s" if self.load_seconds else ""
        return f"{self.name or self.source} on {self.device.type} ({dt}){took}"

    # ------------------------------------------------------------------ sizes

    def tokens(self, height: int, width: int) -> tuple[int, int]:
        """Token grid of an output of height x width pixels (multiples of out_stride)."""
        if height % self.out_stride or width % self.out_stride or height < 1 or width < 1:
            raise ValueError(f"output size {height}x{width} must be a positive multiple of {self.out_stride} px")
        return height // self.out_stride, width // self.out_stride

    def cond_size(self, height: int, width: int) -> tuple[int, int]:
        """Pixel size of the condition input whose token grid matches an output of height x width (before the
        model's own upsampling of it, if any)."""
        h, w = self.tokens(height, width)
        return h * self.cond_stride // self.cond_upsample, w * self.cond_stride // self.cond_upsample

    # ------------------------------------------------------------------ input -> condition

    def condition_tensor(self, condition, height: int, width: int) -> torch.Tensor:
        """The user's condition -> (1, C, Hc, Wc) for the cond stage, for an output of height x width px.

        depth: (H, W) float in [0, 1], near = bright; labels: (H, W) COCO-Stuff ids; superres: a small
        (h, w, 3) uint8 image; pose: (18, 3) keypoints (x, y, visible) in pixels of the output size, or an
        (H, W, 3) uint8 skeleton image."""
        hc, wc = self.cond_size(height, width)
        kind = self.spec.condition
        if kind == "depth":
            d = resize_depth(np.asarray(condition, np.float32), hc, wc)
            if self.depth_minmax:  # D-RIN: MiDaS inverse depth, min-max normalised per image
                lo, hi = float(d.min()), float(d.max())
                d = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
            c = torch.from_numpy(d)[None, None] * 2 - 1
        elif kind == "labels":
            c = label_onehot(condition, hc, wc, self.label_channels)
        elif kind == "lowres":
            c = rgb_to_tensor(resize_rgb(condition, hc, wc))
        elif kind == "skeleton":
            c = rgb_to_tensor(self.skeleton_image(condition, hc, wc, (height, width)))
        else:
            raise ValueError(f"the {self.task} task takes no condition tensor")
        return c.to(device=self.device, dtype=self.dtype)

    @staticmethod
    def skeleton_image(condition, height: int, width: int, canvas: tuple[int, int]) -> np.ndarray:
        """Keypoints (18, 3) in a canvas (H, W) -> the skeleton drawn at height x width; an image: resized."""
        from .data.human import draw_skeleton

        a = np.asarray(condition)
        if a.ndim == 3:
            return resize_rgb(a, height, width, Image.NEAREST)
        kp = a.astype(np.float32).copy()
        kp[:, 0] *= width / canvas[1]
        kp[:, 1] *= height / canvas[0]
        return draw_skeleton(kp, height, width)

    @torch.no_grad()
    def encode_condition(self, c: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Condition tensor -> its tokens: a (1, h, w) grid aligned with the output when the shapes agree
        (the sliding window can crop it), else a (1, Lc) sequence."""
        with autocast(self.device):
            quant, idx = self.model.encode_to_c(c.to(device=self.device, dtype=self.dtype))
        if idx is None:  # aligned conditioning: one feature per image token (1, n_embd, h, w)
            if tuple(quant.shape[2:]) != (h, w):
                raise ValueError(f"condition features {tuple(quant.shape[2:])} do not match the output grid {(h, w)}")
            return quant
        if quant is not None and tuple(quant.shape[2:]) == (h, w):
            return idx.reshape(1, h, w)
        return idx.reshape(1, -1)

    @property
    def n_classes(self) -> int:
        """> 0 for a class-conditional model (its condition is one class id; completion tab)."""
        return getattr(self.model.config, "n_classes", 0)

    @torch.no_grad()
    def prepare(self, condition=None, size: tuple[int, int] | None = None, given_rows: int = 0,
                class_id: int | None = None) -> Job:
        """The user's input -> a Job for an output of size = (height, width) px (default: one window).

        completion: `condition` is the (H, W, 3) uint8 image whose upper `given_rows` token rows are kept,
        `class_id` the class of a class-conditional model (ignored by the others); the other tasks: see
        `condition_tensor`."""
        height, width = size or (self.image_size, self.image_size)
        h, w = self.tokens(height, width)
        notes: list[str] = []
        if self.spec.condition == "image":
            rows = int(given_rows)
            if not 0 <= rows <= h:
                notes.append(f"given rows {rows} -> {min(max(rows, 0), h)} (the output has {h} token rows)")
                rows = min(max(rows, 0), h)
            z = torch.zeros((1, h, w), dtype=torch.long, device=self.device)
            shown = None
            if condition is not None:
                rgb = resize_rgb(condition, h * self.in_stride, w * self.in_stride)
                with autocast(self.device):
                    _, idx = self.model.encode_to_z(rgb_to_tensor(rgb, self.device, self.dtype))
                z = idx.reshape(1, h, w)
                shown = resize_rgb(condition, height, width)
            elif rows:
                raise ValueError("given rows need an image to take them from")
            if self.n_classes:
                if class_id is None or not 0 <= int(class_id) < self.n_classes:
                    raise ValueError(f"this model is class-conditional: give a class id in 0..{self.n_classes - 1}, "
                                     f"got {class_id!r}")
                _, cond = self.model.encode_to_c(torch.tensor([int(class_id)], device=self.device))
            else:
                cond = torch.full((1, 1), self.model.config.sos_token, dtype=torch.long, device=self.device)
            return Job(cond, z, rows * w, height, width, shown, notes)
        if condition is None:
            raise ValueError(f"the {self.task} task needs {self.spec.describe.format(n=self.label_channels)}")
        cond = self.encode_condition(self.condition_tensor(condition, height, width), h, w)
        z = torch.zeros((1, h, w), dtype=torch.long, device=self.device)
        return Job(cond, z, 0, height, width, None, notes)

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def decode(self, z: torch.Tensor, known: int | None = None) -> list[np.ndarray]:
        """Decode token grids (B, h, w); with `known`, tokens at raster positions >= known are shown grey."""
        with autocast(self.device):
            x = self.model.first_stage_model.decode_indices(z)
        imgs = tensor_to_rgb(x)
        h, w = z.shape[1:]
        if known is not None and known < h * w:
            s = self.out_stride
            mask = np.zeros((h, w), bool)
            mask.reshape(-1)[known:] = True
            big = np.repeat(np.repeat(mask, s, 0), s, 1)[..., None]
            imgs = [np.where(big, (0.3 * im + 0.7 * 128).astype(np.uint8), im) for im in imgs]
        return imgs

    def iter_sample(self, job: Job, seed: int | None = 0, num_samples: int = 1, temperature: float | None = None,
                    top_k: int | None = -1, top_p: float | None = None, previews: int = N_PREVIEWS,
                    progress=None, guidance: float | None = None) -> Iterator[Preview]:
        """Sample the job's unknown tokens for `num_samples` images; yield a Preview about `previews` times,
        the last one final. `top_k` None = no limit, -1 = the default; `progress((done, total))` per chunk.
        `guidance`: classifier-free guidance scale (None = the model's default, 1 = off; > 1 only for
        models trained with condition dropout: ValueError otherwise)."""
        d = self.defaults()
        temperature = d["temperature"] if temperature is None else temperature
        top_k = d["top_k"] if top_k == -1 else top_k
        top_p = d["top_p"] if top_p is None else top_p
        guidance = float(d["guidance"] if guidance is None else guidance)
        temperature, top_k, top_p = validate_sampling(temperature, top_k, top_p, self.vocab_size)
        self.check_guidance(guidance)
        B = int(num_samples)
        z = job.z.expand(B, -1, -1).clone()
        cond = job.cond.expand(B, *job.cond.shape[1:])
        yield from self._stream(cond, z, job.start, dict(seed=seed, temperature=temperature, top_k=top_k,
                                                          top_p=top_p, guidance=guidance), previews, progress)

    def sample(self, job: Job, **kwargs) -> list[np.ndarray]:
        """All of `iter_sample`: the final images."""
        last = None
        for last in self.iter_sample(job, previews=1, **kwargs):
            pass
        return last.images

    def _stream(self, cond, z, start, params, previews, progress) -> Iterator[Preview]:
        B, h, w = z.shape
        total = h * w - start
        grid = z.clone()
        if total <= 0:
            yield Preview(0, 0, self.decode(grid), grid)
            return
        settings = SamplingSettings(params["temperature"], params["top_k"], params["top_p"], params["guidance"],
                                    params["seed"])
        it = self.model.iter_grid(cond, grid, settings, start=start, window=self.window)
        every = max(1, total // max(1, previews))
        done = 0
        while done < total:
            with torch.no_grad(), autocast(self.device):  # no yield inside: a caller may resume us on another thread
                for _ in range(min(every, total - done)):
                    done, out = next(it)
            if progress is not None:
                progress((done, total))
            if done == total or previews > 1:
                yield Preview(done, total, self.decode(out, None if done == total else start + done), out.clone())


def shape_of(config, extra: dict | None = None) -> dict:
    """A Net2Net config's sizes: window (tokens per side), in_stride, out_stride, image_size (output px of one
    window), sr_factor (output px per condition px); and what the tabs set up from the config alone:
    guidable (trained with condition dropout) and guidance (its default scale; 1 = off)."""
    fs = config.first_stage
    window = int((extra or {}).get("image_size") or fs.resolution) // fs.downsample_factor
    guidable = bool(getattr(config, "guidable", False))
    return dict(window=window, in_stride=fs.downsample_factor, out_stride=fs.upsample_factor,
                image_size=window * fs.upsample_factor,
                sr_factor=max(1, config.cond_factor) * fs.upsample_factor // fs.downsample_factor,
                guidable=guidable, guidance=float(config.guidance) if guidable else 1.0)


def model_shape(model_or_name) -> dict | None:
    """`shape_of` a model, or of a folder / registry name read from its config file only (no weights, no
    network: embedded, or already in the download or HF cache); None when the config is not on disk or is
    not a conditional transformer's."""
    from .checkpoints import CheckpointError, config_from_original, read_config, read_original_config
    from .net2net import Net2NetConfig

    if isinstance(model_or_name, torch.nn.Module):
        return shape_of(model_or_name.config)
    from . import hub
    from .registry import load_registry

    name = str(model_or_name)
    try:
        if Path(name).is_dir():
            files = hub.local_folder(name)
            config_path, fmt = files.config, files.format
        else:
            entry = load_registry().get(name)
            if entry is None:
                return None
            if entry.is_local:
                config_path = entry.path / entry.files["config"]
            elif entry.urls:  # downloaded before: its config is in the download cache
                from .download import cached_entry_files

                cached = cached_entry_files(entry)
                config_path = cached[0] if cached else None
            else:  # a Hub entry in the HF cache
                cached = hub.cached_files(entry.repo_id, entry.revision, [entry.files["config"]])
                config_path = cached[entry.files["config"]] if cached else None
            if config_path is None or not config_path.is_file():
                return None
            fmt = entry.format
        if fmt == "taming_lite":
            meta = read_config(config_path.parent)
            if meta["model_type"] != "net2net":
                return None
            return shape_of(Net2NetConfig(**meta["config"]), meta.get("extra"))
        kind, config = config_from_original(read_original_config(config_path), str(config_path))
        return shape_of(config) if kind == "net2net" else None
    except (CheckpointError, OSError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- placeholders

PLACEHOLDER_IMAGE_SIZE = 64  # pixels; 8 x 8 tokens with a stride of 8
PLACEHOLDER_SEED = 0


def _vqgan(in_ch: int, resolution: int, ch_mult, n_labels: int | None = None, n_embed: int = 64):
    from .vqgan import VQGANConfig

    return VQGANConfig(ch=32, ch_mult=tuple(ch_mult), num_res_blocks=1, attn_resolutions=(), z_channels=32,
                       resolution=resolution, in_channels=in_ch, out_ch=in_ch, embed_dim=32, n_embed=n_embed,
                       n_labels=n_labels)


def placeholder_model(task: str):
    """A tiny, randomly initialised Net2NetTransformer with the task's condition layout (seeded)."""
    from .data.labels import NUM_CLASSES
    from .gpt import GPTConfig
    from .net2net import Net2NetConfig, Net2NetTransformer

    spec(task)  # ValueError naming the tasks
    S = PLACEHOLDER_IMAGE_SIZE
    first = _vqgan(3, S, (1, 1, 2, 2))  # stride 8 -> 8 x 8 tokens
    cond = {
        "completion": None,
        "depth": _vqgan(1, S, (1, 1, 2, 2)),
        "labels": _vqgan(NUM_CLASSES, S, (1, 1, 2, 2), n_labels=NUM_CLASSES),
        "superres": _vqgan(3, S // 4, (1, 2)),  # 16 x 16 input, stride 2 -> the same 8 x 8 grid
        "pose": _vqgan(3, S, (1, 1, 2, 2)),
    }[task]
    n_tok = (S // 8) ** 2
    n_cond = 1 if cond is None else n_tok
    gpt = GPTConfig(vocab_size=64, block_size=n_cond + n_tok, n_layer=2, n_head=2, n_embd=64)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(PLACEHOLDER_SEED)
        model = Net2NetTransformer(Net2NetConfig(first_stage=first, transformer=gpt, cond_stage=cond))
    return model.eval()
