"""Model loading for the app, in one place: lazy, loaded once, thread-safe, keyed by task + device.

    tm = get_model("depth")          # a TaskModel: .model (Net2NetTransformer, eval), .placeholder, ...

Where weights come from, in order:
  1. an explicit directory for the task (`set_model_dirs({"depth": "path"})`, app.py --model);
  2. `<weights root>/<task>/` (config.json + model.safetensors, loadable by `load_pretrained`);
  3. otherwise a small *randomly initialised* model for the task (fixed seed), flagged
     `placeholder=True`, so the app runs before any weights exist. The tabs say so visibly.

The model picker (demos/picker.py) chooses other models per browser session by name:

    choices("depth")                          # [(label, name)]: the tab's default first, then the registry
    tm = load_choice("depth", "user/repo@v1", progress=print)   # ModelChoiceError says what to do
    tm = get_model("depth", choice="user/repo@v1")               # what a sampling call uses

A name is a registry name, a Hub repo id `user/repo[@revision]`, or (only after
`set_allow_local_folders(True)`, app.py --allow-local-models) a folder on the server. Chosen
models are shared by all sessions and kept in a small LRU per task and device
(MAX_EXTRA_MODELS, env TAMING_LITE_MODELS_PER_TAB, default 2) besides the tab's default model;
an evicted one is loaded again (from disk: the HF cache or its folder) by the next call that needs it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from taming_lite.device import pick_device

TASKS = ("completion", "depth", "labels", "superres", "pose")
REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER_SEED = 0
PLACEHOLDER_NOTICE = ("⚠️ **untrained placeholder weights**: no trained model for this tab was found in "
                      "`weights/{task}/`, so a small randomly initialised model is used. Outputs are noise-like "
                      "and show only that the pipeline runs.")

_weights_root = REPO / "weights"
_task_dirs: dict[str, Path] = {}
_hub_names: dict[str, str] = {}  # task -> registry name or Hub repo id (taming_lite.hub.from_pretrained)
_default_device: str | None = None
_cache: dict[tuple[str, str], "TaskModel"] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
DEFAULT = ""  # the name of a tab's own model (weights root, --model) in the picker and the API
MAX_EXTRA_MODELS = max(1, int(os.environ.get("TAMING_LITE_MODELS_PER_TAB", "2")))
_extra: dict[tuple[str, str], OrderedDict[str, "TaskModel"]] = {}  # (task, device) -> name -> model, LRU order
_allow_folders = False


@dataclass
class TaskModel:
    task: str
    model: torch.nn.Module  # Net2NetTransformer in eval mode
    device: torch.device
    placeholder: bool
    source: str
    extra: dict = field(default_factory=dict)
    notice: str = ""  # e.g. why a Hub model fell back to the embedded weights
    name: str = DEFAULT  # the picker's name for it; DEFAULT for the tab's own model

    @property
    def stride(self) -> int:
        """Pixels per token of the image (the first stage's downsampling factor)."""
        return self.model.config.first_stage.downsample_factor

    @property
    def image_size(self) -> int:
        return int(self.extra.get("image_size") or self.model.config.first_stage.resolution)

    @property
    def window(self) -> tuple[int, int]:
        """The token window the transformer was trained on (rows, columns)."""
        n = self.image_size // self.stride
        return n, n

    @property
    def vocab_size(self) -> int:
        return self.model.transformer.config.vocab_size

    @property
    def cond_stride(self) -> int:
        cs = self.model.config.cond_stage
        return cs.downsample_factor if cs is not None else self.stride

    @property
    def cond_upsample(self) -> int:
        """How many times the model upsamples its condition before the cond stage (x8 super-resolution: 2)."""
        return self.model.config.cond_upsample

    @property
    def sr_factor(self) -> int:
        """Super-resolution: how much smaller the low-resolution input is than the output (from the config)."""
        return max(1, self.model.config.cond_factor)


def weights_dir(task: str) -> Path | None:
    """The directory the task's weights would load from, or None (placeholder)."""
    _check_task(task)
    d = _task_dirs.get(task, _weights_root / task)
    return d if (d / "config.json").is_file() and (d / "model.safetensors").is_file() else None


def is_placeholder(task: str) -> bool:
    return weights_dir(task) is None and task not in _hub_names


def set_weights_root(path) -> None:
    global _weights_root
    _weights_root = Path(path)
    clear()


def set_model_dirs(dirs: dict[str, str]) -> None:
    """task -> a model folder, or (when no such folder exists) a registry name or Hub repo id that
    `taming_lite.hub.from_pretrained` resolves on first use, falling back to the embedded weights."""
    for task, d in dirs.items():
        _check_task(task)
        if Path(d).is_dir() or "/" not in str(d) and not _is_registry_name(str(d)):
            _task_dirs[task] = Path(d)
            _hub_names.pop(task, None)
        else:
            _hub_names[task] = str(d)
    clear()


def _is_registry_name(name: str) -> bool:
    from taming_lite.hub import list_models

    return any(e.name == name for e in list_models())


def hub_name(task: str) -> str | None:
    """The Hub / registry model chosen for the task (app.py --model task=user/repo), if any."""
    return _hub_names.get(task)


_int8 = False


def set_int8(on: bool) -> None:
    """Sample with int8 weight-only linears on the CPU (app.py --int8; taming_lite.quantize): faster
    steps, slightly different tokens (measured agreement in README). No effect on CUDA/MPS."""
    global _int8
    _int8 = bool(on)
    clear()


def _int8_if_asked(tm: "TaskModel") -> "TaskModel":
    if _int8 and tm.device.type == "cpu":
        from taming_lite.quantize import quantize_int8

        quantize_int8(tm.model.transformer)
        tm.source += " (int8 weights)"
    return tm


def set_default_device(name: str | None) -> torch.device:
    global _default_device
    dev = pick_device(name)  # raises ValueError with what is available
    _default_device = str(dev)
    return dev


def clear() -> None:
    with _locks_guard:
        _cache.clear()
        _baselines.clear()
        _extra.clear()


def get_model(task: str, device: str | torch.device | None = None, choice: str | None = None) -> TaskModel:
    """The tab's model; with `choice` (a picker name, see `load_choice`) that model instead."""
    _check_task(task)
    if choice is not None and check_choice(choice) != DEFAULT:
        return load_choice(task, choice, device)
    dev = pick_device(device or _default_device)
    key = (task, str(dev))
    tm = _cache.get(key)
    if tm is not None:
        return tm
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one load per key, even with concurrent first requests
        tm = _cache.get(key)
        if tm is None:
            tm = _int8_if_asked(_resolve(task, dev))
            _cache[key] = tm
    return tm


BASELINE = "pixel_baseline"
_baselines: dict[str, torch.nn.Module | None] = {}


def get_baseline(device: str | torch.device | None = None):
    """The pixel-level baseline (`<weights root>/pixel_baseline`, a PixelGPT) on the device, loaded
    once; None when those weights are not there (the completion tab then says so)."""
    dev = pick_device(device or _default_device)
    key = str(dev)
    with _locks_guard:
        if key not in _baselines:
            from taming_lite.checkpoints import load_pretrained

            d = _task_dirs.get(BASELINE, _weights_root / BASELINE)
            _baselines[key] = load_pretrained(d, device=dev) if (d / "config.json").is_file() else None
        return _baselines[key]


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")


def _resolve(task: str, dev: torch.device) -> TaskModel:
    from taming_lite.checkpoints import load_pretrained, read_config

    notice = ""
    name = _hub_names.get(task)
    if name is not None:
        try:
            tm = _load_named(task, name, dev)
            tm.name = DEFAULT  # it is the tab's own model (app.py --model task=name)
            return tm
        except ModelChoiceError as e:
            notice = f"⚠️ {name} could not be used ({e}); showing the embedded model instead."
    d = weights_dir(task)
    if d is not None:
        model = load_pretrained(d, device=dev)
        extra = read_config(d).get("extra") or {}
        return TaskModel(task, model, dev, False, str(d), dict(extra), notice)
    model = placeholder_model(task).to(dev).eval()
    extra = {"task": task, "image_size": model.config.first_stage.resolution}
    return TaskModel(task, model, dev, True, f"untrained placeholder (random init, seed {PLACEHOLDER_SEED})", extra,
                     notice)


# --------------------------------------------------------------------------- the model picker


class ModelChoiceError(ValueError):
    """A picked model cannot be used for the tab; the message names it and says what to do."""


def set_allow_local_folders(allow: bool) -> None:
    """Let the picker and the API load folders on the server by path (app.py --allow-local-models).
    Off by default: on a public server anyone could otherwise make it read any folder."""
    global _allow_folders
    _allow_folders = bool(allow)


def default_label(task: str) -> str:
    """How the picker names the tab's own model."""
    _check_task(task)
    if task in _hub_names:
        return f"default: {_hub_names[task]} (app.py --model)"
    d = weights_dir(task)
    if d is None:
        return "default: untrained placeholder (no weights found)"
    return f"default: {_show_path(d)}"


def _show_path(d: Path) -> str:
    return str(d.relative_to(REPO)) if d.is_absolute() and d.is_relative_to(REPO) else str(d)


def choices(task: str) -> list[tuple[str, str]]:
    """The picker's entries for a tab as (label, name): the tab's default first, then the registry's
    models for the task (embedded ones, then Hub ones; the default's own folder is not repeated)."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.hub import list_models

    out = [(default_label(task), DEFAULT)]
    try:
        entries = list_models(task)
    except CheckpointError:  # a broken registry must not break the app: the default still works
        return out
    own = weights_dir(task)
    for e in sorted(entries, key=lambda e: not e.is_local):
        if e.is_local:
            if own is not None and e.path.resolve() == own.resolve():
                continue
            where = "embedded" if e.available_offline() else "embedded, files missing"
            out.append((f"{e.name} ({where}: {_show_path(e.path)})", e.name))
        else:
            cached = " · in the HF cache" if _available_offline(e) else ""
            out.append((f"{e.name} (Hub: {e.repo_id}@{e.revision}{cached})", e.name))
    return out


def _available_offline(entry) -> bool:
    try:
        return entry.available_offline()
    except OSError:
        return False


def check_choice(name) -> str:
    """A picker name, stripped and checked (no file is read): DEFAULT, a registry name, a Hub repo id
    `user/repo[@revision]`, or a folder when allowed. Raises ModelChoiceError otherwise."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.hub import check_repo_id, check_revision, list_models

    name = "" if name is None else str(name).strip()
    if name == DEFAULT:
        return DEFAULT
    if len(name) > 300:
        raise ModelChoiceError("model name too long (at most 300 characters)")
    try:
        registry = {e.name for e in list_models()}
    except CheckpointError:
        registry = set()
    if name in registry:
        return name
    if _allow_folders and Path(name).is_dir():
        return name
    repo, _, revision = name.partition("@")
    try:
        check_repo_id(repo, "model")
        if revision:
            check_revision(revision, "model")
    except CheckpointError:
        known = ", ".join(sorted(registry)) or "none"
        folders = "nor a folder" if _allow_folders else "(folders on the server need app.py --allow-local-models)"
        raise ModelChoiceError(f"{name!r} is not a registry name ({known}) nor a Hub repo id "
                               f"('user/repo' or 'user/repo@revision') {folders}") from None
    if not _allow_folders and Path(name).is_dir():  # hub.resolve would take the folder, not the Hub repo
        raise ModelChoiceError(f"{name!r} is a folder on the server; folders can be picked only when the app "
                               f"runs with --allow-local-models (or is started with --model TASK={name})")
    return name


def load_choice(task: str, name: str, device: str | torch.device | None = None,
                progress: Callable[[str], None] | None = None) -> TaskModel:
    """The model `name` for the tab, loaded once and kept in the task's LRU (at most MAX_EXTRA_MODELS).
    `progress` receives one-line messages (asking the Hub, downloading a file, building the model).
    Raises ModelChoiceError (offline or unreachable Hub, not found, not a conditional transformer,
    wrong condition for the tab) with what to do; nothing changes for the tab then."""
    _check_task(task)
    name = check_choice(name)
    if name == DEFAULT:
        return get_model(task, device)
    _check_registry_task(task, name)
    dev = pick_device(device or _default_device)
    key = (task, str(dev))
    tm = _lru_get(key, name)
    if tm is not None:
        if progress:
            progress(f"{name}: already loaded on this server")
        return tm
    lock_key = (task, str(dev), name)
    with _locks_guard:
        lock = _locks.setdefault(lock_key, threading.Lock())
    try:
        with lock:  # one load per name, even when several sessions pick it at once
            tm = _lru_get(key, name)
            if tm is None:
                tm = _int8_if_asked(_load_named(task, name, dev, progress))
                with _locks_guard:
                    lru = _extra.setdefault(key, OrderedDict())
                    lru[name] = tm
                    while len(lru) > MAX_EXTRA_MODELS:
                        lru.popitem(last=False)  # the least recently used; sessions using it load it again
    finally:
        with _locks_guard:  # no lock kept per name ever typed; a waiter still holds its reference
            _locks.pop(lock_key, None)
    return tm


def loaded_choices(task: str, device: str | torch.device | None = None) -> list[str]:
    """Names of the picked models held for the task now, least recently used first."""
    dev = pick_device(device or _default_device)
    with _locks_guard:
        return list(_extra.get((task, str(dev)), ()))


def _check_registry_task(task: str, name: str) -> None:
    """A registry entry says which task it serves: refuse another tab's before any download."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.hub import list_models

    try:
        entry = next((e for e in list_models() if e.name == name), None)
    except CheckpointError:
        return
    if entry is not None and entry.task != task:
        fits = f"pick it in the {entry.task} tab" if entry.task in TASKS else (
            "it is not a conditional transformer for any tab" if entry.task == "reconstruction" else
            "no tab samples with it")
        raise ModelChoiceError(f"{name} serves {entry.task!r} in the registry, not {task}: {fits}"
                               + (f" ({entry.description})" if entry.description else ""))


def _lru_get(key, name: str) -> TaskModel | None:
    with _locks_guard:
        lru = _extra.get(key)
        if lru is None or name not in lru:
            return None
        lru.move_to_end(name)
        return lru[name]


def _load_named(task: str, name: str, dev: torch.device, progress=None) -> TaskModel:
    """Resolve (download if needed) and build a model by name; check that it fits the tab."""
    from taming_lite import hub
    from taming_lite.checkpoints import CheckpointError, read_config

    say = progress or (lambda message: None)
    t0 = time.perf_counter()
    target, revision = name, None
    if not Path(name).is_dir() and "@" in name:
        target, _, revision = name.partition("@")
    try:
        files = hub.resolve(target, revision, progress=say)
        say(f"{name}: building the model on {dev}")
        model = files.load(device=dev)
        extra = {}
        if files.format == "taming_lite":
            extra = dict(read_config(files.config.parent).get("extra") or {})
    except hub.HubUnavailable as e:
        hint = ""
        if hub.env_flag("HF_HUB_OFFLINE"):
            hint = (" (The app sets HF_HUB_OFFLINE=1 unless told otherwise: start it with HF_HUB_OFFLINE=0 to "
                    "let the picker download.)")
        raise ModelChoiceError(f"{e}{hint}") from None
    except CheckpointError as e:  # also ModelNotFoundError and sha256 mismatches
        raise ModelChoiceError(str(e)) from None
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:  # a file that is not a model of ours
        raise ModelChoiceError(f"{name}: the files were found but do not load as a model "
                               f"({type(e).__name__}: {str(e)[:300]})") from None
    check_fits(task, model, extra, name)
    extra.setdefault("task", task)
    extra.setdefault("image_size", model.config.first_stage.resolution)
    where = "from the HF cache" if getattr(files, "from_cache", False) else (
        "downloaded" if getattr(files, "repo_id", None) else "from disk")
    extra["load_seconds"] = time.perf_counter() - t0
    extra["loaded_from"] = where
    source = f"{name} (Hub)" if getattr(files, "repo_id", None) else name
    return TaskModel(task, model, dev, False, source, extra, name=name)


CONDITIONS = {"completion": "no condition (an unconditional model with a start token)",
              "depth": "a 1-channel depth map", "labels": "a one-hot label map with {n} classes",
              "superres": "a low-resolution RGB image (condition grid from a smaller input)",
              "pose": "an RGB skeleton image the size of the output"}


def check_fits(task: str, model, extra: dict, name: str) -> None:
    """Refuse a model that cannot sample for the tab, saying what it is and which tab it fits."""
    from taming_lite.data.labels import NUM_CLASSES
    from taming_lite.net2net import Net2NetTransformer

    if not isinstance(model, Net2NetTransformer):
        kind = type(model).__name__
        raise ModelChoiceError(f"{name} is a {kind}, not a conditional transformer: it cannot sample images for "
                               f"this tab (a VQGAN alone is a first stage: reconstruction, or training a "
                               f"transformer on top of it). Pick a Net2NetTransformer for {task}.")
    trained_for = extra.get("task")
    if trained_for in TASKS and trained_for != task:
        raise ModelChoiceError(f"{name} was trained for the {trained_for} tab, not {task}: pick it there")
    fits = _condition_kind(model.config)
    wanted = CONDITIONS[task].format(n=NUM_CLASSES)
    if task not in fits:
        has = _describe_condition(model.config)
        other = f"; it fits the {' or '.join(fits)} tab" if fits else ""
        raise ModelChoiceError(f"{name} is conditioned on {has}, but this tab gives {wanted}{other}")


def _condition_kind(cfg) -> list[str]:
    """The tabs whose condition a Net2Net config can take (by the cond stage's layout)."""
    from taming_lite.data.labels import NUM_CLASSES

    cs = cfg.cond_stage
    if cs is None:
        return ["completion"]
    if cs.n_labels or cs.in_channels not in (1, 3):  # a one-hot label map
        return ["labels"] if cs.in_channels == NUM_CLASSES else []
    if cs.in_channels == 1:
        return ["depth"]
    return ["superres"] if cfg.cond_factor > 1 and cs.resolution < cfg.first_stage.resolution else ["pose"]


def _describe_condition(cfg) -> str:
    cs = cfg.cond_stage
    if cs is None:
        return "nothing (an unconditional model)"
    if cs.n_labels:
        return f"a label map with {cs.n_labels} classes"
    return f"a {cs.in_channels}-channel {cs.resolution} px input"


# --------------------------------------------------------------------------- placeholders

PLACEHOLDER_IMAGE_SIZE = 64  # pixels; 8 x 8 tokens with a stride of 8


def _vqgan(in_ch: int, resolution: int, ch_mult, n_labels: int | None = None, n_embed: int = 64):
    from taming_lite.vqgan import VQGANConfig

    return VQGANConfig(ch=32, ch_mult=tuple(ch_mult), num_res_blocks=1, attn_resolutions=(), z_channels=32,
                       resolution=resolution, in_channels=in_ch, out_ch=in_ch, embed_dim=32, n_embed=n_embed,
                       n_labels=n_labels)


def placeholder_model(task: str):
    """A tiny, randomly initialised Net2NetTransformer with the task's condition layout (seeded)."""
    from taming_lite.data.labels import NUM_CLASSES
    from taming_lite.gpt import GPTConfig
    from taming_lite.net2net import Net2NetConfig, Net2NetTransformer

    S = PLACEHOLDER_IMAGE_SIZE
    first = _vqgan(3, S, (1, 1, 2, 2))  # stride 8 -> 8 x 8 tokens
    cond = {
        "completion": None,
        "depth": _vqgan(1, S, (1, 1, 2, 2)),
        "labels": _vqgan(NUM_CLASSES, S, (1, 1, 2, 2), n_labels=NUM_CLASSES),
        "superres": _vqgan(3, S // 4, (1, 2)),  # 16 x 16 input, stride 2 -> the same 8 x 8 grid
        "pose": _vqgan(3, S, (1, 1, 2, 2)),
    }[task]
    n_tok = (S // 8) ** 2
    n_cond = 1 if cond is None else n_tok
    gpt = GPTConfig(vocab_size=64, block_size=n_cond + n_tok, n_layer=2, n_head=2, n_embd=64)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(PLACEHOLDER_SEED)
        model = Net2NetTransformer(Net2NetConfig(first_stage=first, transformer=gpt, cond_stage=cond))
    return model.eval()
