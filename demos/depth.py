"""Tab 2, depth to image, and its 3D view.

The depth map (near = bright) is the condition: the embedded model reads it whole (aligned: one feature of
it added at each image token's position), the paper's D-RIN through a depth VQGAN as condition tokens
before the image; the transformer samples the image tokens. The 3D view lifts the result onto the depth: an orbit GIF
rendered here with a small z-buffered point splatter, and a triangle mesh (.glb) for gr.Model3D.
"""

from __future__ import annotations

import functools
import json
import struct
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from taming_lite.images import resize_depth
from taming_lite.tasks import spec

from . import common, examples, models, photo_input, picker
from .inputs import InputError, load_depth

TASK = "depth"
API_NAME = spec(TASK).api_name  # /depth

INTRO = """### Depth to image
Upload a **depth map: near = bright, far = dark** (any image mode or size; tick *invert* if yours is
the other way round), or pick an example. The embedded model reads the depth map whole, as one feature
per image token (aligned); the paper's as condition tokens of a depth VQGAN. The transformer samples
image tokens that fit it. The **3D view** lifts the result onto the depth:
an orbit animation and an interactive mesh you can turn with the mouse. The picker also offers the
paper's **D-RIN** (`drin`, a ~4 GB download): it draws ImageNet objects from depth, not landscapes.
**From a photo:** open *start from a photo*, choose a depth estimator (MiDaS's DPT, as D-RIN's data, or
Depth Anything) and generate: the estimated depth map comes first in the gallery."""

DEPTH_RANGE = 2.0  # mesh/orbit: distance from the nearest (depth 1) to the farthest (depth 0) point


_resize_depth = resize_depth


def _points(depth: np.ndarray):
    """Grid (H, W) depth in [0, 1] -> camera-space x, y, z (z > 0 away from the camera)."""
    H, W = depth.shape
    z = 1.0 + (1.0 - depth) * DEPTH_RANGE
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    f = max(H, W)
    x = (u - (W - 1) / 2) / f * z
    y = (v - (H - 1) / 2) / f * z
    return x, y, z, f


def orbit_frames(rgb: np.ndarray, depth: np.ndarray, n_frames: int = 24, degrees: float = 12.0) -> list[np.ndarray]:
    """Rotate the coloured depth grid about a vertical axis through the scene and re-project it.
    Far points are drawn first, so nearer ones cover them (a painter's z-buffer); 2x2 splats."""
    H, W = depth.shape
    x, y, z, f = _points(depth)
    cz = float(np.median(z))
    cols = rgb.reshape(-1, 3)
    frames = []
    for t in range(n_frames):
        a = np.deg2rad(degrees) * np.sin(2 * np.pi * t / n_frames)
        xr = np.cos(a) * x + np.sin(a) * (z - cz)
        zr = -np.sin(a) * x + np.cos(a) * (z - cz) + cz
        zr = np.maximum(zr, 1e-3)
        u = (xr / zr * f + (W - 1) / 2).reshape(-1)
        v = (y / zr * f + (H - 1) / 2).reshape(-1)
        order = np.argsort(-zr.reshape(-1), kind="stable")
        img = np.zeros((H, W, 3), np.uint8)
        for du in (0, 1):
            for dv in (0, 1):
                ui = np.floor(u[order]).astype(np.int64) + du
                vi = np.floor(v[order]).astype(np.int64) + dv
                ok = (ui >= 0) & (ui < W) & (vi >= 0) & (vi < H)
                img[vi[ok], ui[ok]] = cols[order][ok]  # later (nearer) writes win
        frames.append(img)
    return frames


def save_gif(frames: list[np.ndarray], path: Path, scale: int = 1) -> Path:
    ims = [Image.fromarray(f) for f in frames]
    if scale > 1:
        ims = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in ims]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=80, loop=0)
    return path


def mesh_from_depth(rgb: np.ndarray, depth: np.ndarray, max_side: int = 128):
    """Triangle mesh of the depth grid: positions (N, 3) float32 (y up, camera looks along -z),
    colours (N, 3) float32 in [0, 1], triangles (M, 3) uint32. Faces across strong depth jumps are dropped."""
    H, W = depth.shape
    step = max(1, int(np.ceil(max(H, W) / max_side)))
    d = depth[::step, ::step]
    c = rgb[::step, ::step].reshape(-1, 3).astype(np.float32) / 255.0
    h, w = d.shape
    x, y, z, _ = _points(d)
    pos = np.stack([x, -y, -z], -1).reshape(-1, 3).astype(np.float32)
    i = np.arange(h * w).reshape(h, w)
    a, b, cc, dd = i[:-1, :-1], i[:-1, 1:], i[1:, :-1], i[1:, 1:]
    tris = np.concatenate([np.stack([a, cc, b], -1).reshape(-1, 3), np.stack([b, cc, dd], -1).reshape(-1, 3)])
    zf = z.reshape(-1)
    span = zf[tris].max(1) - zf[tris].min(1)
    tris = tris[span < 0.15 * DEPTH_RANGE]
    return pos, c, tris.astype(np.uint32)


def write_glb(path: Path, positions: np.ndarray, colors: np.ndarray, triangles: np.ndarray) -> Path:
    """A minimal glTF 2.0 binary: one mesh with vertex colours and an unlit material."""
    blobs = [positions.astype("<f4").tobytes(), colors.astype("<f4").tobytes(), triangles.astype("<u4").tobytes()]
    views, offset = [], 0
    for blob, target in zip(blobs, (34962, 34962, 34963)):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": target})
        offset += len(blob)
    binary = b"".join(blobs)
    gltf = {
        "asset": {"version": "2.0", "generator": "taming-lite"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "COLOR_0": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0,
                                                "roughnessFactor": 1.0},
                       "extensions": {"KHR_materials_unlit": {}}}],
        "extensionsUsed": ["KHR_materials_unlit"],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
             "min": positions.min(0).tolist(), "max": positions.max(0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(colors), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": int(triangles.size), "type": "SCALAR"},
        ],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    with open(path, "wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, total))
        f.write(struct.pack("<I4s", len(js), b"JSON") + js)
        f.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)
    return path


def view_3d(rgb: np.ndarray, depth: np.ndarray) -> tuple[str, str]:
    """-> (orbit GIF path, mesh GLB path) for an image and its depth (resized to the image)."""
    d = _resize_depth(depth, *rgb.shape[:2])
    out = Path(tempfile.mkdtemp(prefix="taming_lite_3d_"))
    scale = max(1, 256 // max(rgb.shape[:2]))
    gif = save_gif(orbit_frames(rgb, d), out / "orbit.gif", scale)
    glb = write_glb(out / "mesh.glb", *mesh_from_depth(rgb, d))
    return str(gif), str(glb)


def _depth_source(depth_image, drawn):
    if depth_image is not None:
        return depth_image
    if isinstance(drawn, dict):
        layers = [x for x in (drawn.get("layers") or []) if x is not None]
        if any(np.asarray(x).ndim == 3 and np.asarray(x).shape[2] == 4 and (np.asarray(x)[..., 3] > 0).any()
               for x in layers):
            return drawn.get("composite")
    raise InputError("no depth map given: upload one (near = bright), draw one, or pick an example")


@common.user_errors
def run(store, depth_image, invert, seed, temperature, top_k, top_p, num_samples, height, width, drawn=None,
        model=models.DEFAULT, guidance=None, photo=None, preprocessor=photo_input.NONE, progress=gr.Progress()):
    t0 = time.perf_counter()
    tm = store.get_model(TASK, choice=model)
    rec = store.record(TASK, model)
    params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width,
                                          guidance)
    found = None
    if photo_input.wanted(preprocessor):  # the depth map from the photo, shown first
        found, n2 = photo_input.detect(store, tm, TASK, photo, preprocessor, params["height"], params["width"],
                                       progress)
        depth = found.condition
        yield photo_input.first(found, TASK), None, None, photo_input.detected_info(TASK, notes + n2)
    else:
        depth, n2 = load_depth(_depth_source(depth_image, drawn), bool(invert))
    notes += n2
    first = photo_input.first(found, TASK)
    if tm.depth_minmax:
        notes.append("depth min-max normalised per image, as the model's training data")
    job = tm.prepare(depth, (params["height"], params["width"]))
    imgs = []
    for step in common.stream(tm, job, params, progress):
        imgs = step.images
        info = common.run_info(tm, rec, params, step.done, step.total, notes, time.perf_counter() - t0)
        yield first + common.gallery(imgs), None, None, info
    gif, glb = view_3d(imgs[0], depth)
    yield first + common.gallery(imgs), gif, glb, info


@common.user_errors
def detect_only(store, photo, preprocessor, height, width, model=models.DEFAULT):
    """Detect: the depth map from the photo into the depth input (to edit or invert), the choice back to None."""
    tm = store.get_model(TASK, choice=model)
    found, notes = photo_input.detect(store, tm, TASK, photo, preprocessor, int(height), int(width))
    yield common.image_file(found.shown), photo_input.NONE, photo_input.detected_info(
        TASK, notes, "loaded as the depth input: edit it, then Generate (the preprocessor is set back to None)")


def build(store):
    shape = store.default_shape(TASK)
    size = shape["image_size"]
    gr.Markdown(INTRO)
    model_ui = picker.build(store, TASK)
    with gr.Row():
        with gr.Column():
            depth = common.ImageInput(type="filepath", label="depth map (near = bright)", sources=["upload", "clipboard"],
                             height=240, image_mode=None)
            invert = gr.Checkbox(False, label="invert (my map has near = dark)")
            with gr.Accordion("…or draw a depth map (white = near)", open=False):
                drawn = gr.Sketchpad(type="numpy", label="draw depth", canvas_size=(256, 256), height=260,
                                     brush=gr.Brush(colors=["#ffffff", "#bbbbbb", "#777777", "#333333"],
                                                    color_mode="defaults"))
            from_photo = photo_input.build(TASK)
            controls = common.sampling_controls(shape, with_guidance=True)
            with gr.Row():
                go = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop")
        with gr.Column():
            out = gr.Gallery(label="images", columns=2, height=260, format="png")
            with gr.Row():
                orbit = gr.Image(label="3D orbit", type="filepath", interactive=False, height=220)
                mesh = gr.Model3D(label="3D mesh (drag to turn)", height=220, clear_color=(0.1, 0.1, 0.1, 1.0))
            info = gr.Markdown()
    gr.Examples([[e["depth"]] for e in examples.depth_maps(size)], inputs=[depth], label="examples")
    photo_input.examples(TASK, from_photo)
    picker.wire(model_ui, controls)
    ev = go.click(functools.partial(run, store), [depth, invert] + controls.inputs() + [drawn, model_ui.active, controls.guidance, from_photo.photo, from_photo.choice],
                  [out, orbit, mesh, info],
                  api_name=API_NAME,
                  concurrency_id="sampling")
    # gr.Model3D mounts its 3D viewer only for a value set by a non-streaming event: set the mesh again after
    mesh_file = gr.State()  # the run (cleared, then the same file), so it renders and not just its toolbar
    ev.then(lambda m: (None, m), mesh, [mesh, mesh_file], api_visibility="private").then(
        lambda m: m, mesh_file, mesh, api_visibility="private")
    stop.click(None, None, None, cancels=[ev], api_visibility="private")
    from_photo.detect.click(functools.partial(detect_only, store),
                            [from_photo.photo, from_photo.choice, controls.height, controls.width, model_ui.active],
                            [depth, from_photo.choice, info], api_visibility="private", concurrency_id="sampling")
