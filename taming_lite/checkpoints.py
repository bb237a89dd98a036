"""Checkpoint I/O.

Our format (the unit of saving and loading, as diffusers): a directory with
    config.json        {"model_type": "vqgan" | "net2net" | "gpt" | "pixelgpt", "config": {...}, "taming_lite_version": ...}
    model.safetensors  the state dict
`save_pretrained(model, dir)` writes it, `load_pretrained(dir)` reads exactly what was saved.

The original format: a YAML config (`model.target` / `model.params`) and a PyTorch Lightning `.ckpt`.
`load_original(config_path, ckpt_path)` maps the YAML's class paths through a fixed table (it never
imports a name from a file), loads the checkpoint with `torch.load(..., weights_only=True)` (no
foreign code runs), drops `loss.*` keys (discriminator/LPIPS) and the GPT's constant `attn.mask`
buffers (after checking them), and refuses missing, unexpected or mis-shaped keys by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn as nn
import yaml

from . import __version__
from .gpt import GPT, GPTConfig, causal_mask_buffer
from .net2net import Net2NetConfig, Net2NetTransformer
from .pixelgpt import PixelGPT, PixelGPTConfig
from .vqgan import VQGAN, VQGANConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# The original class paths we understand, and what they become here. Nothing else is accepted.
ORIGINAL_TARGETS = {
    "taming.models.vqgan.VQModel": "vqgan",
    "taming.models.vqgan.VQSegmentationModel": "vqgan",
    "taming.models.cond_transformer.Net2NetTransformer": "net2net",
    "taming.modules.transformer.mingpt.GPT": "gpt",
    "taming.modules.util.Labelator": "labelator",  # only as a cond stage: a class id as one token (cin_transformer)
}
_IDENTITY_PERMUTERS = {"taming.modules.transformer.permuter.Identity"}
_DDCONFIG_KEYS = {"ch", "ch_mult", "num_res_blocks", "attn_resolutions", "z_channels", "resolution",
                  "in_channels", "out_ch", "double_z", "dropout"}


class CheckpointError(ValueError):
    """A checkpoint or config that cannot be loaded; the message names the file and the problem."""


# --------------------------------------------------------------------------- our format


# model_type (config.json) -> (model class, config dataclass). The model modules this one builds on are
# here from the start; a higher layer registers its own types where it defines them (evaluators.py),
# so this module never imports it.
_MODEL_TYPES: dict[str, tuple[type, type]] = {
    "vqgan": (VQGAN, VQGANConfig), "gpt": (GPT, GPTConfig), "net2net": (Net2NetTransformer, Net2NetConfig),
    "pixelgpt": (PixelGPT, PixelGPTConfig)}
# where the types registered elsewhere live, for the message when one is asked for before its module is imported
_REGISTERED_BY = {"evaluator": "taming_lite.evaluators"}


def register_model_type(name: str, cls: type, config_cls: type) -> None:
    """Let save_pretrained / load_pretrained handle `cls` as `name` (call it where `cls` is defined)."""
    known = _MODEL_TYPES.get(name)
    if known is not None and known[0].__qualname__ != cls.__qualname__:  # (the same class imported twice is
        # fine: `python -m taming_lite.evaluators` runs the module as __main__ and imports it again)
        raise ValueError(f"model_type {name!r} is already registered for {known[0].__name__}")
    _MODEL_TYPES[name] = (cls, config_cls)


def model_types() -> dict[str, tuple[type, type]]:
    """model_type (config.json) -> (model class, config dataclass), for everything our format holds."""
    return dict(_MODEL_TYPES)


def _model_type(model: nn.Module) -> str:
    types = model_types()
    for exact in (True, False):  # the class itself first, then a subclass of one
        for name, (cls, _) in types.items():
            if type(model) is cls if exact else isinstance(model, cls):
                return name
    raise TypeError(f"cannot save a {type(model).__name__}; expected one of "
                    f"{', '.join(cls.__name__ for cls, _ in types.values())}")


def save_pretrained(model: nn.Module, directory: str | os.PathLike, extra: dict | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write config.json + model.safetensors into `directory` (created if needed).
    `dtype` (e.g. torch.float16) stores floating-point tensors in that type to halve the files;
    `load_pretrained` casts them back to the model's dtype."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"model_type": _model_type(model), "taming_lite_version": __version__, "config": model.config.to_dict()}
    if extra:
        meta["extra"] = extra
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        meta["weights_dtype"] = str(dtype).removeprefix("torch.")
    save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def build_model(model_type: str, config: dict) -> nn.Module:
    """Instantiate an (untrained) model from a model type and a config dict (the config.json layout)."""
    types = model_types()
    if model_type not in types:
        hint = f" (it is registered by {_REGISTERED_BY[model_type]}: import that first)" if model_type in _REGISTERED_BY else ""
        raise CheckpointError(f"unknown model_type {model_type!r}{hint}; expected one of {', '.join(map(repr, types))}")
    cls, config_cls = types[model_type]
    try:
        return cls(config_cls(**config))
    except (TypeError, ValueError) as e:  # unknown, missing or invalid config fields
        raise CheckpointError(f"invalid {model_type} config: {e}") from None


def read_json(path: str | os.PathLike, missing: str):
    """A JSON file's content, or CheckpointError naming the file (`missing` says what to do if absent)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def read_config(directory: str | os.PathLike) -> dict:
    path = Path(directory) / CONFIG_NAME
    meta = read_json(path, f"not found; a taming-lite model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    if not isinstance(meta, dict) or "model_type" not in meta or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{path}: expected an object with 'model_type' and 'config'")
    return meta


def _existing_file(path: str | os.PathLike, missing: str) -> Path:
    """The path of a non-empty file, or CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {missing}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes); the download or copy is incomplete")
    return path


def load_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _existing_file(path, "not found")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e}); it may be truncated or corrupt") from None


def load_pretrained(directory: str | os.PathLike, device=None, dtype: torch.dtype | None = None) -> nn.Module:
    """Load a model saved by `save_pretrained`, in eval mode."""
    directory = Path(directory)
    meta = read_config(directory)
    model = build_model(meta["model_type"], meta["config"])
    state = load_safetensors(directory / WEIGHTS_NAME)
    load_state_strict(model, state, str(directory / WEIGHTS_NAME))
    model.eval()
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    return model


def load_stage(path: str | os.PathLike, what: str = "first_stage") -> VQGAN:
    """A VQGAN directory, or a transformer directory whose first stage (what="first_stage") or cond
    stage (what="cond_stage") is taken. ValueError if the folder holds neither."""
    model = load_pretrained(path)
    if isinstance(model, Net2NetTransformer):
        net = model
        model = net.first_stage_model if what == "first_stage" else net.cond_stage_model
        if not isinstance(model, VQGAN):  # the start token of an unconditional model, or an aligned model's encoder
            kind = "aligned conditioning: its cond stage is an encoder" if net.config.aligned else "an unconditional transformer"
            raise ValueError(f"{what} {str(path)!r} has no cond stage VQGAN ({kind})")
    if not isinstance(model, VQGAN):
        raise ValueError(f"{what} {str(path)!r} holds a {type(model).__name__}, not a VQGAN")
    return model


def decoder_record(extra: dict) -> dict:
    """What a model folder's metadata says about a decoder trained by `python -m taming_lite.train decoder`."""
    return {k: v for k, v in extra.items() if k in ("output_size", "decoder", "decoder_trained_steps")}


def load_stage_or_exit(parser, path: str | os.PathLike) -> VQGAN:
    """`load_stage(path)` in fp32 and eval mode, for a command-line tool: `parser.error` (exit 2) with the
    reason when the folder holds no VQGAN."""
    try:
        return load_stage(path).float().eval()
    except (ValueError, OSError) as e:
        parser.error(str(e))


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str, assign: bool = False) -> None:
    """load_state_dict that reports missing/unexpected keys, shape and dtype problems by name.
    `assign`: the model takes the given tensors themselves (no copy; e.g. memory-mapped from the file)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:5])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:5])})")
    for k, v in state.items():
        if k in expected:
            if not isinstance(v, torch.Tensor):
                problems.append(f"{k} is a {type(v).__name__}, not a tensor")
            elif tuple(v.shape) != tuple(expected[k].shape):
                problems.append(f"{k} has shape {tuple(v.shape)}, the model expects {tuple(expected[k].shape)}")
            elif v.is_floating_point() != expected[k].is_floating_point():
                problems.append(f"{k} has dtype {v.dtype}, the model expects {expected[k].dtype}")
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise CheckpointError(f"{source}: weights do not fit the model: {shown}")
    model.load_state_dict(state, strict=True, assign=assign)


# --------------------------------------------------------------------------- original format


def _vqgan_config(params: dict, where: str) -> VQGANConfig:
    if params.get("remap") is not None:
        raise CheckpointError(f"{where}: VQModel with 'remap' is not supported")
    dd = params.get("ddconfig")
    if not isinstance(dd, dict):
        raise CheckpointError(f"{where}: missing 'ddconfig'")
    unknown = set(dd) - _DDCONFIG_KEYS
    if unknown:
        raise CheckpointError(f"{where}: unknown ddconfig keys {sorted(unknown)}")
    n_labels = params.get("n_labels")
    colorize = params.get("colorize_nlabels")  # a VQModel with a `colorize` buffer (S-FLCKR's cond stage)
    if n_labels is None and colorize is not None:
        if not (colorize == dd.get("in_channels") == dd.get("out_ch")):
            raise CheckpointError(f"{where}: colorize_nlabels {colorize} differs from in_channels/out_ch "
                                  f"({dd.get('in_channels')}/{dd.get('out_ch')}); only label VQGANs are supported")
        n_labels = colorize
    try:
        return VQGANConfig(**dd, embed_dim=int(params["embed_dim"]), n_embed=int(params["n_embed"]),
                           n_labels=n_labels)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: invalid VQGAN params ({e})") from None


def _target(node, where: str) -> str:
    if not isinstance(node, dict) or "target" not in node:
        raise CheckpointError(f"{where}: expected a mapping with 'target' and 'params'")
    target = node["target"]
    if target not in ORIGINAL_TARGETS:
        raise CheckpointError(f"{where}: unknown target {target!r}; supported: {', '.join(sorted(ORIGINAL_TARGETS))}")
    return target


def config_from_original(cfg: dict, where: str = "config") -> tuple[str, object]:
    """Original YAML dict (with top-level 'model') -> (model_type, our config dataclass)."""
    node = cfg.get("model", cfg) if isinstance(cfg, dict) else cfg
    target = _target(node, where)
    params = node.get("params") or {}
    kind = ORIGINAL_TARGETS[target]
    if kind == "labelator":
        raise CheckpointError(f"{where}: a Labelator alone is not a model (it is the cond stage of a class-conditional "
                              f"Net2NetTransformer)")
    if kind == "vqgan":
        if target.endswith("VQSegmentationModel") and "n_labels" not in params:
            raise CheckpointError(f"{where}: VQSegmentationModel needs 'n_labels'")
        return kind, _vqgan_config(params, where)
    if kind == "gpt":
        return kind, _gpt_config(params, where)
    # net2net
    perm = params.get("permuter_config")
    if perm is not None and _permuter_target(perm) not in _IDENTITY_PERMUTERS:
        raise CheckpointError(f"{where}: only the identity permuter is supported, got {_permuter_target(perm)!r}")
    t_node, f_node = params.get("transformer_config"), params.get("first_stage_config")
    if _target(t_node, where + ": transformer_config") != "taming.modules.transformer.mingpt.GPT":
        raise CheckpointError(f"{where}: transformer_config must be a mingpt.GPT")
    if ORIGINAL_TARGETS[_target(f_node, where + ": first_stage_config")] != "vqgan":
        raise CheckpointError(f"{where}: first_stage_config must be a VQGAN")
    first = _vqgan_config(f_node.get("params") or {}, where + ": first_stage_config")
    c_node = params.get("cond_stage_config")
    n_classes = 0
    if params.get("unconditional", False) or c_node == "__is_unconditional__":
        cond = None
    elif c_node == "__is_first_stage__":
        cond = first
    elif ORIGINAL_TARGETS[_target(c_node, where + ": cond_stage_config")] == "labelator":
        cond, n_classes = None, _labelator_classes(c_node.get("params") or {}, where + ": cond_stage_config")
    else:
        if ORIGINAL_TARGETS[_target(c_node, where + ": cond_stage_config")] != "vqgan":
            raise CheckpointError(f"{where}: cond_stage_config must be a VQGAN")
        cond = _vqgan_config(c_node.get("params") or {}, where + ": cond_stage_config")
    try:
        config = Net2NetConfig(
            first_stage=first, transformer=_gpt_config(t_node.get("params") or {}, where), cond_stage=cond,
            n_classes=n_classes,
            sos_token=int(params.get("sos_token", 0)), pkeep=float(params.get("pkeep", 1.0)),
            downsample_cond_size=int(params.get("downsample_cond_size", -1)),
            first_stage_key=str(params.get("first_stage_key", "image")),
            cond_stage_key=str(params.get("cond_stage_key", "class_label" if n_classes else
                                          "depth" if cond is not None else "image")))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: invalid Net2NetTransformer params ({e})") from None
    return kind, config


def _labelator_classes(params: dict, where: str) -> int:
    """n_classes of a Labelator cond stage (its only parameter; `quantize_interface` must be the default True)."""
    if set(params) - {"n_classes", "quantize_interface"} or not params.get("quantize_interface", True):
        raise CheckpointError(f"{where}: unsupported Labelator params {sorted(params)} (expected n_classes)")
    n = params.get("n_classes")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CheckpointError(f"{where}: Labelator needs a positive whole n_classes, got {n!r}")
    return n


def _permuter_target(node) -> str | None:
    return node.get("target") if isinstance(node, dict) else node


def _gpt_config(params: dict, where: str) -> GPTConfig:
    try:
        return GPTConfig(**params)
    except TypeError as e:
        raise CheckpointError(f"{where}: invalid GPT params ({e})") from None


def read_original_config(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: config not found")
    try:
        cfg = yaml.safe_load(path.read_text())  # safe_load: no Python objects from YAML tags
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: expected a mapping with 'model'")
    return cfg


# Lightning checkpoints carry training metadata next to the weights: callback states keyed by the
# callback's class, hyper-parameters as OmegaConf / argparse objects, numpy scalars, paths. Classes
# from these modules are replaced by inert stand-ins that only hold their data (nothing is imported
# from the file or called); a GLOBAL from any other module is refused.
METADATA_MODULES = ("pytorch_lightning", "lightning", "lightning_fabric", "omegaconf", "numpy", "pathlib",
                    "argparse", "typing", "enum")


def _is_metadata(full_path: str) -> bool:
    return full_path.split(".", 1)[0] in METADATA_MODULES


def _inert_class(full_path: str) -> type:
    """A stand-in for `full_path` that records what the pickle gives it and does nothing else."""
    module, _, name = full_path.rpartition(".")

    def __new__(cls, *args, **kwargs):
        inst = object.__new__(cls)
        inst.args, inst.kwargs, inst.state = args, kwargs, None
        return inst

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<inert {full_path}>"

    return type(name, (), {"__module__": module, "__qualname__": name, "__new__": __new__, "__init__": __init__,
                           "__setstate__": __setstate__, "__repr__": __repr__})


def _metadata_stand_ins(path: Path) -> list[tuple[type, str]]:
    """Inert stand-ins for the checkpoint's non-tensor globals, or [] when there are none or the
    file is not a zip checkpoint. Raises CheckpointError naming any global that is not metadata."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - legacy or broken files: the plain weights_only load reports them
        return []
    foreign = sorted(g for g in unsafe if not _is_metadata(g))
    if foreign:
        raise CheckpointError(f"{path}: refused: the file contains Python objects other than tensors, which could "
                              f"run code when loaded ({', '.join(foreign[:5])})")
    return [(_inert_class(g), g) for g in unsafe]


def load_torch_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a .ckpt/.pt/.pth safely; return its state dict (Lightning's 'state_dict' if present).

    Loads with `weights_only=True`; Lightning's training metadata is read into inert stand-ins
    (see METADATA_MODULES) and dropped, anything else that is not a tensor is refused."""
    path = _existing_file(path, "checkpoint not found")
    try:
        with torch.serialization.safe_globals(_metadata_stand_ins(path)):
            try:  # mmap: tensors are read from the file when used, so the unused ones (loss.*) never are
                ckpt = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:
                if "mmap" not in str(e):  # only the legacy (non-zip) format cannot be memory-mapped
                    raise
                ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # weights_only refuses foreign objects; zip/pickle errors for broken files
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e) or "GLOBAL" in str(e):
            raise CheckpointError(f"{path}: refused: the file contains Python objects other than tensors, "
                                  f"which could run code when loaded ({msg})") from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({msg}); it may be truncated or corrupt") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no state dict of tensors found (expected a Lightning checkpoint with 'state_dict')")
    return state


def _drop_constant_buffers(state: dict, model: nn.Module, source: str) -> dict:
    """Drop `loss.*` (training-only) and the GPT's `attn.mask` buffers, checking the masks are causal."""
    state = {k: v for k, v in state.items() if not k.startswith("loss.")}
    gpts = [(n, m) for n, m in model.named_modules() if isinstance(m, GPT)]
    for key in [k for k in state if k.endswith(".attn.mask") or k == "attn.mask"]:
        owner = next(((n, m) for n, m in gpts if key.startswith(f"{n}." if n else "")), None)
        if owner is None:
            continue  # left in: reported as unexpected
        cfg = owner[1].config
        expected = causal_mask_buffer(cfg.block_size, cfg.n_unmasked)
        if tuple(state[key].shape) != tuple(expected.shape) or not torch.equal(state[key].float(), expected):
            raise CheckpointError(f"{source}: {key} is not the causal mask for block_size {cfg.block_size}")
        del state[key]
    return state


def load_original(config_path: str | os.PathLike, ckpt_path: str | os.PathLike, device=None,
                  dtype: torch.dtype | None = None) -> nn.Module:
    """Original YAML + Lightning .ckpt -> our VQGAN / GPT / Net2NetTransformer in eval mode."""
    cfg = read_original_config(config_path)
    kind, config = config_from_original(cfg, str(config_path))
    cls = {"vqgan": VQGAN, "gpt": GPT, "net2net": Net2NetTransformer}[kind]
    with torch.device("meta"):  # no random init of weights that are overwritten next (seconds for a 24-layer GPT)
        model = cls(config)
    state = _drop_constant_buffers(load_torch_checkpoint(ckpt_path), model, str(ckpt_path))
    device = torch.device(device or "cpu")
    if device.type == "cpu" and dtype in (None, torch.float32) and all(
            v.dtype == torch.float32 for v in state.values() if v.is_floating_point()):
        # the model takes the memory-mapped tensors themselves: no second copy of the weights in memory
        load_state_strict(model, state, str(ckpt_path), assign=True)
        return model.eval()
    # else empty storage on the target device in the target dtype (cast while still on meta: no fp32 copy),
    # filled (and cast) from the memory-mapped file
    if dtype is not None:
        model = model.to(dtype=dtype)
    model = model.to_empty(device=device)
    load_state_strict(model, state, str(ckpt_path))
    return model.eval()


def load_gpt_state(config_path: str | os.PathLike, weights_path: str | os.PathLike) -> GPT:
    """A bare GPT from a JSON config of GPT params and a safetensors state dict (original key names)."""
    try:
        params = json.loads(Path(config_path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{config_path}: cannot read GPT config ({e})") from None
    model = GPT(_gpt_config(params, str(config_path)))
    state = _drop_constant_buffers(load_safetensors(weights_path), model, str(weights_path))
    load_state_strict(model, state, str(weights_path))
    return model.eval()
