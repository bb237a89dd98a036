"""What the five tabs share: sampling controls, the streaming sampler, previews, error handling.

The sampler is one generator (`stream_samples`): it advances the token sampler a chunk of tokens
at a time, decodes the partial grid (unknown tokens greyed out) and yields it, so Gradio streams
previews, `gr.Progress` counts tokens, and a cancel stops it at the next chunk. Grids that fit the
model's window are sampled as one sequence with the KV cache (`iter_sample`); larger grids use the
sliding attention window (`iter_sample_sliding_window`), the conditioning grid cropped with it.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from taming_lite.device import autocast
from taming_lite.sampling import iter_sample, iter_sample_sliding_window, make_generator

from . import models
from .inputs import MAX_SAMPLES, MAX_SEED, InputError, check_image_file, sampling_params, snap_size

log = logging.getLogger("taming_lite.app")
N_PREVIEWS = 6  # intermediate decodes per request
MAX_OUTPUT_TOKENS = 32  # the largest output side, in tokens (sliding window beyond the model's window)


# --------------------------------------------------------------------------- errors


def user_errors(fn):
    """Wrap a tab's (generator) function: InputError/ValueError -> gr.Error with its message;
    anything unexpected -> logged with its traceback here, a short gr.Error for the user."""

    def convert(e: Exception):
        if isinstance(e, gr.Error):
            return e
        if isinstance(e, (InputError, ValueError)):
            return gr.Error(str(e))
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"internal error ({type(e).__name__}); the server is fine, please try other "
                        "inputs or report it")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            yield from fn(*args, **kwargs)
        except GeneratorExit:
            raise
        except Exception as e:
            raise convert(e) from None

    return on_space_gpu(wrapper)


def on_space_gpu(fn):
    """On a Hugging Face ZeroGPU Space (the `spaces` package is installed there) a GPU is attached
    for each call of `fn`; anywhere else `fn` is returned unchanged."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn)


def ImageInput(**kwargs) -> gr.Image:
    """gr.Image whose upload is checked (header only: readable, within the pixel limit) before
    Gradio opens it, so a decompression bomb or a non-image gets our message, not a generic error.
    (The instance's preprocess is wrapped: a gr.Image subclass would make Gradio write a .pyi file.)"""
    image = gr.Image(**kwargs)
    plain = image.preprocess

    def preprocess(payload):
        if payload is not None and getattr(payload, "path", None) and not str(payload.url or "").startswith("data:"):
            try:
                check_image_file(payload.path)
            except InputError as e:
                raise gr.Error(str(e)) from None
        return plain(payload)

    image.preprocess = preprocess
    return image


# --------------------------------------------------------------------------- controls


@dataclass
class Controls:
    seed: gr.Number
    temperature: gr.Slider
    top_k: gr.Slider
    top_p: gr.Slider
    num_samples: gr.Slider
    height: gr.Slider | None = None
    width: gr.Slider | None = None

    def inputs(self) -> list:
        out = [self.seed, self.temperature, self.top_k, self.top_p, self.num_samples]
        if self.height is not None:
            out += [self.height, self.width]
        return out


def sampling_controls(task: str, with_size: bool = True, num_samples: int = 2) -> Controls:
    """Seed (+ randomise), temperature, top-k, top-p, samples and output size, with defaults that
    give a good result in one click. Sizes are in pixels, multiples of the token stride."""
    size, stride = default_size(task)
    with gr.Accordion("Sampling", open=False):
        with gr.Row():
            seed = gr.Number(value=1, label="seed", precision=0, minimum=0, maximum=MAX_SEED)
            rnd = gr.Button("🎲 random seed", size="sm")
        rnd.click(lambda: random.randint(0, MAX_SEED), None, seed, api_visibility="private")
        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="temperature")
        top_k = gr.Slider(0, 1024, value=100, step=1, label="top-k (0 = no limit)")
        top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="top-p (1 = off)")
        samples = gr.Slider(1, MAX_SAMPLES, value=num_samples, step=1, label="samples")
        height = width = None
        if with_size:
            with gr.Row():
                height = gr.Slider(stride, stride * MAX_OUTPUT_TOKENS, value=size, step=stride,
                                   label="output height (px; beyond the model's window: sliding window)")
                width = gr.Slider(stride, stride * MAX_OUTPUT_TOKENS, value=size, step=stride,
                                  label="output width (px)")
    return Controls(seed, temperature, top_k, top_p, samples, height, width)


def default_size(task: str) -> tuple[int, int]:
    """(image size, stride) of the task's model, read without loading weights where possible."""
    d = models.weights_dir(task)
    if d is None:
        return models.PLACEHOLDER_IMAGE_SIZE, 8
    import json

    meta = json.loads((d / "config.json").read_text())
    fs = meta["config"]["first_stage"]
    stride = 2 ** (len(fs["ch_mult"]) - 1)
    size = int((meta.get("extra") or {}).get("image_size") or fs["resolution"])
    return size, stride


def model_notice(task: str) -> str:
    if models.hub_name(task):
        return (f"Model: `{models.hub_name(task)}` (Hub or registry; loaded on first use, the embedded "
                f"weights are used instead if it cannot be loaded)")
    d = models.weights_dir(task)
    if d is None:
        return models.PLACEHOLDER_NOTICE.format(task=task)
    return f"Model: `{d.relative_to(models.REPO) if d.is_relative_to(models.REPO) else d}`"


def notice_markdown(task: str) -> gr.Markdown:
    return gr.Markdown(model_notice(task), elem_classes=["placeholder-notice"] if models.is_placeholder(task) else None)


def parse_controls(tm: models.TaskModel, seed, temperature, top_k, top_p, num_samples, height=None, width=None):
    """Validated sampling parameters + output size in pixels; notes for what was adjusted."""
    p = sampling_params(seed, temperature, top_k, top_p, num_samples, tm.vocab_size)
    notes = []
    if height is None:
        p["height"] = p["width"] = tm.image_size
    else:
        hi = tm.stride * MAX_OUTPUT_TOKENS
        p["height"], n1 = snap_size(height, tm.stride, tm.stride, hi, "height")
        p["width"], n2 = snap_size(width, tm.stride, tm.stride, hi, "width")
        notes += [n for n in (n1, n2) if n]
    return p, notes


# --------------------------------------------------------------------------- tensors and images


def rgb_to_tensor(rgb: np.ndarray, device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    t = torch.from_numpy(np.array(rgb, dtype=np.uint8)).float().permute(2, 0, 1)[None] / 127.5 - 1.0
    return t.to(device)


def tensor_to_rgb(x: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in about [-1, 1] -> list of (H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(x)


@torch.no_grad()
def decode(tm: models.TaskModel, z: torch.Tensor, known: int | None = None) -> list[np.ndarray]:
    """Decode token grids (B, h, w); with `known`, tokens at raster positions >= known are shown grey."""
    with autocast(tm.device):
        x = tm.model.first_stage_model.decode_indices(z)
    imgs = tensor_to_rgb(x)
    h, w = z.shape[1:]
    if known is not None and known < h * w:
        s = tm.model.first_stage_model.config.upsample_factor  # output pixels per token
        mask = np.zeros((h, w), bool)
        mask.reshape(-1)[known:] = True
        big = np.repeat(np.repeat(mask, s, 0), s, 1)[..., None]
        imgs = [np.where(big, (0.3 * im + 0.7 * 128).astype(np.uint8), im) for im in imgs]
    return imgs


def stream_samples(tm: models.TaskModel, cond: torch.Tensor, z: torch.Tensor, start: int, params: dict,
                   progress=None) -> Iterator[tuple[int, int, list[np.ndarray]]]:
    """Sample the tokens of z (B, h, w) at raster positions >= start, conditioned on `cond`:
    a (B, Lc) sequence used as is, or a (B, h, w) grid aligned with z. Yields
    (tokens done, tokens total, decoded images) about N_PREVIEWS times, the last one final."""
    B, h, w = z.shape
    total = h * w - start
    wh, ww = tm.window
    gpt = tm.model.transformer
    gen = make_generator(params["seed"])
    kw = dict(temperature=params["temperature"], top_k=params["top_k"], top_p=params["top_p"], generator=gen)
    c_seq = cond.reshape(B, -1)
    fits = h <= wh and w <= ww and c_seq.shape[1] + h * w - 1 <= gpt.config.block_size
    grid = z.clone()
    if total <= 0:
        yield 0, 0, decode(tm, grid)
        return
    if fits:
        prefix = torch.cat((c_seq, grid.reshape(B, -1)[:, :start]), dim=1)
        it = iter_sample(gpt, prefix, total, sample=True, **kw)
        off = c_seq.shape[1]
    else:
        if cond.dim() == 3 and cond.shape != z.shape:
            raise ValueError(f"conditioning grid {tuple(cond.shape[1:])} does not match the output grid {(h, w)}")
        it = iter_sample_sliding_window(gpt, cond, grid, start=start, window=(wh, ww), **kw)
    every = max(1, total // N_PREVIEWS)
    done = 0
    while done < total:
        with torch.no_grad(), autocast(tm.device):  # no yield inside: Gradio may resume us on another thread
            for _ in range(min(every, total - done)):
                out = next(it)
                done += 1
                if fits:
                    grid.view(B, -1)[:, start + done - 1] = out[:, off + start + done - 1]
                else:
                    grid = out[1]
        if progress is not None:
            progress((done, total), desc="sampling tokens", unit="tokens")
        yield done, total, decode(tm, grid, None if done == total else start + done)


_out_dir: Path | None = None
_writes = 0
OUTPUT_MAX_AGE_S = 3600


def image_file(img: np.ndarray) -> str:
    """Write an output image to its own PNG file and return the path.

    Outputs are returned to Gradio as files, not arrays: Gradio caches an array under the hash of
    its bytes and writes that file in place, so two requests returning the same image at once
    (e.g. the same skeleton) could serve a half-written file; copying a file into its cache is atomic."""
    global _out_dir, _writes
    if _out_dir is None:
        _out_dir = Path(tempfile.mkdtemp(prefix="taming_lite_out_"))
    fd, path = tempfile.mkstemp(suffix=".png", dir=_out_dir)
    with os.fdopen(fd, "wb") as f:
        Image.fromarray(np.asarray(img, dtype=np.uint8)).save(f, format="PNG", compress_level=1)
    _writes += 1
    if _writes % 500 == 0:  # outputs are copied into Gradio's cache; old ones can go
        cutoff = time.time() - OUTPUT_MAX_AGE_S
        for old in _out_dir.glob("*.png"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                pass
    return path


def gallery(images: list[np.ndarray], label: str = "sample") -> list[tuple[str, str]]:
    return [(image_file(im), f"{label} {i + 1}") for i, im in enumerate(images)]


def run_info(tm: models.TaskModel, params: dict, done: int, total: int, notes: list[str], seconds: float) -> str:
    lines = []
    if tm.notice:
        lines.append(tm.notice)
    if tm.placeholder:
        lines.append("⚠️ **untrained placeholder weights** — outputs are not meaningful.")
    status = "done" if done == total else f"sampling… {done}/{total} tokens"
    model = f" · model `{tm.name}`" if tm.name else ""
    lines.append(f"**{status}** · {params['num_samples']} sample(s) · {params['height']}×{params['width']} px · "
                 f"seed {params['seed']} · {seconds:.1f} s on {tm.device.type}{model}")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def cut_line(rgb: np.ndarray, row: int, color=(255, 40, 40)) -> np.ndarray:
    """Draw a horizontal line at pixel row `row` (the completion cut)."""
    out = rgb.copy()
    r = int(min(max(row, 1), out.shape[0] - 1))
    out[max(r - 1, 0): r + 1] = color
    return out


@torch.no_grad()
def encode_condition(tm: models.TaskModel, c: torch.Tensor, h: int, w: int, batch: int) -> torch.Tensor:
    """Condition tensor (1, C, Hc, Wc) -> its tokens, as a (B, h, w) grid aligned with the output
    when the shapes agree (sliding window possible), else as a (B, Lc) sequence."""
    with autocast(tm.device):
        quant, idx = tm.model.encode_to_c(c)
    if quant is not None and tuple(quant.shape[2:]) == (h, w):
        return idx.reshape(1, h, w).repeat(batch, 1, 1)
    return idx.repeat(batch, 1)


def cond_size(tm: models.TaskModel, height: int, width: int) -> tuple[int, int]:
    """Pixel size of the condition input whose token grid matches an output of height x width (before the
    model's own upsampling of it, if any)."""
    s, up = tm.cond_stride, tm.cond_upsample
    return height // tm.stride * s // up, width // tm.stride * s // up
