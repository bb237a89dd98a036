"""The 1000 ImageNet-1k class names, in class-id order (line i of imagenet_classes.txt is class i), for
class-conditional models (the paper's `cin_transformer`: one class-id token before the image tokens).

The names are torchvision's (`torchvision.models._meta._IMAGENET_CATEGORIES`), copied here so that the
app needs neither torchvision's internals nor a download to show them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NAMES_FILE = Path(__file__).with_name("imagenet_classes.txt")
N_CLASSES = 1000


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    names = tuple(line.strip() for line in NAMES_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != N_CLASSES:
        raise ValueError(f"{NAMES_FILE}: expected {N_CLASSES} class names, found {len(names)}")
    return names


def class_id(name_or_id) -> int:
    """A class id from an id (int or digits) or an exact class name; ValueError naming the range otherwise."""
    if isinstance(name_or_id, str) and not name_or_id.strip().lstrip("-").isdigit():
        names = imagenet_classes()
        if name_or_id.strip() in names:
            return names.index(name_or_id.strip())
        raise ValueError(f"unknown ImageNet class {name_or_id!r}: give an id 0..{N_CLASSES - 1} or an exact name "
                         f"(e.g. {names[281]!r})")
    try:
        i = int(name_or_id)
    except (TypeError, ValueError):
        raise ValueError(f"class must be an id 0..{N_CLASSES - 1} or a name, got {name_or_id!r}") from None
    if not 0 <= i < N_CLASSES:
        raise ValueError(f"class id {i} is out of range 0..{N_CLASSES - 1}")
    return i
