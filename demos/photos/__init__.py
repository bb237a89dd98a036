"""Three public-domain photographs (from scikit-image's package data, 256x256; see README.md) and the
ImageNet class each shows, for the completion tab's examples and notebook 05."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
PHOTOS = {"chelsea": 281, "coffee": 967, "astronaut": 812}  # name -> ImageNet class id (tabby, espresso, space shuttle)


def photo_path(name: str) -> Path:
    return FOLDER / f"{name}.jpg"
