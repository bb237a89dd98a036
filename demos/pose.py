"""Tab 5, pose to human: 18 COCO/OpenPose keypoints are drawn as a skeleton image, a VQGAN encodes
it into condition tokens, and the transformer samples a person in that pose."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import gradio as gr

from taming_lite.data.human import KEYPOINT_NAMES, draw_skeleton
from taming_lite.tasks import spec

from . import common, examples, models, photo_input, picker
from .inputs import InputError, keypoints_to_json, parse_keypoints

TASK = "pose"
API_NAME = spec(TASK).api_name  # /pose
MAX_JSON_FILE = 1_000_000

INTRO = f"""### Pose to human
Choose a **preset pose**, edit the **keypoints JSON** (18 points `[x, y, visible]` in OpenPose order:
{", ".join(KEYPOINT_NAMES)}; `visible` 0 = missing), or upload an **OpenPose JSON**
(`people[0].pose_keypoints_2d`). The skeleton preview updates as you type. The skeleton image, in
OpenPose colours, is the condition (the embedded model reads it whole, as aligned features; the paper's as condition tokens); the transformer samples a person in that pose.
**From a photo:** open *start from a photo*, choose the keypoint detector (ViTPose, after a person detector;
the largest person is taken) and generate, or *Detect* to load the keypoints into the JSON and edit them."""


def skeleton(keypoints_json: str, height: int, width: int):
    kp = parse_keypoints(keypoints_json, height, width)
    return draw_skeleton(kp, height, width)


@common.user_errors
def run(store, keypoints_json, seed, temperature, top_k, top_p, num_samples, height, width, model=models.DEFAULT,
        guidance=None, photo=None, preprocessor=photo_input.NONE, progress=gr.Progress()):
    t0 = time.perf_counter()
    tm = store.get_model(TASK, choice=model)
    rec = store.record(TASK, model)
    params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width,
                                          guidance)
    H, W = params["height"], params["width"]
    found = None
    if photo_input.wanted(preprocessor):  # the keypoints from the photo (in its pixels), shown first
        found, n2 = photo_input.detect(store, tm, TASK, photo, preprocessor, H, W, progress)
        keypoints_json = keypoints_to_json(found.condition, *found.size)
        notes += n2
        yield photo_input.first(found, TASK), common.image_file(skeleton(keypoints_json, H, W)), \
            photo_input.detected_info(TASK, notes)
    first = photo_input.first(found, TASK)
    hc, wc = tm.cond_size(H, W)
    skel_c = skeleton(keypoints_json, hc, wc)  # drawn at the condition's own size: lines stay one stroke wide
    shown = common.image_file(skeleton(keypoints_json, H, W))
    job = tm.prepare(skel_c, (H, W))
    for step in common.stream(tm, job, params, progress):
        info = common.run_info(tm, rec, params, step.done, step.total, notes, time.perf_counter() - t0)
        yield first + common.gallery(step.images, "person"), shown, info


@common.user_errors
def detect_only(store, photo, preprocessor, height, width, model=models.DEFAULT):
    """Detect: the keypoints from the photo into the JSON editor (to edit), the choice back to None."""
    tm = store.get_model(TASK, choice=model)
    found, notes = photo_input.detect(store, tm, TASK, photo, preprocessor, int(height), int(width))
    yield keypoints_to_json(found.condition, *found.size), photo_input.NONE, photo_input.detected_info(
        TASK, notes, "loaded into the keypoints JSON: edit them, then Generate (the preprocessor is set back to None)")


def live_preview(keypoints_json, height, width):
    """Skeleton preview while typing: problems are shown as text, not as error pop-ups."""
    try:
        return common.image_file(skeleton(keypoints_json, int(height), int(width))), ""
    except (InputError, ValueError, TypeError) as e:
        return None, f"⚠️ {e}"


def load_json_file(file):
    if file is None:
        return gr.update()
    path = Path(file)
    if path.stat().st_size > MAX_JSON_FILE:
        raise gr.Error(f"the JSON file is over {MAX_JSON_FILE:,} bytes; upload a single pose")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise gr.Error("the file is not UTF-8 text; upload an OpenPose .json file") from None


def build(store):
    shape = store.default_shape(TASK)
    size = shape["image_size"]
    presets = examples.pose_presets(size)
    first = next(iter(presets))
    gr.Markdown(INTRO)
    model_ui = picker.build(store, TASK)
    with gr.Row():
        with gr.Column():
            preset = gr.Dropdown(list(presets), value=first, label="preset pose")
            code = gr.Code(presets[first], language="json", label="keypoints (JSON)", lines=12, max_lines=20)
            upload = gr.File(label="…or upload OpenPose JSON", file_types=[".json"], type="filepath", height=80)
            from_photo = photo_input.build(TASK)
            controls = common.sampling_controls(shape, with_guidance=True)
            with gr.Row():
                go = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop")
        with gr.Column():
            preview = gr.Image(label="skeleton preview", interactive=False, height=220, format="png",
                               value=skeleton(presets[first], size, size))
            problem = gr.Markdown()
            out = gr.Gallery(label="people", columns=2, height=260, format="png")
            info = gr.Markdown()
    gr.Examples([[name] for name in list(presets)[:4]], inputs=[preset], label="example poses")
    photo_input.examples(TASK, from_photo)
    preset.change(lambda name: presets.get(name, gr.update()), preset, code, api_visibility="private")
    upload.upload(load_json_file, upload, code, api_visibility="private")
    for trig in (code.change, controls.height.change, controls.width.change):
        trig(live_preview, [code, controls.height, controls.width], [preview, problem], api_visibility="private",
             show_progress="hidden", trigger_mode="always_last")
    picker.wire(model_ui, controls)
    ev = go.click(functools.partial(run, store), [code] + controls.inputs() + [model_ui.active, controls.guidance, from_photo.photo,
                                                             from_photo.choice], [out, preview, info], api_name=API_NAME,
                  concurrency_id="sampling")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
    from_photo.detect.click(functools.partial(detect_only, store),
                            [from_photo.photo, from_photo.choice, controls.height, controls.width, model_ui.active],
                            [code, from_photo.choice, info], api_visibility="private", concurrency_id="sampling")
