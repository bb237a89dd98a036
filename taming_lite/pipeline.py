"""A pipeline that runs any task end to end, on a model loaded by name or from a folder.

    from taming_lite.pipeline import Pipeline
    pipe = Pipeline.from_pretrained("depth")                 # embedded, registry, Hub repo, URL entry or folder
    job = pipe.prepare(depth_map, size=(256, 256))           # the user's input -> condition tokens + token grid
    images = pipe.sample(job, seed=0, num_samples=2)         # (H, W, 3) uint8 images
    for preview in pipe.iter_sample(job, seed=0):            # or: previews while sampling
        show(preview.images)                                 # unknown tokens greyed out; the last one is final

What a task is (its condition and how the user's input becomes it, which models fit, sampling defaults,
placeholder) is its module in `taming_lite.tasks`; everything that depends on a *model* (image size,
strides, window, guidance) is a property of the `Pipeline`, read from the model's config. Sampling goes
through the model's own `Net2NetTransformer.iter_grid` (one path for every size and conditioning), with one
`SamplingSettings` resolved here (`settings`: task -> registry entry -> model config -> the caller's).

Sizes. A first stage reads `downsample_factor` input pixels per token side and its decoder writes
`upsample_factor` output pixels per token side (equal for every original model; a decoder with an
extra upsampling level writes twice as many). So *inputs* (the encoder's image, the condition, the
completion's given image) are sized with `in_stride`, *outputs* (decoded images, output sizes, the
app's size sliders) with `out_stride`; `prepare(size=)` takes the output size.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .device import autocast, default_dtype
from .hub import shape_of
from .images import tensor_to_rgb
from .sampling import SamplingSettings
from .tasks import Job, Task, TaskMismatch, spec, task_for  # noqa: F401 (TaskMismatch: what from_pretrained raises)

N_PREVIEWS = 6  # intermediate decodes per `iter_sample`


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
    """A Net2NetTransformer serving one task, on a device in a dtype."""

    task: str
    model: torch.nn.Module
    device: torch.device
    placeholder: bool = False
    source: str = ""
    extra: dict = field(default_factory=dict)
    depth_minmax: bool = False  # normalise each depth map to [0, 1] first (D-RIN's data did)
    load_seconds: float = 0.0   # how long from_pretrained took
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
        task = task_for(model, files.name, task, entry.task if entry is not None else None, extra)
        conv = dict(entry.conditioning) if entry is not None else {}
        minmax = conv.get("depth_minmax", files.format == "original")  # every original depth model: D-RIN's data
        return cls(task, model, dev, source=files.describe(), extra=extra,
                   depth_minmax=bool(minmax) and task == "depth", load_seconds=time.perf_counter() - t0,
                   loaded_from=files.loaded_from, sampling_defaults=dict(entry.sampling) if entry is not None else {})

    # ------------------------------------------------------------------ what the model is

    @property
    def spec(self) -> Task:
        return spec(self.task)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.transformer.parameters()).dtype

    @property
    def shape(self) -> dict:
        """window, in_stride, out_stride, image_size, sr_factor, guidable, guidance (`hub.shape_of`)."""
        return shape_of(self.model.config, self.extra)

    in_stride = property(lambda self: self.shape["in_stride"], doc="Input pixels per token side (the encoder).")
    out_stride = property(lambda self: self.shape["out_stride"], doc="Output pixels per token side (the decoder).")
    window = property(lambda self: (self.shape["window"],) * 2, doc="The token grid the GPT was trained on.")
    image_size = property(lambda self: self.shape["image_size"], doc="Output pixels of one window (the default).")
    sr_factor = property(lambda self: self.shape["sr_factor"], doc="Output pixels per low-resolution input pixel.")
    guidable = property(lambda self: self.shape["guidable"], doc="Trained with condition dropout: takes guidance.")
    vocab_size = property(lambda self: self.model.transformer.config.vocab_size)
    cond_upsample = property(lambda self: self.model.config.cond_upsample)
    n_classes = property(lambda self: getattr(self.model.config, "n_classes", 0),
                         doc="> 0 for a class-conditional model (its condition is one class id; completion tab).")

    @property
    def cond_stride(self) -> int:
        cs = self.model.config.cond_stage
        return cs.downsample_factor if cs is not None else self.in_stride

    @property
    def label_channels(self) -> int:
        cs = self.model.config.cond_stage
        return cs.in_channels if cs is not None else 0

    def settings(self, **user) -> SamplingSettings:
        """The sampling settings of a request, resolved once: the task's defaults -> the registry entry's (the
        paper's) -> the model config's guidance (1 when it cannot be guided) -> `user` (SamplingSettings fields)."""
        return SamplingSettings.resolve(self.spec.sampling, self.sampling_defaults,
                                        {"guidance": self.shape["guidance"]}, **user)

    def defaults(self) -> dict:
        """temperature, top_k, top_p, guidance without the user's (top_k / top_p None: no limit / off)."""
        s = self.settings()
        return {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "guidance": s.guidance}

    def precision(self) -> str:
        """How a status line names the transformer's arithmetic: "int8 weights" or its dtype ("float32")."""
        from .quantize import precision

        return precision(self.model.transformer)

    def quantize_int8(self, int8: bool | None = True) -> None:
        """Int8 weights for the transformer's linear layers, in place (`taming_lite.quantize`; the source says so):
        with `int8` True, or None where `quantize.int8_by_default` says (released-size GPTs on the CPU)."""
        from . import quantize

        if int8 or (int8 is None and quantize.int8_by_default(self.model.transformer, self.device)):
            quantize.quantize_int8(self.model.transformer)
            self.source += " (int8 weights)"

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

    # ------------------------------------------------------------------ input -> job -> images

    @torch.no_grad()
    def prepare(self, condition=None, size: tuple[int, int] | None = None, **kwargs) -> Job:
        """The user's input -> a Job for an output of size = (height, width) px (default: one window); what the
        input is, and the keywords (completion: given_rows, class_id), the task's module says
        (`taming_lite.tasks.<task>`)."""
        height, width = size or (self.image_size, self.image_size)
        return self.spec.prepare(self, condition, height, width, **kwargs)

    def condition_tensor(self, condition, height: int, width: int) -> torch.Tensor:
        """The user's condition -> (1, C, Hc, Wc) for the cond stage (the task's `condition_tensor`)."""
        return self.spec.condition_tensor(self, condition, height, width).to(device=self.device, dtype=self.dtype)

    @torch.no_grad()
    def encode_condition(self, c: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Condition tensor -> its tokens: a (1, h, w) grid aligned with the output when the shapes agree
        (the sliding window can crop it), else a (1, Lc) sequence; aligned models: features (1, n_embd, h, w)."""
        with autocast(self.device):
            quant, idx = self.model.encode_to_c(c.to(device=self.device, dtype=self.dtype))
        if idx is None:  # aligned conditioning: one feature per image token
            if tuple(quant.shape[2:]) != (h, w):
                raise ValueError(f"condition features {tuple(quant.shape[2:])} do not match the output grid {(h, w)}")
            return quant
        if quant is not None and tuple(quant.shape[2:]) == (h, w):
            return idx.reshape(1, h, w)
        return idx.reshape(1, -1)

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

    def iter_sample(self, job: Job, settings: SamplingSettings | None = None, num_samples: int = 1,
                    previews: int = N_PREVIEWS, progress=None, **user) -> Iterator[Preview]:
        """Sample the job's unknown tokens for `num_samples` images; yield a Preview about `previews` times, the
        last one final. `settings`, or the SamplingSettings fields as keywords (seed, temperature, top_k (None:
        no limit), top_p, guidance), over the defaults (`settings()`); `progress((done, total))` per chunk.
        Guidance > 1 needs a model trained with condition dropout (ValueError otherwise)."""
        settings = self.settings(**user) if settings is None else settings.replace(**user) if user else settings
        B = int(num_samples)
        grid = job.z.expand(B, -1, -1).clone()
        cond = job.cond.expand(B, *job.cond.shape[1:])
        total = grid.shape[1] * grid.shape[2] - job.start
        if total <= 0:
            yield Preview(0, 0, self.decode(grid), grid)
            return
        it = self.model.iter_grid(cond, grid, settings, start=job.start, window=self.window)
        every = max(1, total // max(1, previews))
        done = 0
        while done < total:
            with torch.no_grad(), autocast(self.device):  # no yield inside: a caller may resume us on another thread
                for _ in range(min(every, total - done)):
                    done, out = next(it)
            if progress is not None:
                progress((done, total))
            if done == total or previews > 1:
                yield Preview(done, total, self.decode(out, None if done == total else job.start + done), out.clone())

    def sample(self, job: Job, **kwargs) -> list[np.ndarray]:
        """All of `iter_sample`: the final images."""
        last = None
        for last in self.iter_sample(job, previews=1, **kwargs):
            pass
        return last.images
