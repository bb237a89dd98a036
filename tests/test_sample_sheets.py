"""scripts/make_sample_sheets.py: one row per condition, condition | samples (| ground truth), through Pipeline."""

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
    img = np.asarray(sheet(task, tmp_path, rows=2, samples=2))
    size = 64
    assert img.shape == (2 * size + 2, 4 * size + 3 * 2, 3)
    assert (img[size : size + 2] == 255).all()  # white gap between rows
    first, truth = img[:size, :size], img[:size, -size:]
    assert first.std() > 0 and truth.std() > 0
    if task == "completion":  # the condition is the upper half of the ground truth over grey
        assert np.abs(first[: size // 2].astype(int) - truth[: size // 2].astype(int)).max() <= 1
        assert (first[size // 2 :] == 128).all()


def test_a_larger_decoder_gets_tiles_of_its_output_size(tmp_path):
    """A first stage grown by an upsampling level (64-px input, 128-px output): 128-px tiles, the ground truth
    rendered at 128 px, the condition enlarged; the reconstruction sheet pairs renders and reconstructions."""

    from make_sample_sheets import reconstruction_sheet
    from taming_lite.train.decoder_trainer import grow_levels

    model = placeholder_model("labels")
    model.first_stage_model = grow_levels(model.first_stage_model, 1)
    model.config.first_stage = model.first_stage_model.config
    save_pretrained(model, tmp_path / "labels")
    img = np.asarray(sheet("labels", tmp_path, rows=1, samples=1))
    assert img.shape == (128, 3 * 128 + 2 * 2, 3)
    cond = img[:, :128]
    assert (cond[::2, ::2] == cond[1::2, 1::2]).all()  # the 64-px label map, enlarged 2x by nearest neighbour
    truth = img[:, -128:].astype(float)
    assert np.abs(truth[::2, ::2] - truth[1::2, 1::2]).mean() > 1  # rendered at 128 px, not enlarged
    save_pretrained(model.first_stage_model, tmp_path / "vqgan_image")
    rec = np.asarray(reconstruction_sheet(tmp_path, rows=1, pairs=2))
    assert rec.shape == (128, 4 * 128 + 3 * 2, 3)


@pytest.mark.parametrize("task", ["labels", "depth", "pose"])
def test_user_style_sheet_shows_the_named_conditions_first(tmp_path, task):
    from make_sample_sheets import user_conditions, user_sheet

    from taming_lite.data import user_style

    save_pretrained(placeholder_model(task), tmp_path / task)
    img = np.asarray(user_sheet(task, tmp_path, rows=2, samples=2))
    assert img.shape == (2 * 64 + 2, 3 * 64 + 2 * 2, 3)
    first = user_conditions(task, 1, 64)[0]
    assert np.array_equal(img[:64, :64], user_style.show(task, first, 64, 64))
    assert img[:64, 64:128].std() > 0  # a sample
