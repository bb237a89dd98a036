"""scripts/make_sample_sheets.py: one row per condition, condition | samples | ground truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from make_sample_sheets import sheet  # noqa: E402

from demos.models import placeholder_model  # noqa: E402
from taming_lite.checkpoints import save_pretrained  # noqa: E402


@pytest.mark.parametrize("task", ["completion", "labels"])
def test_sheet_layout(tmp_path, task):
    model = placeholder_model(task)  # 64x64 images, 8x8 tokens
    save_pretrained(model, tmp_path / task)
    img = np.asarray(sheet(task, tmp_path, rows=2, samples=2, gap=2))
    size = 64
    assert img.shape == (2 * size + 2, 4 * size + 3 * 2, 3)
    assert (img[size : size + 2] == 255).all()  # white gap between rows
    first, truth = img[:size, :size], img[:size, -size:]
    assert first.std() > 0 and truth.std() > 0
    if task == "completion":  # the condition is the upper half of the ground truth over grey
        assert np.abs(first[: size // 2].astype(int) - truth[: size // 2].astype(int)).max() <= 1
        assert (first[size // 2 :] == 128).all()
