"""Tab 3, label map to landscape: paint a semantic layout with the class palette (or upload a
label map); the embedded model reads its one-hot map whole (aligned: one feature per image token), the
paper's S-FLCKR through a segmentation VQGAN as condition tokens; the transformer samples a landscape."""

from __future__ import annotations

import functools
import time

import gradio as gr

from taming_lite.data.labels import LANDSCAPE_CLASSES, PALETTE, colorize
from taming_lite.tasks import spec

from . import common, examples, models, photo_input, picker
from .inputs import canvas_to_rgb, label_map_from_rgb, load_rgb

TASK = "labels"
API_NAME = spec(TASK).api_name  # /labels

INTRO = """### Label map to landscape
**Paint** a layout on the canvas with the palette colours (sky, mountain, water, grass …; the legend
says which colour is which class), or **upload** a label map in these colours, or pick an example.
Colours not in the palette are snapped to the nearest class. The embedded model reads the one-hot label
map whole, one feature per image token (aligned); the paper's S-FLCKR as condition tokens of a segmentation
VQGAN. The transformer samples a landscape that fits it. Choose a larger
output size to sample beyond the model's window with the sliding attention window (up to three
windows per side, e.g. 256×768 px with the paper's S-FLCKR, which reads the same COCO-Stuff ids).
**From a photo:** open *start from a photo*, choose the segmenter (Mask2Former, COCO panoptic classes mapped
onto this palette) and generate, or *Detect* to load the label map into the canvas and repaint it first."""


def hex_color(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(v) for v in rgb)


def legend_html() -> str:
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 10px 2px 0">'
        f'<span style="width:14px;height:14px;background:{hex_color(rgb)};border:1px solid #888;'
        f'display:inline-block;margin-right:4px"></span>{name} <small style="opacity:.6">&nbsp;({cid})</small></span>'
        for cid, name, rgb in LANDSCAPE_CLASSES)
    return f'<div class="label-legend">{items}</div>'


@common.user_errors
def run(store, canvas, label_map, seed, temperature, top_k, top_p, num_samples, height, width, model=models.DEFAULT,
        guidance=None, photo=None, preprocessor=photo_input.NONE, progress=gr.Progress()):
    t0 = time.perf_counter()
    tm = store.get_model(TASK, choice=model)
    rec = store.record(TASK, model)
    params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width,
                                          guidance)
    found = None
    if photo_input.wanted(preprocessor):  # the label map from the photo, shown first
        found, n2 = photo_input.detect(store, tm, TASK, photo, preprocessor, params["height"], params["width"],
                                       progress)
        ids = found.condition
    else:
        rgb = load_rgb(label_map) if label_map is not None else canvas_to_rgb(canvas)
        ids, n2 = label_map_from_rgb(rgb)
    notes += n2
    job = tm.prepare(ids, (params["height"], params["width"]))
    used = common.image_file(colorize(ids))
    first = photo_input.first(found, TASK)
    if found is not None:
        yield first, used, photo_input.detected_info(TASK, notes)
    for step in common.stream(tm, job, params, progress):
        info = common.run_info(tm, rec, params, step.done, step.total, notes, time.perf_counter() - t0)
        yield first + common.gallery(step.images, "landscape"), used, info


@common.user_errors
def detect_only(store, photo, preprocessor, height, width, model=models.DEFAULT):
    """Detect: the label map from the photo onto the canvas (to repaint), the upload cleared, the choice None."""
    tm = store.get_model(TASK, choice=model)
    found, notes = photo_input.detect(store, tm, TASK, photo, preprocessor, int(height), int(width))
    shown = common.image_file(found.shown)
    canvas = {"background": shown, "layers": [], "composite": shown}
    yield canvas, None, photo_input.NONE, photo_input.detected_info(
        TASK, notes, "loaded onto the canvas: repaint what you like, then Generate (the preprocessor is set back "
                     "to None)")


def build(store):
    shape = store.default_shape(TASK)
    size = shape["image_size"]
    ex = examples.label_maps(size)
    gr.Markdown(INTRO)
    model_ui = picker.build(store, TASK)
    with gr.Row():
        with gr.Column():
            canvas = gr.ImageEditor(
                value={"background": ex[0]["labels"], "layers": [], "composite": None},
                type="numpy", label="paint the label map", height=300, canvas_size=(256, 256),
                brush=gr.Brush(colors=[hex_color(c) for c in PALETTE], default_color=hex_color(PALETTE[2]),
                               color_mode="fixed", default_size=12),
                layers=False, transforms=(), format="png")
            gr.HTML(legend_html())
            label_map = common.ImageInput(type="filepath", label="…or upload a label map (used instead of the canvas)",
                                 sources=["upload", "clipboard"], height=160, image_mode=None)
            from_photo = photo_input.build(TASK)
            controls = common.sampling_controls(shape, with_guidance=True)
            with gr.Row():
                go = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop")
        with gr.Column():
            out = gr.Gallery(label="landscapes", columns=2, height=300, format="png")
            used = gr.Image(label="label map used (snapped to the palette)", interactive=False, height=160,
                            format="png")
            info = gr.Markdown()
    gr.Examples([[e["labels"]] for e in ex], inputs=[label_map], label="example label maps")
    picker.wire(model_ui, controls)
    ev = go.click(functools.partial(run, store), [canvas, label_map] + controls.inputs()
                  + [model_ui.active, controls.guidance, from_photo.photo, from_photo.choice], [out, used, info],
                  api_name=API_NAME, concurrency_id="sampling")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
    from_photo.detect.click(functools.partial(detect_only, store),
                            [from_photo.photo, from_photo.choice, controls.height, controls.width, model_ui.active],
                            [canvas, label_map, from_photo.choice, info], api_visibility="private",
                            concurrency_id="sampling")
