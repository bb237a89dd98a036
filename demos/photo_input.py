"""What the depth, labels and pose tabs share to start from a photo (the estimators: taming_lite.photo).

Each of the three tabs gets a photo input and a preprocessor choice ("None": the tab's own input is the
condition, as before). *Generate* with a preprocessor estimates the condition from the photo and shows it
first in the gallery, before the samples (as ControlNet's demos do); *Detect* only estimates it and loads
it into the tab's editor (the depth input, the label canvas, the keypoints JSON) and sets the choice back
to "None", so that the user can change it before generating.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from taming_lite import hub, photo

from . import common, picker
from .inputs import InputError, load_rgb
from .photos import photo_path

NONE = photo.NONE
ONLINE = " (The app keeps downloads off unless told otherwise: start it with --online or HF_HUB_OFFLINE=0.)"
WHAT = {"depth": ("depth map", "landscapes"), "labels": ("label map", "landscapes"), "pose": ("pose", "figures")}
EXAMPLES = {"depth": ("chelsea", "coffee"), "labels": (), "pose": ("astronaut",)}


@dataclass
class PhotoUI:
    photo: gr.Image
    choice: gr.Dropdown
    detect: gr.Button


def build(task: str) -> PhotoUI:
    """The photo input, the preprocessor choice and the Detect button, in a closed accordion."""
    cond = WHAT[task][0]
    with gr.Accordion(f"…or start from a photo (estimate the {cond})", open=False, elem_id=f"{task}-photo-accordion"):
        image = common.ImageInput(type="filepath", label="photo", sources=["upload", "clipboard"], height=200,
                                  image_mode=None, elem_id=f"{task}-photo")
        info = "" if photo.available() else f" (needs `{photo.INSTALL}`, then restart the app)"
        choice = gr.Dropdown(photo.choices(task), value=NONE, label=f"preprocessor: photo -> {cond}",
                             allow_custom_value=True,  # a folder, with --allow-local-models (checked by photo)
                             elem_id=f"{task}-preprocessor",
                             info=f"what estimates the {cond} from the photo{info}; downloaded once when used")
        detect = gr.Button(f"Detect the {cond} (load it for editing)", size="sm", elem_id=f"{task}-detect")
    return PhotoUI(image, choice, detect)


def examples(task: str, ui: PhotoUI) -> None:
    """Example photos (the bundled public-domain ones), under the tab's own examples."""
    if EXAMPLES[task]:
        gr.Examples([[str(photo_path(n))] for n in EXAMPLES[task]], inputs=[ui.photo],
                    label="example photos (for *start from a photo*)")


def wanted(choice) -> bool:
    """Whether a preprocessor (not "None") was chosen."""
    return choice is not None and str(choice).strip() not in ("", NONE) and str(choice).strip().lower() != "none"


def detect(store, tm, task: str, source, choice, height: int, width: int,
           progress=None) -> tuple[photo.Detected, list[str]]:
    """Estimate the tab's condition from the photo `source` with the preprocessor `choice`, on the tab model's
    device: -> (Detected, notes for the status). InputError with what to do for every problem."""
    name = photo.check_name(task, choice, store.allow_local_folders)
    if source is None:
        raise InputError(f"no photo given: upload one in *start from a photo*, or set the preprocessor to {NONE}")
    rgb, notes = photo.prepare_photo(load_rgb(source), height, width)
    if progress is not None:
        progress(0, desc=f"loading the preprocessor {name}")
    try:
        pre = photo.load(task, name, device=tm.device)
    except (hub.TransformersMissing, hub.HubUnavailable) as e:  # each message says what to do; offline: how to go on
        online = isinstance(e, hub.HubUnavailable) and picker.downloads_off()
        raise InputError(f"{e}{ONLINE if online else ''}") from None
    if progress is not None:
        progress(0, desc=f"estimating the {WHAT[task][0]}")
    found = pre(rgb)
    notes = found.notes + notes
    if pre.loaded_from != "from disk":
        notes.append(f"preprocessor {pre.loaded_from} in {pre.load_seconds:.1f} s (kept loaded)")
    if tm.placeholder or tm.extra:  # our format: the embedded models, trained on procedural renders
        cond, what = WHAT[task]
        notes.append(photo.PROCEDURAL_NOTE.format(what=what, cond=cond))
    return found, notes


def first(found: photo.Detected | None, task: str) -> list[tuple[str, str]]:
    """The gallery's first item: the detected condition (none without a preprocessor); the samples follow it."""
    return [] if found is None else [(common.image_file(found.shown), f"detected {WHAT[task][0]}")]


def detected_info(task: str, notes: list[str], then: str = "sampling starts …") -> str:
    """The status line while (or after) a condition was detected."""
    return "\n".join([f"**{WHAT[task][0]} detected**, {then}"] + [f"- {n}" for n in notes])
