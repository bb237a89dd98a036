"""Tab 4, super-resolution: a VQGAN encodes the low-resolution image into condition tokens on the
same grid as the output's; the transformer samples high-resolution tokens that fit them."""

from __future__ import annotations

import functools
import math
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image

from taming_lite.evaluate import psnr
from taming_lite.superres import back_project
from taming_lite.tasks import spec

from . import common, examples, models, picker
from .inputs import load_rgb

TASK = "superres"
API_NAME = spec(TASK).api_name  # /superres

INTRO = """### Super-resolution
Upload a **small image**; the output is {factor}× larger in each direction. Beside the samples is plain
bicubic upscaling for comparison. For the examples (downsampled from a known high-resolution render)
the PSNR against the original is shown. A VQGAN encodes the low-resolution image into condition tokens
aligned with the output grid; the transformer samples the high-resolution tokens. After the raw samples
come the same samples *back-projected* onto your image: corrected until their {factor}×{factor} block
means equal its pixels (iterative back-projection), which keeps each sample's detail but not its
colour drift. Last comes the mean of the samples (back-projected): blurrier than any sample, but with the
least squared error, so it, not a sample, is what PSNR rewards."""


def psnr_vs(imgs: list[np.ndarray], known: np.ndarray) -> list[float]:
    """PSNR in dB of each (H, W, 3) uint8 image against `known`, as `taming_lite.evaluate` measures it."""
    x = torch.cat([common.rgb_to_tensor(im, "cpu") for im in imgs])
    return psnr(x, common.rgb_to_tensor(known, "cpu").expand_as(x)).tolist()


def back_projected(imgs: list[np.ndarray], low: np.ndarray, factor: int) -> list[np.ndarray]:
    """The samples (H, W, 3) uint8, corrected so that their area downsampling equals low (H/f, W/f, 3)."""
    x = torch.cat([common.rgb_to_tensor(im, "cpu") for im in imgs])
    lows = common.rgb_to_tensor(low, "cpu").expand(len(imgs), -1, -1, -1)
    return common.tensor_to_rgb(back_project(x, lows, factor))


def plan(tm: models.TaskModel, lowres: np.ndarray) -> tuple[np.ndarray, int, int, list[str]]:
    """Fit the input to the output grid: -> (low-res image, output height, output width, notes)."""
    f = tm.sr_factor
    s = tm.out_stride
    step = math.lcm(s, f)  # the output is whole tokens and the input whole pixels
    notes = []
    h0, w0 = lowres.shape[:2]
    max_px = s * common.max_tokens(tm.window[0])
    max_side = max_px // f
    scale = min(1.0, max_side / max(h0, w0))
    H = max(step, int(round(h0 * scale * f / step)) * step)
    W = max(step, int(round(w0 * scale * f / step)) * step)
    if (H // f, W // f) != (h0, w0):
        notes.append(f"input {w0}×{h0} resized to {W // f}×{H // f} (output {W}×{H}: a multiple of {step} px, "
                     f"at most {max_px} px)")
        lowres = np.asarray(Image.fromarray(lowres).resize((W // f, H // f), Image.BICUBIC))
    return lowres, H, W, notes


@common.user_errors
def run(store, image, seed, temperature, top_k, top_p, num_samples, model=models.DEFAULT, progress=gr.Progress()):
    t0 = time.perf_counter()
    tm = store.get_model(TASK, choice=model)
    rec = store.record(TASK, model)
    low = load_rgb(image)
    known = examples.known_highres(low)
    low, H, W, notes = plan(tm, low)
    params, n2 = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, H, W)
    notes += n2
    job = tm.prepare(low, (H, W))
    bicubic = np.asarray(Image.fromarray(low).resize((W, H), Image.BICUBIC))
    for step in common.stream(tm, job, params, progress):
        imgs = step.images
        extra = list(notes)
        shown = [(common.image_file(bicubic), "bicubic")] + common.gallery(imgs, f"×{tm.sr_factor} sample")
        if step.final:
            fixed = back_projected(imgs, low, tm.sr_factor)
            shown += common.gallery(fixed, "back-projected sample")
            mean = None
            if len(imgs) > 1:  # the average of the samples: blurrier, but the least squared error (PSNR's pick)
                avg = np.mean([im.astype(np.float32) for im in imgs], axis=0).round().astype(np.uint8)
                mean = back_projected([avg], low, tm.sr_factor)[0]
                shown.append((common.image_file(mean), f"mean of the {len(imgs)} samples, back-projected"))
            if known is not None and known.shape[:2] == (H, W):
                scores = ", ".join(f"{db:.2f}" for db in psnr_vs(imgs, known))
                scores_bp = ", ".join(f"{db:.2f}" for db in psnr_vs(fixed, known))
                mean_bp = f"; their mean, back-projected {psnr_vs([mean], known)[0]:.2f} dB" if mean is not None else ""
                extra.append(f"PSNR vs. the known original: samples {scores} dB; back-projected {scores_bp} dB"
                             f"{mean_bp}; bicubic {psnr_vs([bicubic], known)[0]:.2f} dB")
        info = common.run_info(tm, rec, params, step.done, step.total, extra, time.perf_counter() - t0)
        yield shown, info


def build(store):
    shape = store.default_shape(TASK)
    size = shape["image_size"]
    tm_factor = shape["sr_factor"] if not store.is_placeholder(TASK) else 4
    gr.Markdown(INTRO.format(factor=tm_factor))
    model_ui = picker.build(store, TASK)
    with gr.Row():
        with gr.Column():
            image = common.ImageInput(type="filepath", label="low-resolution image", sources=["upload", "clipboard"],
                             height=240, image_mode=None, elem_id="superres-input")
            controls = common.sampling_controls(shape, with_size=False)
            with gr.Row():
                go = gr.Button("Upscale", variant="primary")
                stop = gr.Button("Stop")
        with gr.Column():
            out = gr.Gallery(label="bicubic and samples", columns=3, height=300, format="png")
            info = gr.Markdown()
    gr.Examples([[p] for p in examples.superres(size, tm_factor)], inputs=[image], label="examples")
    picker.wire(model_ui, controls)
    ev = go.click(functools.partial(run, store), [image] + controls.inputs() + [model_ui.active], [out, info], api_name=API_NAME,
                  concurrency_id="sampling")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
