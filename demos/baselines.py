"""The completion tab's pixel baselines, beside the taming model: plain functions over the app's model store.

    name = baselines.check(store, "openai/imagegpt-small")  # checked at once (nothing is read)
    base = baselines.get(store, name, device)               # a PixelGPT, a taming_lite.imagegpt.ImageGPT, or None
    baselines.choices(store)                                # the baseline picker's entries

A baseline is the embedded PixelGPT (`pixel_baseline`: `<weights root>/pixel_baseline`), an Image-GPT from the
Hub (taming_lite.imagegpt: `openai/imagegpt-small|medium|large`, any Image-GPT repo id, or a folder when the
store allows folders), or `none`. Each is loaded on first use on the store's device and kept in the store's
small LRU (`ModelStore.load_once`: one load per name even when several sessions ask at once).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from taming_lite.device import pick_device

from .models import ModelChoiceError, choice_errors, is_repo_id

BASELINE = "pixel_baseline"
NO_BASELINE = "none"


def choices(store) -> list[tuple[str, str]]:
    """The pixel-baseline picker's entries as (label, name): the embedded one, the Image-GPT sizes, none."""
    from taming_lite import hub, imagegpt

    here = (store.weights_root / BASELINE / "config.json").is_file()
    out = [(f"embedded pixel transformer (32x32, 256-colour palette{'' if here else ', weights missing'})",
            BASELINE)]
    missing = "" if imagegpt.available() else ", needs `pip install transformers`"
    for repo, gb in imagegpt.HUB_MODELS.items():
        cached = any(hub.cached_files(repo, "main", [imagegpt.CONFIG, imagegpt.PROCESSOR, w]) is not None
                     for w in imagegpt.WEIGHTS)
        where = " · in the cache" if cached else f", ~{gb:g} GB download"
        out.append((f"Image-GPT {repo.rsplit('-', 1)[1]} ({repo}, Hub{where}{missing})", repo))
    out.append(("none (the taming model alone)", NO_BASELINE))
    return out


def check(store, name) -> str:
    """A pixel-baseline name, stripped and checked (nothing is read): BASELINE, NO_BASELINE, a Hub repo id
    `user/repo[@revision]`, or a folder when the store allows them. ModelChoiceError otherwise."""
    name = BASELINE if name is None or not str(name).strip() else str(name).strip()
    if name in (BASELINE, NO_BASELINE) or (store.allow_local_folders and Path(name).is_dir()):
        return name
    if Path(name).is_dir():
        raise ModelChoiceError(f"{name!r} is a folder on the server; folders can be picked only when the app "
                               f"runs with --allow-local-models")
    if not is_repo_id(name):
        raise ModelChoiceError(f"pixel baseline {name!r}: expected {BASELINE!r}, {NO_BASELINE!r}, an Image-GPT "
                               f"repo id (e.g. openai/imagegpt-small) or a folder (with --allow-local-models)")
    return name


def get(store, name=BASELINE, device=None, progress: Callable[[str], None] | None = None):
    """The pixel baseline `name` on the device (default: the store's): the embedded PixelGPT, a
    taming_lite.imagegpt.ImageGPT, or None (NO_BASELINE, or the embedded weights are missing).
    Raises ModelChoiceError with what to do."""
    name = check(store, name)
    if name == NO_BASELINE:
        return None
    dev = pick_device(device or store.device)
    if name == BASELINE:
        return store.load_once(("pixel_baseline",), str(dev), lambda: _embedded(store.weights_root / BASELINE, dev))[0]
    return store.load_once(("imagegpt",), (str(dev), name), lambda: _imagegpt(name, dev, progress))[0]


def _embedded(folder: Path, dev):
    """The embedded PixelGPT in `folder`, or None when its weights are not there (the tab then says so)."""
    from taming_lite.checkpoints import load_pretrained

    return load_pretrained(folder, device=dev) if (folder / "config.json").is_file() else None


def _imagegpt(name: str, dev, progress):
    from taming_lite import imagegpt

    with choice_errors(name, "an Image-GPT", "it"):
        return imagegpt.load(name, device=dev, progress=progress)
