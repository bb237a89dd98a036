"""The super-resolution tab with an x8 model (a cond stage made for x4 inputs, `cond_upsample=2`): the
factor, the output size, the condition's size and the back-projection all follow the model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from demos import models, superres
from taming_lite.checkpoints import save_pretrained
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer


@pytest.fixture
def x8_tab(tmp_path):
    """weights/superres replaced by an x8 model: the placeholder's layout (64 px, f=8; cond stage 16 px, f=2)
    with its condition upsampled twice, so an 8x8 input gives the 8x8 token grid of a 64x64 output."""
    ph = models.placeholder_model("superres")
    cfg = Net2NetConfig(**{**vars(ph.config), "cond_upsample": 2})
    model = Net2NetTransformer(cfg)
    model.load_state_dict(ph.state_dict())
    save_pretrained(model.eval(), tmp_path / "weights" / "superres", extra={"task": "superres", "image_size": 64})
    store = models.ModelStore(weights_root=tmp_path / "weights", device="cpu")
    pipe = store.get_model("superres")
    pipe.store = store  # for _run
    return pipe


def _image(tmp_path, h, w, seed=0):
    rgb = np.random.default_rng(seed).integers(64, 192, (h, w, 3), dtype=np.uint8)  # room for detail: no clipping
    path = tmp_path / f"low_{h}x{w}.png"
    Image.fromarray(rgb).save(path)
    return str(path), rgb


def _run(tab, path):
    *_, (shown, info) = superres.run(tab.store, path, 0, 1.0, 100, 1.0, 1)
    return [np.asarray(Image.open(f).convert("RGB")) for f, _ in shown], info


def test_x8_model_factor_and_condition_size(x8_tab):
    assert not x8_tab.placeholder and x8_tab.sr_factor == 8 and x8_tab.cond_upsample == 2
    assert x8_tab.cond_size(64, 96) == (8, 12)  # the input itself: the model upsamples it


def test_x8_output_is_eight_times_the_input_and_back_projects_onto_it(x8_tab, tmp_path):
    path, low = _image(tmp_path, 8, 8)
    (bicubic, sample, fixed), _ = _run(x8_tab, path)
    assert bicubic.shape == sample.shape == fixed.shape == (64, 64, 3)
    means = fixed.astype(np.float64).reshape(8, 8, 8, 8, 3).mean(axis=(1, 3))
    # back-projected onto the 8x8 input: to uint8 rounding, except a few blocks where an (untrained) sample's
    # extreme pixels clip at 0 / 255
    assert np.median(np.abs(means - low)) < 0.5 and np.abs(means - low).mean() < 1.5


def test_x8_odd_input_is_fitted_to_whole_pixels_and_tokens(x8_tab, tmp_path):
    path, _ = _image(tmp_path, 9, 13, seed=1)
    low, H, W, notes = superres.plan(x8_tab, np.asarray(Image.open(path).convert("RGB")))
    assert H % 8 == 0 and W % 8 == 0 and low.shape[:2] == (H // 8, W // 8)
    (bicubic, sample, _), _ = _run(x8_tab, path)
    assert sample.shape == (H, W, 3) and bicubic.shape == (H, W, 3)
