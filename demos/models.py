"""Model loading for the app, in one place: lazy, loaded once, thread-safe, keyed by task + device.

    tm = get_model("depth")          # a TaskModel: .model (Net2NetTransformer, eval), .placeholder, ...

Where weights come from, in order:
  1. an explicit directory for the task (`set_model_dirs({"depth": "path"})`, app.py --model);
  2. `<weights root>/<task>/` (config.json + model.safetensors, loadable by `load_pretrained`);
  3. otherwise a small *randomly initialised* model for the task (fixed seed), flagged
     `placeholder=True`, so the app runs before any weights exist. The tabs say so visibly.
A later switch to the model registry (taming_lite.hub) changes only `_resolve` below.
"""

from __future__ import annotations

import threading
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


@dataclass
class TaskModel:
    task: str
    model: torch.nn.Module  # Net2NetTransformer in eval mode
    device: torch.device
    placeholder: bool
    source: str
    extra: dict = field(default_factory=dict)
    notice: str = ""  # e.g. why a Hub model fell back to the embedded weights

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
    def sr_factor(self) -> int:
        """Super-resolution: how much smaller the low-resolution input is than the output."""
        cond = self.extra.get("cond")
        if isinstance(cond, dict) and cond.get("factor"):
            return int(cond["factor"])
        return max(1, self.stride // self.cond_stride)


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


def set_default_device(name: str | None) -> torch.device:
    global _default_device
    dev = pick_device(name)  # raises ValueError with what is available
    _default_device = str(dev)
    return dev


def clear() -> None:
    with _locks_guard:
        _cache.clear()
        _baselines.clear()


def get_model(task: str, device: str | torch.device | None = None) -> TaskModel:
    _check_task(task)
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
            tm = _resolve(task, dev)
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
    from taming_lite.checkpoints import CheckpointError, load_pretrained, read_config
    from taming_lite.hub import HubUnavailable, from_pretrained
    from taming_lite.net2net import Net2NetTransformer

    notice = ""
    name = _hub_names.get(task)
    if name is not None:
        try:
            model = from_pretrained(name, device=dev)
            if not isinstance(model, Net2NetTransformer):
                raise CheckpointError(f"{name} is a {type(model).__name__}, not a conditional transformer")
            extra = {"task": task, "image_size": model.config.first_stage.resolution}
            return TaskModel(task, model, dev, False, f"{name} (Hub)", extra)
        except (HubUnavailable, CheckpointError) as e:  # ModelNotFoundError is a CheckpointError
            notice = f"⚠️ {name} could not be used ({e}); showing the embedded model instead."
    d = weights_dir(task)
    if d is not None:
        model = load_pretrained(d, device=dev)
        extra = read_config(d).get("extra") or {}
        return TaskModel(task, model, dev, False, str(d), dict(extra), notice)
    model = placeholder_model(task).to(dev).eval()
    extra = {"task": task, "image_size": model.config.first_stage.resolution}
    if task == "superres":
        extra["cond"] = {"factor": 4}
    return TaskModel(task, model, dev, True, f"untrained placeholder (random init, seed {PLACEHOLDER_SEED})", extra,
                     notice)


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
