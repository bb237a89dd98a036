"""Tab 1, image completion: the upper rows of an image's tokens are given and kept; the
transformer samples the rest, conditioned on a single start token (an unconditional model)."""

from __future__ import annotations

import functools
import time

import gradio as gr
import torch

from . import common, examples, models, picker
from .inputs import InputError, load_rgb, resize_rgb

TASK = "completion"
API_NAME = "complete"

INTRO = """### Image completion
The image is encoded into a grid of tokens by the VQGAN. The **upper rows of tokens are given**
(above the red line); the transformer samples the remaining tokens one at a time, left to right,
top to bottom, and the VQGAN decoder turns them back into pixels. Several samples show how many
different lower halves fit the same upper half. The last image is the **pixel-level baseline**: a
transformer of the same size and training compute that predicts palette colours pixel by pixel
(Image-GPT style); with the same sequence length it only reaches 32x32 pixels. The picker also offers
the paper's face models (`ffhq`, `celebahq`, ~4 GB downloads): give them a face photo, at 256x256."""


def prepare(image, given_rows, height: int, width: int, stride: int):
    """-> (rgb resized to height x width output px, given rows clamped, notes); `stride`: output px per token."""
    rgb = resize_rgb(load_rgb(image), height, width)
    h = height // stride
    try:
        rows = int(given_rows)
    except (TypeError, ValueError):
        raise InputError(f"given rows must be a whole number, got {given_rows!r}") from None
    notes = []
    if not 0 <= rows <= h:
        clamped = min(max(rows, 0), h)
        notes.append(f"given rows {rows} -> {clamped} (the output has {h} token rows)")
        rows = clamped
    return rgb, rows, notes


@common.user_errors
def run(store, image, given_rows, seed, temperature, top_k, top_p, num_samples, height, width, model=models.DEFAULT,
        progress=gr.Progress()):
    t0 = time.perf_counter()
    tm = store.get_model(TASK, choice=model)
    params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width)
    rgb, rows, n2 = prepare(image, given_rows, params["height"], params["width"], tm.out_stride)
    notes += n2
    B = params["num_samples"]
    job = tm.prepare(rgb, (params["height"], params["width"]), given_rows=rows)
    preview = common.image_file(common.cut_line(rgb, rows * tm.out_stride))
    for step in common.stream(tm, job, params, progress):
        imgs = step.images
        info = common.run_info(tm, params, step.done, step.total, notes, time.perf_counter() - t0)
        if not step.final:  # the final result (with "done") comes after the baseline below
            yield common.gallery(imgs, "completion"), preview, info
    ours_s = time.perf_counter() - t0
    items = common.gallery(imgs, "completion")
    baseline = store.get_baseline(tm.device)
    if baseline is None:
        info += "\n- pixel-transformer baseline: no weights in `weights/pixel_baseline/`"
    else:
        t1 = time.perf_counter()
        img, r = pixel_baseline(baseline, rgb, rows * tm.out_stride / params["height"], params)
        base_s = time.perf_counter() - t1
        items.append((common.image_file(img), f"pixel-transformer baseline ({r}x{r} px, {base_s:.1f} s)"))
        info += (f"\n- ours: {params['height']}x{params['width']} px in {ours_s:.1f} s for {B} sample(s); "
                 f"pixel baseline (same upper part, same seed): {r}x{r} px in {base_s:.1f} s, shown enlarged")
    yield items, preview, info


def pixel_baseline(model, rgb, given_fraction: float, params: dict):
    """Complete the same upper part with the pixel-level GPT: -> (image enlarged to the output size, r)."""
    r = model.config.resolution
    with torch.no_grad():
        idx = model.encode(common.rgb_to_tensor(rgb, model.palette.device)).reshape(1, -1)
        n = int(round(given_fraction * r)) * r
        out = model.sample(idx[:, :n], r * r - n, temperature=params["temperature"], top_k=params["top_k"],
                           top_p=params["top_p"], seed=params["seed"])
        img = model.decode(out.view(1, r, r))
    big = torch.nn.functional.interpolate(img, size=(params["height"], params["width"]), mode="nearest")
    return common.tensor_to_rgb(big)[0], r


def cut_preview(image, given_rows, height, width, stride: int):
    """The input with the cut line, for the preview next to the upload (errors shown quietly)."""
    if image is None:
        return None
    try:
        h = int(height) // stride * stride
        w = int(width) // stride * stride
        rgb, rows, _ = prepare(image, given_rows, h, w, stride)
        return common.image_file(common.cut_line(rgb, rows * stride))
    except (InputError, ValueError):
        return None


def build(store):
    shape = store.default_shape(TASK)
    size, stride = shape["image_size"], shape["out_stride"]
    gr.Markdown(INTRO)
    model_ui = picker.build(store, TASK)
    with gr.Row():
        with gr.Column():
            image = common.ImageInput(type="filepath", label="image", sources=["upload", "clipboard"], height=260)
            rows = gr.Slider(0, common.max_tokens(shape["window"]), value=size // stride // 2, step=1,
                             label="given rows of tokens (the upper part that is kept)")
            controls = common.sampling_controls(shape)
            with gr.Row():
                go = gr.Button("Complete", variant="primary")
                stop = gr.Button("Stop")
        with gr.Column():
            out = gr.Gallery(label="completions", columns=2, height=300, format="png")
            cut = gr.Image(label="given part (above the red line)", interactive=False, height=160, format="png")
            info = gr.Markdown()
    ex = examples.landscapes(size)
    gr.Examples([[e["image"]] for e in ex], inputs=[image], label="examples")
    for trig in (image.change, rows.change):
        trig(functools.partial(cut_preview, stride=stride), [image, rows, controls.height, controls.width], cut,
             api_visibility="private", show_progress="hidden")
    picker.wire(model_ui, controls)
    ev = go.click(functools.partial(run, store), [image, rows] + controls.inputs() + [model_ui.active],
                  [out, cut, info], api_name=API_NAME, concurrency_id="sampling")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
