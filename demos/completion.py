"""Tab 1, image completion: the upper rows of an image's tokens are given and kept; the
transformer samples the rest, conditioned on a single start token (an unconditional model) or on a class
id (a class-conditional one: cin_transformer). Beside it a pixel-level baseline (the embedded PixelGPT or
Image-GPT, taming_lite.imagegpt) completes the same upper part at its own 32x32, with the same seed."""

from __future__ import annotations

import functools
import queue
import threading
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image

from taming_lite.images import resize_rgb
from taming_lite.tasks import spec

from . import baselines, common, examples, models, picker
from .inputs import InputError, load_rgb
from .photos import PHOTOS, photo_path

TASK = "completion"
API_NAME = spec(TASK).api_name  # /complete
DEFAULT_CLASS = 281  # ImageNet "tabby": the cat of the first photo example

INTRO = """### Image completion
The image is encoded into a grid of tokens by the VQGAN. The **upper rows of tokens are given**
(above the red line); the transformer samples the remaining tokens one at a time, left to right,
top to bottom, and the VQGAN decoder turns them back into pixels. Several samples show how many
different lower halves fit the same upper half. Beside them, the **pixel-level baseline** completes the
same upper part, with the same seed, pixel by pixel: our embedded one (a transformer of the same size and
training compute as ours, 32x32 pixels of a 256-colour palette) or **OpenAI's Image-GPT** (small, medium,
large from the Hub, 32x32 pixels of 512 colours; needs `pip install transformers`), shown enlarged so that
each pixel is a visible square. The model picker also offers the paper's transformers that complete
photographs at 256x256: the class-conditional ImageNet model `cin_transformer` (pick the photo's class
below) and the face models `ffhq`, `celebahq` (give them a face). On a GPU, `cin_transformer` beside
`openai/imagegpt-large` on the cat photo is the video's closing comparison."""


def prepare(image, given_rows, height: int, width: int, stride: int):
    """-> (rgb resized to height x width output px, given rows clamped, notes); `stride`: output px per token."""
    rgb = resize_rgb(load_rgb(image), height, width, crop=True)
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
        baseline=baselines.BASELINE, class_id=DEFAULT_CLASS, progress=gr.Progress()):
    """-> (taming completions, the input with the cut line, the pixel baseline's completion enlarged, status).
    `baseline`: see demos.baselines.check; `class_id`: the ImageNet class of a class-conditional model."""
    t0 = time.perf_counter()
    base_name = baselines.check(store, baseline)  # a bad name fails at once, before any sampling
    tm = store.get_model(TASK, choice=model)
    rec = store.record(TASK, model)
    params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width)
    rgb, rows, n2 = prepare(image, given_rows, params["height"], params["width"], tm.out_stride)
    notes += n2
    cls = None
    if tm.n_classes:
        cls = class_id_of(class_id, tm.n_classes)
        notes.append(f"class-conditional model: ImageNet class {cls} ({class_name(cls)})")
    job = tm.prepare(rgb, (params["height"], params["width"]), given_rows=rows, class_id=cls)
    preview = common.image_file(common.cut_line(rgb, rows * tm.out_stride))
    for step in common.stream(tm, job, params, progress):
        imgs = step.images
        info = common.run_info(tm, rec, params, step.done, step.total, notes, time.perf_counter() - t0)
        if not step.final:  # the final result (with "done") comes after the baseline below
            yield common.gallery(imgs, "completion"), preview, None, info
    ours_s = time.perf_counter() - t0
    dt = tm.precision()
    info += (f"\n- taming transformer (codes): {params['height']}x{params['width']} px, {params['num_samples']} "
             f"sample(s), on {tm.device.type} ({dt}), {ours_s:.1f} s")
    big = None
    try:
        base = baselines.get(store, base_name, tm.device)
    except models.ModelChoiceError as e:
        base = None
        info += f"\n- pixel baseline `{base_name}`: ❌ could not be loaded: {e}"
    else:
        if base is None:
            info += ("\n- pixel baseline: none picked" if base_name == baselines.NO_BASELINE else
                     "\n- pixel baseline: no weights in `weights/pixel_baseline/`")
    if base is not None:
        t1 = time.perf_counter()
        small = baseline_complete(base, rgb, rows * tm.out_stride / params["height"], params, progress)
        base_s = time.perf_counter() - t1
        big = common.image_file(enlarge(small, params["height"], params["width"]))
        r = small.shape[0]
        info += (f"\n- pixel baseline (pixels, same upper part, same seed): {describe_baseline(base)}, {r}x{r} px "
                 f"in {base_s:.1f} s, shown enlarged {params['height'] // r}x (nearest: each square is one pixel)")
    yield common.gallery(imgs, "completion"), preview, big, info


def class_id_of(class_id, n_classes: int) -> int:
    """The class picker's value (an id, or a name of the 1000 ImageNet classes) checked against the model."""
    from taming_lite.data.imagenet_classes import class_id as parse

    cls = parse(class_id if class_id not in (None, "") else DEFAULT_CLASS)
    if cls >= n_classes:
        raise InputError(f"class {cls} is beyond this model's {n_classes} classes (0..{n_classes - 1})")
    return cls


def class_name(cls: int) -> str:
    from taming_lite.data.imagenet_classes import imagenet_classes

    return imagenet_classes()[cls]


def baseline_complete(base, rgb, given_fraction: float, params: dict, progress=None) -> np.ndarray:
    """The same upper part completed by the pixel baseline at its native size: -> (r, r, 3) uint8."""
    from taming_lite.imagegpt import ImageGPT

    if isinstance(base, ImageGPT):
        r = base.resolution

        def report(done, total):
            if progress is not None:
                progress((done, total), desc="pixel baseline", unit="pixels")

        return base.complete(rgb, int(round(given_fraction * r)), seed=params["seed"],
                             temperature=params["temperature"], top_k=params["top_k"], top_p=params["top_p"],
                             progress=report)
    return pixel_baseline(base, rgb, given_fraction, params)[0]


def describe_baseline(base) -> str:
    from taming_lite.imagegpt import ImageGPT

    n = sum(p.numel() for p in (base.model if isinstance(base, ImageGPT) else base).parameters())
    if isinstance(base, ImageGPT):
        return (f"Image-GPT `{base.name}` ({n / 1e6:.3g} M parameters, {base.n_colours} colours) on "
                f"{base.device.type} ({str(base.dtype).removeprefix('torch.')})")
    return f"embedded pixel transformer ({n / 1e6:.1f} M parameters, {base.config.palette_size} colours) on " \
           f"{base.palette.device.type} (float32)"


def enlarge(small: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour enlargement: every pixel of the small image stays a visible square."""
    return np.asarray(Image.fromarray(small).resize((width, height), Image.NEAREST))


def pixel_baseline(model, rgb, given_fraction: float, params: dict):
    """Complete the same upper part with the embedded pixel-level GPT: -> ((r, r, 3) uint8, r)."""
    r = model.config.resolution
    with torch.no_grad():
        idx = model.encode(common.rgb_to_tensor(rgb, model.palette.device)).reshape(1, -1)
        n = int(round(given_fraction * r)) * r
        out = model.sample(idx[:, :n], r * r - n, temperature=params["temperature"], top_k=params["top_k"],
                           top_p=params["top_p"], seed=params["seed"])
        img = model.decode(out.view(1, r, r))
    return common.tensor_to_rgb(img)[0], r


def baseline_status(store, name):
    """Yield the pixel-baseline picker's status while `name` loads in a thread (picked, not yet sampled)."""
    try:
        spec = baselines.check(store, name)
    except models.ModelChoiceError as e:
        yield f"❌ {e}"
        return
    if spec == baselines.NO_BASELINE:
        yield "no pixel baseline: the taming model alone"
        return
    messages: queue.Queue[str] = queue.Queue()
    box: dict = {}

    def work():
        try:
            box["base"] = baselines.get(store, spec, progress=messages.put)
        except models.ModelChoiceError as e:
            box["error"] = str(e)
        except Exception as e:  # noqa: BLE001 - reported in the status; the traceback goes to the log
            common.log.exception("loading the pixel baseline %r", spec)
            box["error"] = f"internal error ({type(e).__name__})"

    t0 = time.perf_counter()
    thread = threading.Thread(target=work, name="load-baseline", daemon=True)
    thread.start()
    lines: list[str] = []
    while thread.is_alive():
        thread.join(picker.POLL_S)
        while not messages.empty():
            picker.add_line(lines, picker._strip_label(messages.get()))
        yield "\n".join([f"⏳ **loading `{spec}`** · {time.perf_counter() - t0:.0f} s"] + [f"- {x}" for x in lines])
    if "error" in box:
        yield f"❌ **could not load `{spec}`**: {box['error']}"
    elif box["base"] is None:
        yield "❌ the embedded pixel baseline has no weights here (`weights/pixel_baseline/`)"
    else:
        yield f"✅ **ready**: {describe_baseline(box['base'])}, in {time.perf_counter() - t0:.1f} s"


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
    from taming_lite.data.imagenet_classes import imagenet_classes

    gr.Markdown(INTRO)
    model_ui = picker.build(store, TASK)
    with gr.Row(equal_height=True):
        base = gr.Dropdown(baselines.choices(store), value=baselines.BASELINE, allow_custom_value=True, scale=3,
                           label="pixel baseline (beside the taming model)", elem_id="baseline-picker",
                           info="or type an Image-GPT repo id (user/repo); loaded on first use, kept on the server")
        cls = gr.Dropdown([(f"{i}: {n}", i) for i, n in enumerate(imagenet_classes())], value=DEFAULT_CLASS,
                          scale=3, label="ImageNet class (class-conditional models only, e.g. cin_transformer)",
                          elem_id="class-picker")
    base_status = gr.Markdown(elem_id="baseline-status")
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
            with gr.Row():
                out = gr.Gallery(label="taming transformer: completions from codes", columns=2, height=300,
                                 format="png")
                pixels = gr.Image(label="pixel baseline: the same upper part, pixel by pixel (enlarged)",
                                  interactive=False, height=300, format="png", elem_id="baseline-image")
            cut = gr.Image(label="given part (above the red line)", interactive=False, height=160, format="png")
            info = gr.Markdown()
    gr.Examples([[str(photo_path(n)), c] for n, c in PHOTOS.items()], inputs=[image, cls],
                label="photographs (public domain, 256x256; the class is for cin_transformer)")
    ex = examples.landscapes(size)
    gr.Examples([[e["image"]] for e in ex], inputs=[image], label="procedural landscapes (the embedded models' data)")
    for trig in (image.change, rows.change):
        trig(functools.partial(cut_preview, stride=stride), [image, rows, controls.height, controls.width], cut,
             api_visibility="private", show_progress="hidden")
    picker.wire(model_ui, controls)
    base.input(functools.partial(baseline_status, store), base, base_status, api_visibility="private",
               show_progress="hidden", concurrency_id="model_load", concurrency_limit=picker.LOAD_CONCURRENCY,
               trigger_mode="always_last")
    ev = go.click(functools.partial(run, store), [image, rows] + controls.inputs() + [model_ui.active, base, cls],
                  [out, cut, pixels, info], api_name=API_NAME, concurrency_id="sampling")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
