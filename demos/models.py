"""The app's models: one `ModelStore`, created by app.main and handed to every tab.

    store = ModelStore(weights_root="weights", device="cpu", task_models={"depth": "path/or/name"})
    pipe = store.get_model("depth")                 # a taming_lite.pipeline.Pipeline (model, device, dtype, ...)
    pipe = store.get_model("depth", choice="drin")  # what the session picked (demos/picker.py)
    rec = store.record("depth", choice="drin")      # LoadRecord: its name, the tab's notice (loads nothing)

Every model, a tab's default as much as a picked one, loads through one function (`ModelStore.load`,
i.e. `Pipeline.from_pretrained`): a folder in our format or the original one (one *.yaml + one *.ckpt),
an embedded or registry name (Hub repo or download links), or a Hub repo id `user/repo[@revision]`.

A tab's default, in order: `task_models[task]` (app.py --model TASK=DIR|NAME; if it cannot be
loaded, the next one is used and the tab says why); `<weights root>/<task>/` when it holds a model;
else a small *randomly initialised* model for the task (fixed seed), flagged `placeholder`, so the
app runs before any weights exist (`placeholder`). What the store knows of a load beyond the
model (the picker's name; why the tab's default is not the model it was asked for) is its `LoadRecord`,
not an attribute of the Pipeline.

Picked models are shared by all sessions and kept in a small LRU per task and device
(`max_extra`, env TAMING_LITE_MODELS_PER_TAB, default 2) besides the tab's default model; an
evicted one is loaded again (from disk: a cache or its folder) by the next call that needs it.
Folders on the server can be picked only with `allow_local_folders` (app.py --allow-local-models).
The completion tab's pixel baselines (demos/baselines.py) are kept in the same kind of LRU (`load_once`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from taming_lite.device import pick_device
from taming_lite.pipeline import Pipeline
from taming_lite.tasks import PLACEHOLDER_SEED, TASK_NAMES, TaskMismatch, placeholder_model, spec

TASKS = TASK_NAMES
REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER_NOTICE = ("⚠️ **untrained placeholder weights**: no trained model for this tab was found in "
                      "`weights/{task}/`, so a small randomly initialised model is used. Outputs are noise-like "
                      "and show only that the pipeline runs.")
DEFAULT = ""  # the name of a tab's own model in the picker and the API
_MISSING = object()  # not in an LRU (a value may be None)
TaskModel = Pipeline  # what the tabs sample with


class ModelChoiceError(ValueError):
    """A model cannot be used for the tab; the message names it and says what to do."""


@dataclass(frozen=True)
class LoadRecord:
    """What the store says of a model it serves a tab, besides the model (`ModelStore.record`). Where the
    files came from and how long they took are the Pipeline's (`loaded_from`, `load_seconds`)."""

    name: str = DEFAULT  # the picker's name; DEFAULT ("") for the tab's own model
    notice: str = ""     # the tab's own model: why it is not the one asked for (app.py --model, weights/<task>/)


def _check_task(task: str) -> None:
    spec(task)  # ValueError naming the tasks


def placeholder(task: str, device=None) -> Pipeline:
    """A tiny randomly initialised model for `task` (`taming_lite.tasks.placeholder_model`) as a Pipeline
    flagged `placeholder`: what a tab samples with before any trained weights exist."""
    dev = pick_device(device)
    model = placeholder_model(task).to(dev).eval()
    return Pipeline(task, model, dev, placeholder=True,
                    source=f"untrained placeholder (random init, seed {PLACEHOLDER_SEED})",
                    extra={"task": task, "image_size": model.config.first_stage.resolution})


def holds_model(folder: Path) -> bool:
    """Whether a folder holds a model in our format or the original one (without loading it)."""
    from taming_lite.hub import local_folder

    if not folder.is_dir():
        return False
    try:
        local_folder(folder)
        return True
    except Exception:  # noqa: BLE001 - ModelNotFoundError: neither format
        return False


class ModelStore:
    """The models of the app's tabs: lazy, loaded once, thread-safe, keyed by task + device."""

    def __init__(self, weights_root: str | os.PathLike | None = None, device: str | None = None,
                 task_models: dict[str, str] | None = None, allow_local_folders: bool = False, int8: bool | None = None,
                 max_extra: int | None = None):
        self.weights_root = Path(weights_root) if weights_root is not None else REPO / "weights"
        self.device = pick_device(device)  # ValueError saying what is available
        self.allow_local_folders = bool(allow_local_folders)
        self.int8 = int8  # None: int8 on the CPU for released-size GPTs (taming_lite.quantize.int8_by_default)
        self.max_extra = max_extra or max(1, int(os.environ.get("TAMING_LITE_MODELS_PER_TAB", "2")))
        self.task_models: dict[str, str] = {}
        for task, name in (task_models or {}).items():
            _check_task(task)
            self.task_models[task] = str(name)
        self._defaults: dict[tuple[str, str], Pipeline] = {}
        self._records: dict[tuple[str, str], LoadRecord] = {}  # the defaults' (a picked model's is its name)
        self._kept: dict[tuple, OrderedDict] = {}  # load_once's LRUs: (task, device) -> picked Pipelines, ...
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ the one load function

    def load(self, task: str, name: str, device=None, progress: Callable[[str], None] | None = None) -> Pipeline:
        """A model by folder, registry name or Hub repo id[@revision], checked to fit the tab.
        Raises ModelChoiceError with what to do (nothing changes for the tab then)."""
        dev = pick_device(device or self.device)
        target, revision = name, None
        if not Path(name).is_dir() and "@" in name:
            target, _, revision = name.partition("@")
        with choice_errors(name, "a model", "the picker"):
            pipe = Pipeline.from_pretrained(target, task=task, device=dev, progress=progress, revision=revision)
        if pipe.device.type == "cpu":
            pipe.quantize_int8(self.int8)
        return pipe

    # ------------------------------------------------------------------ a tab's own model

    def default_name(self, task: str) -> str | None:
        """What the tab's default loads: --model's name or folder, else <weights root>/<task> if it holds a
        model, else None (the placeholder)."""
        _check_task(task)
        if task in self.task_models:
            return self.task_models[task]
        folder = self.weights_root / task
        return str(folder) if holds_model(folder) else None

    def weights_dir(self, task: str) -> Path | None:
        """The folder the tab's default loads from, or None (a registry/Hub name, or the placeholder)."""
        name = self.default_name(task)
        return Path(name) if name is not None and Path(name).is_dir() else None

    def is_placeholder(self, task: str) -> bool:
        return self.default_name(task) is None

    def get_model(self, task: str, device=None, choice: str | None = None) -> Pipeline:
        """The tab's model; with `choice` (a picker name, see `load_choice`) that model instead."""
        _check_task(task)
        if choice is not None and self.check_choice(choice) != DEFAULT:
            return self.load_choice(task, choice, device)
        dev = pick_device(device or self.device)
        key = (task, str(dev))
        pipe = self._defaults.get(key)
        if pipe is not None:
            return pipe
        with self._lock(key):  # one load per key, even with concurrent first requests
            pipe = self._defaults.get(key)
            if pipe is None:
                pipe, notice = self._load_default(task, dev)
                self._records[key] = LoadRecord(DEFAULT, notice)  # before the model: whoever sees it sees this
                self._defaults[key] = pipe
        return pipe

    def record(self, task: str, choice: str | None = None, device=None) -> LoadRecord:
        """The LoadRecord of the model `get_model(task, device, choice)` serves (nothing is loaded): a picked
        model is the one asked for; the tab's own carries the notice of its load (empty before it)."""
        name = "" if choice is None else str(choice).strip()
        if name != DEFAULT:
            return LoadRecord(name)
        return self._records.get((task, str(pick_device(device or self.device))), LoadRecord())

    def _load_default(self, task: str, dev: torch.device) -> tuple[Pipeline, str]:
        """The tab's own model, and why it is not the one asked for ("" when it is)."""
        notice = ""
        name = self.task_models.get(task)
        if name is not None:
            try:
                return self.load(task, name, dev), notice
            except ModelChoiceError as e:
                notice = f"⚠️ {name} could not be used ({e}); showing the embedded model instead."
        folder = self.weights_root / task
        if holds_model(folder):
            try:
                return self.load(task, str(folder), dev), notice
            except ModelChoiceError as e:
                notice += f" ⚠️ {folder} could not be used ({e})."
        return placeholder(task, dev), notice.strip()

    def default_shape(self, task: str) -> dict:
        """The tab's default model's sizes without loading its weights where possible: image_size (output px
        of one window), out_stride, window (tokens), sr_factor, and its sampling defaults (`sampling`: as
        `Pipeline.defaults`). A name that is not on disk yet: the placeholder's sizes."""
        from taming_lite.hub import model_shape

        from taming_lite.registry import load_registry
        from taming_lite.sampling import SamplingSettings

        key = (task, str(self.device))
        if key in self._defaults:
            return {**self._defaults[key].shape, "sampling": self._defaults[key].defaults()}
        name = self.default_name(task)
        shape = model_shape(name) if name is not None else None
        if shape is None:
            shape = model_shape(placeholder_model(task))
        entry = load_registry().get(name) if name is not None else None
        s = SamplingSettings.resolve(spec(task).sampling, entry.sampling if entry is not None else {},
                                     {"guidance": shape["guidance"]})  # as Pipeline.settings, before loading
        return {**shape, "sampling": {k: getattr(s, k) for k in ("temperature", "top_k", "top_p", "guidance")}}

    def label(self, task: str) -> str:
        """How the picker names the tab's own model."""
        _check_task(task)
        if task in self.task_models and not Path(self.task_models[task]).is_dir():
            return f"default: {self.task_models[task]} (app.py --model)"
        d = self.weights_dir(task)
        if d is None:
            return "default: untrained placeholder (no weights found)"
        return f"default: {show_path(d)}"

    def notice(self, task: str) -> str:
        """The tab's model line, before anything is loaded."""
        if task in self.task_models and not Path(self.task_models[task]).is_dir():
            return (f"Model: `{self.task_models[task]}` (registry, Hub or download; loaded on first use, the "
                    f"embedded weights are used instead if it cannot be loaded)")
        d = self.weights_dir(task)
        if d is None:
            return PLACEHOLDER_NOTICE.format(task=task)
        return f"Model: `{show_path(d)}`"

    # ------------------------------------------------------------------ the picker

    def choices(self, task: str) -> list[tuple[str, str]]:
        """The picker's entries for a tab as (label, name): the tab's default first, then the registry's
        models for the task (embedded ones, then Hub and download ones with their size; the default's own
        folder is not repeated)."""
        from taming_lite.checkpoints import CheckpointError
        from taming_lite.hub import available_offline
        from taming_lite.registry import list_models

        out = [(self.label(task), DEFAULT)]
        try:
            entries = list_models(task)
        except CheckpointError:  # a broken registry must not break the app: the default still works
            return out
        own = self.weights_dir(task)
        for e in sorted(entries, key=lambda e: not e.is_local):
            if e.is_local:
                if own is not None and e.path.resolve() == own.resolve():
                    continue
                where = "embedded" if available_offline(e) else "embedded, files missing"
                out.append((f"{e.name} ({where}: {show_path(e.path)})", e.name))
                continue
            cached = _available_offline(e)
            size = f"{e.size_gb:g} GB" if e.size_gb else "size unknown"
            big = ", large download" if e.is_large and not cached else ""
            where = f"Hub: {e.repo_id}@{e.revision}" if e.repo_id else "download"
            out.append((f"{e.name} ({where}, {size}{big}{' · in the cache' if cached else ''})", e.name))
        return out

    def check_choice(self, name) -> str:
        """A picker name, stripped and checked (no file is read): DEFAULT, a registry name, a Hub repo id
        `user/repo[@revision]`, or a folder when allowed. Raises ModelChoiceError otherwise."""
        from taming_lite.checkpoints import CheckpointError
        from taming_lite.registry import list_models

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
        if self.allow_local_folders and Path(name).is_dir():
            return name
        if not is_repo_id(name):
            known = ", ".join(sorted(registry)) or "none"
            folders = "nor a folder" if self.allow_local_folders else "(folders on the server need app.py --allow-local-models)"
            raise ModelChoiceError(f"{name!r} is not a registry name ({known}) nor a Hub repo id "
                                   f"('user/repo' or 'user/repo@revision') {folders}")
        if not self.allow_local_folders and Path(name).is_dir():  # hub.resolve would take the folder
            raise ModelChoiceError(f"{name!r} is a folder on the server; folders can be picked only when the app "
                                   f"runs with --allow-local-models (or is started with --model TASK={name})")
        return name

    def load_choice(self, task: str, name: str, device=None, progress: Callable[[str], None] | None = None) -> Pipeline:
        """The model `name` for the tab, loaded once and kept in the task's LRU (at most max_extra)."""
        _check_task(task)
        name = self.check_choice(name)
        if name == DEFAULT:
            return self.get_model(task, device)
        _check_registry_task(task, name)
        dev = pick_device(device or self.device)
        pipe, held = self.load_once((task, str(dev)), name, lambda: self.load(task, name, dev, progress))
        if held and progress:
            progress(f"{name}: already loaded on this server")
        return pipe

    def loaded_choices(self, task: str, device=None) -> list[str]:
        """Names of the picked models held for the task now, least recently used first."""
        dev = pick_device(device or self.device)
        with self._guard:
            return list(self._kept.get((task, str(dev)), ()))

    # ------------------------------------------------------------------ loading once, keeping a few

    def load_once(self, group: tuple, key, load: Callable[[], object]) -> tuple[object, bool]:
        """`load()` once per group and key, even when several sessions ask at once, kept in the group's LRU (at
        most max_extra: the least recently used is dropped; the next call that needs it loads it again).
        -> (the value, whether it was held already when asked)."""
        found = self._lru_get(group, key)
        if found is not _MISSING:
            return found, True
        with self._lock_once(group + (key,)):
            found = self._lru_get(group, key)
            if found is _MISSING:
                found = load()
                with self._guard:
                    lru = self._kept.setdefault(group, OrderedDict())
                    lru[key] = found
                    while len(lru) > self.max_extra:
                        lru.popitem(last=False)  # the least recently used; sessions using it load it again
        return found, False

    def _lru_get(self, group: tuple, key):
        with self._guard:
            lru = self._kept.get(group)
            if lru is None or key not in lru:
                return _MISSING
            lru.move_to_end(key)
            return lru[key]

    def _lock(self, key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def _lock_once(self, key):
        """`_lock(key)` held, then dropped: no lock kept per name ever typed (a waiter still holds its own)."""
        try:
            with self._lock(key):
                yield
        finally:
            with self._guard:
                self._locks.pop(key, None)


@contextmanager
def choice_errors(name: str, what: str, who: str):
    """A load's errors as ModelChoiceError saying what to do; `what` the files should load as ("a model"),
    `who` would download with HF_HUB_OFFLINE=0 ("the picker")."""
    from taming_lite import hub
    from taming_lite.checkpoints import CheckpointError

    try:
        yield
    except hub.HubUnavailable as e:
        hint = (f" (The app sets HF_HUB_OFFLINE=1 unless told otherwise: start it with HF_HUB_OFFLINE=0 to "
                f"let {who} download.)") if hub.env_flag("HF_HUB_OFFLINE") else ""
        raise ModelChoiceError(f"{e}{hint}") from None
    except (CheckpointError, TaskMismatch, hub.TransformersMissing) as e:  # also ModelNotFoundError, DownloadError
        raise ModelChoiceError(str(e)) from None
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:  # files that are not a model of ours
        raise ModelChoiceError(f"{name}: the files were found but do not load as {what} "
                               f"({type(e).__name__}: {str(e)[:300]})") from None


def is_repo_id(name: str) -> bool:
    """Whether `name` is a valid Hub repo id `user/repo[@revision]` (no file is read)."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.registry import check_repo_id, check_revision

    repo, _, revision = name.partition("@")
    try:
        check_repo_id(repo, "model")
        if revision:
            check_revision(revision, "model")
    except CheckpointError:
        return False
    return True


def _available_offline(entry) -> bool:
    from taming_lite.hub import available_offline

    try:
        return available_offline(entry)
    except OSError:
        return False


def show_path(d: Path) -> str:
    d = Path(d)
    return str(d.relative_to(REPO)) if d.is_absolute() and d.is_relative_to(REPO) else str(d)


def _check_registry_task(task: str, name: str) -> None:
    """A registry entry says which task it serves: refuse another tab's before any download."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.registry import list_models

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


def entry_limits(name: str) -> str:
    """What a registry model cannot do (its `limits`), for the tab; "" if none or not a registry name."""
    from taming_lite.checkpoints import CheckpointError
    from taming_lite.registry import load_registry

    try:
        entry = load_registry().get(name)
    except CheckpointError:
        return ""
    return entry.limits if entry is not None else ""
