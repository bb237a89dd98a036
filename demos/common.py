"""What the five tabs share: sampling controls, the streaming of previews, images, error handling.

The sampling itself is the library's (`taming_lite.pipeline.Pipeline`: `prepare` turns the tab's
input into condition tokens and a token grid, `iter_sample` yields decoded previews, unknown
tokens greyed out); `stream` adds Gradio's progress bar, so a cancel stops it at the next chunk.
Sizes: the output sliders count output pixels (`out_stride` per token), up to MAX_WINDOWS windows
of the model per side (sliding attention window beyond one window).
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
from PIL import Image

from taming_lite.images import rgb_to_tensor, tensor_to_rgb  # noqa: F401 (used by the tabs)
from taming_lite.pipeline import Pipeline, Preview

from .inputs import MAX_SAMPLES, MAX_SEED, InputError, check_image_file, sampling_params, snap_size

log = logging.getLogger("taming_lite.app")
N_PREVIEWS = int(os.environ.get("TAMING_LITE_PREVIEWS", "6"))  # decodes per request (the last one final)
MAX_OUTPUT_TOKENS = 32  # the largest output side, in tokens, for models with a small window ...
MAX_WINDOWS = 3         # ... and for larger windows this many windows (S-FLCKR, 16 tokens: 256 x 768 px)


def max_tokens(window: int) -> int:
    """The largest output side, in tokens, for a model whose window is `window` tokens."""
    return max(MAX_OUTPUT_TOKENS, MAX_WINDOWS * window)


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
    guidance: gr.Slider | None = None  # conditional tabs: an input after the model (old API calls keep working)

    def inputs(self) -> list:
        out = [self.seed, self.temperature, self.top_k, self.top_p, self.num_samples]
        if self.height is not None:
            out += [self.height, self.width]
        return out


GUIDANCE_MAX = 8.0


def slider_values(defaults: dict) -> dict:
    """The model's sampling defaults in the sliders' (the API's) spelling: top-k 0 = no limit, top-p 1 = off."""
    return {**defaults, "top_k": defaults["top_k"] or 0, "top_p": defaults["top_p"] or 1.0}


def guidance_info(guidable: bool) -> str:
    """What the guidance slider says under it: what it does, or why it is off for this model."""
    if guidable:
        return ("classifier-free guidance: how strongly the samples follow the condition (1 = off; higher: "
                "closer to the drawing, less varied)")
    return ("off for this model: it was trained without condition dropout (as the paper's released models), "
            "so it has no unconditional branch to guide against")


def sampling_controls(shape: dict, with_size: bool = True, num_samples: int = 2,
                      with_guidance: bool = False) -> Controls:
    """Seed (+ randomise), temperature, top-k, top-p, samples and output size, with defaults that
    give a good result in one click, and for conditional tabs the guidance scale (default from the model's
    config). `shape`: the tab's model's sizes and sampling defaults (ModelStore.default_shape). Sizes are in
    output pixels, multiples of the decoder's stride."""
    size, stride = shape["image_size"], shape["out_stride"]
    d = slider_values(shape["sampling"])
    with gr.Accordion("Sampling", open=False):
        with gr.Row():
            seed = gr.Number(value=1, label="seed", precision=0, minimum=0, maximum=MAX_SEED)
            rnd = gr.Button("🎲 random seed", size="sm")
        rnd.click(lambda: random.randint(0, MAX_SEED), None, seed, api_visibility="private")
        temperature = gr.Slider(0.1, 2.0, value=d["temperature"], step=0.05, label="temperature")
        top_k = gr.Slider(0, 1024, value=d["top_k"], step=1, label="top-k (0 = no limit)")
        top_p = gr.Slider(0.05, 1.0, value=d["top_p"], step=0.05, label="top-p (1 = off)")
        samples = gr.Slider(1, MAX_SAMPLES, value=num_samples, step=1, label="samples")
        guidance = None
        if with_guidance:
            guidable = bool(shape.get("guidable"))
            guidance = gr.Slider(1.0, GUIDANCE_MAX, value=shape.get("guidance", 1.0), step=0.25, label="guidance",
                                 info=guidance_info(guidable), interactive=guidable)
        height = width = None
        if with_size:
            hi = stride * max_tokens(shape["window"])
            with gr.Row():
                height = gr.Slider(stride, hi, value=size, step=stride,
                                   label="output height (px; beyond the model's window: sliding window)")
                width = gr.Slider(stride, hi, value=size, step=stride, label="output width (px)")
    return Controls(seed, temperature, top_k, top_p, samples, height, width, guidance)


def notice_markdown(store, task: str) -> gr.Markdown:
    return gr.Markdown(store.notice(task), elem_classes=["placeholder-notice"] if store.is_placeholder(task) else None)


def parse_controls(pipe: Pipeline, seed, temperature, top_k, top_p, num_samples, height=None, width=None,
                   guidance=None):
    """The request's parameters: `settings` (SamplingSettings, validated here once, over the model's defaults;
    guidance None: the model's), what the status line shows of them, the number of samples and the output
    size in pixels; notes for what was adjusted."""
    settings, n = sampling_params(seed, temperature, top_k, top_p, num_samples, pipe.vocab_size, pipe.settings,
                                  guidance)
    p = dict(settings=settings, seed=settings.seed, temperature=settings.temperature, top_k=settings.top_k,
             top_p=settings.top_p, guidance=settings.guidance, num_samples=n)
    notes = []
    if height is None:
        p["height"] = p["width"] = pipe.image_size
    else:
        s = pipe.out_stride
        hi = s * max_tokens(pipe.window[0])
        p["height"], n1 = snap_size(height, s, s, hi, "height")
        p["width"], n2 = snap_size(width, s, s, hi, "width")
        notes += [n for n in (n1, n2) if n]
    return p, notes


def stream(pipe: Pipeline, job, params: dict, progress=None) -> Iterator[Preview]:
    """pipe.iter_sample with the tab's parameters, about N_PREVIEWS previews, Gradio's progress bar."""
    def report(step):
        if progress is not None:
            progress(step, desc="sampling tokens", unit="tokens")
    yield from pipe.iter_sample(job, params["settings"], num_samples=params["num_samples"], previews=N_PREVIEWS,
                                progress=report)


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


INT8_NOTE = ("int8 weight-only linears: the CPU default for released-size models (greedy tokens mostly agree with "
             "fp32: docs/BENCHMARKS.md); start the app with `--no-int8` or `TAMING_LITE_INT8=0` for fp32")


def run_info(tm: Pipeline, rec, params: dict, done: int, total: int, notes: list[str], seconds: float) -> str:
    """The result's status line; `rec` the model's load record (`store.record(task, model)`: name, notice)."""
    lines = []
    if rec.notice:
        lines.append(rec.notice)
    if tm.placeholder:
        lines.append("⚠️ **untrained placeholder weights** — outputs are not meaningful.")
    status = "done" if done == total else f"sampling… {done}/{total} tokens"
    model = f" · model `{rec.name or tm.source}`"
    guided = f"guidance {params['guidance']:g} · " if params.get("guidance", 1.0) != 1.0 else ""
    dt = tm.precision()
    lines.append(f"**{status}** · {params['num_samples']} sample(s) · {params['height']}×{params['width']} px · "
                 f"seed {params['seed']} · {guided}{seconds:.1f} s on {tm.device.type} ({dt}){model}")
    lines += [f"- {n}" for n in notes]
    if dt.startswith("int8") and done == total:
        lines.append(f"- {INT8_NOTE}")
    return "\n".join(lines)


def cut_line(rgb: np.ndarray, row: int, color=(255, 40, 40)) -> np.ndarray:
    """Draw a horizontal line at pixel row `row` (the completion cut)."""
    out = rgb.copy()
    r = int(min(max(row, 1), out.shape[0] - 1))
    out[max(r - 1, 0): r + 1] = color
    return out
