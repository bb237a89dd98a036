"""The model picker of each tab: a dropdown of what the registry offers for the task, a text box
for any Hub repo id, and a status line that follows a load running in the background.

    picker = build(store, "depth")     # under the tab's intro: notice, picker row, status
    ...                                # the tab's inputs and sampling controls
    wire(picker, controls)             # the load events (they update the size sliders too)
    go.click(run, inputs + [picker.active], ...)   # run(..., model=""): the session's model

Semantics: the choice belongs to the browser session. `active` is a hidden textbox holding the
name of the model this session samples with ("" = the tab's default); it changes only when a load
has succeeded, so the tab keeps sampling with the previous model while another one loads, and
after a failed load. Being a component (not a gr.State), it is also the optional last `model`
argument of each sampling endpoint in the API. The loaded models themselves are shared by all
sessions (ModelStore.load_choice: at most `max_extra` per tab besides the default).

A load runs in a thread; the event is a generator that polls it every POLL_S seconds and yields
the status (the hub's messages: asking the Hub, downloading a file with the bytes so far, checking
its sha256, building the model), then "ready: <name> on <device> (<dtype>) in X s" or the error with
what to do. A ready model also sets the tab's size sliders and sampling defaults (the paper's top-k
for a released model) and says what the model cannot do, if its registry entry says so.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from taming_lite import download
from taming_lite.hub import env_flag, space_storage

from . import common, models

log = logging.getLogger("taming_lite.app")
POLL_S = 0.25  # how often a running load is looked at
LOAD_CONCURRENCY = 2  # loads at once, all tabs together (each may hold a model's worth of memory)


@dataclass
class Picker:
    store: models.ModelStore
    task: str
    notice: gr.Markdown
    dropdown: gr.Dropdown
    custom: gr.Textbox
    load: gr.Button
    status: gr.Markdown
    active: gr.Textbox  # hidden: the session's model name; the API's `model`


def downloads_off() -> bool:
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


def network_line() -> str:
    """The status line's first words: downloads on or off, why, where they go, and how to change it."""
    on_space = bool(os.environ.get("SPACE_ID"))
    if downloads_off():
        if on_space:
            return ("📴 **Downloads off** on this Space (HF_HUB_OFFLINE=1 is set): embedded models and models "
                    "already in the cache load. Remove HF_HUB_OFFLINE from the Space's variables to let the "
                    "pickers download the paper's models.")
        return ("📴 **Downloads off** (HF_HUB_OFFLINE=1, the app's default on your machine): embedded models, "
                "folders and models already in the cache load. Start `python app.py --online` (or with "
                "HF_HUB_OFFLINE=0) to let the pickers download the paper's models.")
    where = f"into `{download.cache_dir()}`"
    if on_space:
        storage = space_storage()
        keep = ("on the Space's persistent storage, kept across restarts" if storage is not None else
                "lost at each restart: add persistent storage in the Space's settings to keep it (then in /data)")
        return (f"🌐 **Downloads on** (on a Space): a paper's model downloads once when picked, {where} ({keep}). "
                "Set HF_HUB_OFFLINE=1 in the Space's variables to turn downloads off.")
    return (f"🌐 **Downloads on** (--online or HF_HUB_OFFLINE=0): a paper's model downloads once when picked, "
            f"{where}. Start without --online to stay offline.")


def help_text(store) -> str:
    text = (f"Applies to this browser session only. The server keeps at most {store.max_extra} "
            "picked models per tab in memory, shared by all sessions.")
    if downloads_off():
        text += " Downloads off (HF_HUB_OFFLINE=1): only models already in the cache load."
    return text


def build(store: models.ModelStore, task: str) -> Picker:
    """The notice, the picker row and its status line (call under the tab's intro)."""
    notice = common.notice_markdown(store, task)
    with gr.Row(equal_height=True):
        dropdown = gr.Dropdown(store.choices(task), value=models.DEFAULT, label="model", info=help_text(store),
                               scale=3, elem_id=f"model-picker-{task}")
        custom = gr.Textbox(label="…or any Hub repo id", placeholder="user/repo or user/repo@revision", max_lines=1,
                            scale=3, elem_id=f"model-custom-{task}")
        load = gr.Button("Load", scale=0, min_width=90, elem_id=f"model-load-{task}")
    status = gr.Markdown(network_line(), elem_id=f"model-status-{task}")
    active = gr.Textbox(value=models.DEFAULT, visible=False, label="model")
    return Picker(store, task, notice, dropdown, custom, load, status, active)


def wire(picker: Picker, controls: common.Controls | None = None) -> None:
    """Connect the dropdown, the text box and the Load button to the background load."""
    sizes = [controls.height, controls.width] if controls is not None and controls.height is not None else []
    sampling = [controls.temperature, controls.top_k, controls.top_p] if controls is not None else []
    guidance = [controls.guidance] if controls is not None and controls.guidance is not None else []
    outputs = [picker.status, picker.active, picker.notice, picker.dropdown] + sizes + sampling + guidance

    def on_load(name, current):
        yield from load_events(picker.store, picker.task, name, current, with_size=bool(sizes),
                               with_sampling=bool(sampling), with_guidance=bool(guidance))

    kw = dict(api_visibility="private", show_progress="hidden", concurrency_id="model_load",
              concurrency_limit=LOAD_CONCURRENCY, trigger_mode="always_last")
    picker.dropdown.input(on_load, [picker.dropdown, picker.active], outputs, **kw)
    picker.custom.submit(on_load, [picker.custom, picker.active], outputs, **kw)
    # the button's event is also callable by clients (not listed in the API page): /load_model_<task>
    kw.update(api_visibility="undocumented", api_name=f"load_model_{picker.task}")
    picker.load.click(on_load, [picker.custom, picker.active], outputs, **kw)


# --------------------------------------------------------------------------- the load, as a generator


def load_events(store: models.ModelStore, task: str, name, current, with_size: bool = False,
                with_sampling: bool = False, with_guidance: bool = False):
    """Yield (status, active, notice, dropdown[, height, width][, temperature, top_k, top_p][, guidance]) while
    `name` loads for the tab; `current` is the session's model until then. Only the last yield changes `active`."""
    name = "" if name is None else str(name).strip()
    current = "" if current is None else str(current).strip()
    keep = (gr.update(),) * (2 * with_size + 3 * with_sampling + with_guidance)
    try:
        spec = store.check_choice(name)
    except models.ModelChoiceError as e:
        yield failed(store, task, name, str(e), current) + keep
        return
    messages: queue.Queue[str] = queue.Queue()
    box: dict = {}

    def work():
        try:
            box["tm"] = store.load_choice(task, spec, progress=messages.put)
        except models.ModelChoiceError as e:
            box["error"] = str(e)
        except Exception as e:  # noqa: BLE001 - reported in the status; the traceback goes to the log
            log.exception("loading %r for %s", spec, task)
            box["error"] = f"internal error ({type(e).__name__}); the server is fine, pick another model"

    t0 = time.perf_counter()
    thread = threading.Thread(target=work, name=f"load-{task}", daemon=True)
    thread.start()
    lines: list[str] = []
    shown = loading(spec, current, lines, 0.0)
    yield (shown, gr.update(), gr.update(), gr.update()) + keep  # at once: the click was heard
    while True:
        done = not thread.is_alive()  # read before draining: no message is missed
        while not messages.empty():
            add_line(lines, _strip_label(messages.get()))
        if done:
            break
        text = loading(spec, current, lines, time.perf_counter() - t0)
        if text != shown:  # a new stage, more bytes, or another second
            yield (text, gr.update(), gr.update(), gr.update()) + keep
            shown = text
        thread.join(POLL_S)
    if "error" in box:
        yield failed(store, task, spec, box["error"], current) + keep
        return
    tm = box["tm"]
    s = tm.out_stride
    size = (gr.update(value=tm.image_size, step=s, minimum=s, maximum=s * common.max_tokens(tm.window[0])),) * 2
    d = common.slider_values(tm.defaults())
    sampling = (gr.update(value=d["temperature"]), gr.update(value=d["top_k"]), gr.update(value=d["top_p"]))
    guidance = (gr.update(value=d["guidance"], interactive=tm.guidable, info=common.guidance_info(tm.guidable)),)
    yield (ready(tm, spec, time.perf_counter() - t0, lines), spec,
           gr.update(value=notice_for(store, task, spec), elem_classes=_notice_classes(tm, spec)),
           dropdown_update(store, task, spec)) + (size if with_size else ()) + (sampling if with_sampling else ()) \
        + (guidance if with_guidance else ())


def add_line(lines: list[str], line: str) -> None:
    """Append a stage to the status; a download's progress replaces the previous progress of that file."""
    if lines and "·" in line and lines[-1].split(" ·")[0] == line.split(" ·")[0]:
        lines[-1] = line
    else:
        lines.append(line)


def _strip_label(message: str) -> str:
    """'depth-large: downloading model.ckpt from ...' -> 'downloading model.ckpt from ...'."""
    label, sep, rest = message.partition(": ")
    return rest if sep and " " not in label.strip() else message


def loading(spec: str, current: str, lines: list[str], seconds: float) -> str:
    head = (f"⏳ **loading `{spec or 'the default model'}`** · {seconds:.0f} s — this tab keeps sampling with "
            f"{_name(current)} until it is ready")
    body = [f"- {line}" for line in lines]
    if lines and lines[-1].startswith("downloading") and "·" not in lines[-1]:  # Hub: bytes from its cache folder
        got = _download_bytes(spec)
        if got:
            body[-1] += f" · {got / 1e6:.1f} MB so far"
    return "\n".join([head] + body)


def ready(tm: models.TaskModel, spec: str, seconds: float, lines: list[str] = ()) -> str:
    if any("already loaded" in line for line in lines):
        where = ", already in memory"
    elif spec:
        where = f", {tm.loaded_from or 'loaded'}"
    else:
        where = ""
    dt = tm.precision()
    head = (f"✅ **ready: {_name(spec)}** on {tm.device.type} ({dt}) in {seconds:.1f} s{where}. "
            "This browser tab now samples with it.")
    lines = [*lines, common.INT8_NOTE] if dt.startswith("int8") else lines
    return "\n".join([head] + [f"- {line}" for line in lines])


def failed(store, task: str, name: str, message: str, current: str):
    text = (f"❌ **could not load `{name or 'the default model'}`**: {message}\n\n"
            f"This tab keeps sampling with {_name(current)}.")
    if downloads_off() and "HF_HUB_OFFLINE" in message:
        text += "\n\n" + network_line()
    return text, gr.update(), gr.update(), dropdown_update(store, task, current)


def _name(spec: str) -> str:
    return f"`{spec}`" if spec else "the default model"


def notice_for(store, task: str, spec: str = "") -> str:
    limits = models.entry_limits(spec) if spec else ""
    text = store.notice(task) if not spec else (
        f"Model: `{spec}` — picked for this browser session (other sessions keep their own choice)")
    return text + (f"\n\n⚠️ What it cannot do: {limits}" if limits else "")


def _notice_classes(tm: models.TaskModel, spec: str) -> list[str]:
    return ["placeholder-notice"] if tm.placeholder and not spec else []


def dropdown_update(store, task: str, spec: str):
    """The dropdown showing `spec`: a name typed in the text box is added to this session's list."""
    entries = store.choices(task)
    if spec not in [value for _, value in entries]:
        entries.append((f"{spec} (entered)", spec))
    return gr.update(choices=entries, value=spec)


def _download_bytes(spec: str) -> int:
    """Bytes of the unfinished downloads in the HF cache folder of a Hub repo (best effort: the hub
    module reports stages, not bytes)."""
    repo = spec.partition("@")[0]
    try:
        from taming_lite import hub

        entry = next((e for e in hub.list_models() if e.name == repo), None)
        if entry is not None and not entry.repo_id:
            return 0  # a download entry reports its own progress
        if entry is not None:
            repo = entry.repo_id or ""
        if repo.count("/") != 1:
            return 0
        blobs = Path(hub.hub_cache_dir()) / ("models--" + repo.replace("/", "--")) / "blobs"
        return sum(p.stat().st_size for p in blobs.glob("*.incomplete"))
    except Exception:  # noqa: BLE001 - progress only
        return 0
