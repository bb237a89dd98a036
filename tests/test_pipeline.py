"""taming_lite.pipeline: the Pipeline runs the released architectures (narrow stand-ins, tests/released.py)
end to end: loading the original format, each condition's conventions (S-FLCKR's 182-channel one-hot on
COCO-Stuff ids, D-RIN's per-image min-max depth), sizes (one window, wider through the sliding window,
inputs by downsample_factor and outputs by upsample_factor), previews, seeds, the kept rows of a completion."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from taming_lite import pipeline
from taming_lite.data.labels import LABEL_BY_NAME
from taming_lite.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
import released  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("released")
    return {kind: released.write(root / kind, kind)[0].parent for kind in ("labels", "depth", "faces")}


def test_sflckr_layout_one_hot_on_the_coco_stuff_ids(folders):
    pipe = Pipeline.from_pretrained(str(folders["labels"]), device="cpu")
    assert pipe.task == "labels" and pipe.label_channels == 182 and pipe.window == (16, 16)
    assert pipe.in_stride == pipe.out_stride == 16 and pipe.image_size == 256
    ids = np.full((64, 64), LABEL_BY_NAME["sky-other"], np.uint8)
    ids[32:] = LABEL_BY_NAME["mountain"]
    c = pipe.condition_tensor(ids, 256, 256)
    assert c.shape == (1, 182, 256, 256) and torch.equal(c.sum(1), torch.ones(1, 256, 256))
    # np.eye(182)[segmentation] as S-FLCKR's data code: channel = the COCO-Stuff id itself (156 sky, 134 mountain)
    assert c[0, 156, :128].min() == 1 and c[0, 134, 128:].min() == 1 and c[0, 156, 128:].max() == 0


def test_drin_depth_is_min_max_normalised_per_image(folders):
    pipe = Pipeline.from_pretrained(str(folders["depth"]), device="cpu")
    assert pipe.task == "depth" and pipe.depth_minmax  # every original-format depth model: D-RIN's data
    d = np.linspace(0.3, 0.6, 64 * 64, dtype=np.float32).reshape(64, 64)
    c = pipe.condition_tensor(d, 256, 256)
    assert c.shape == (1, 1, 256, 256) and abs(c.min() + 1) < 1e-5 and abs(c.max() - 1) < 1e-5
    pipe.depth_minmax = False  # ours: the map as given
    c = pipe.condition_tensor(d, 256, 256)
    assert abs(c.min() - (0.3 * 2 - 1)) < 1e-2 and abs(c.max() - (0.6 * 2 - 1)) < 1e-2


def test_depth_one_window_previews_seed_and_wider_through_the_sliding_window(folders):
    pipe = Pipeline.from_pretrained(str(folders["depth"]), device="cpu")
    d = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    job = pipe.prepare(d, (256, 256))
    assert job.cond.shape == (1, 16, 16) and job.z.shape == (1, 16, 16)  # a grid: the window can crop it
    steps = list(pipe.iter_sample(job, seed=3, num_samples=2, previews=2))
    assert [s.final for s in steps] == [False, True] and steps[-1].done == 256
    assert steps[-1].tokens.shape == (2, 16, 16) and all(im.shape == (256, 256, 3) for im in steps[-1].images)
    again = list(pipe.iter_sample(job, seed=3, num_samples=2, previews=1))[-1]
    assert torch.equal(again.tokens, steps[-1].tokens)  # the same seed, fewer previews: the same tokens
    assert not torch.equal(steps[-1].tokens[0], steps[-1].tokens[1])  # two samples differ
    wide = pipe.prepare(d, (256, 320))  # 16 x 20 tokens: beyond the 16 x 16 window
    assert wide.cond.shape == (1, 16, 20)
    (img,) = pipe.sample(wide, seed=0)
    assert img.shape == (256, 320, 3)


def test_faces_completion_keeps_the_given_rows(folders):
    pipe = Pipeline.from_pretrained(str(folders["faces"]), device="cpu")
    assert pipe.task == "completion" and pipe.model.config.cond_stage is None
    rgb = (np.random.default_rng(0).random((300, 280, 3)) * 255).astype(np.uint8)
    job = pipe.prepare(rgb, (256, 256), given_rows=8)
    assert job.start == 8 * 16 and job.cond.shape == (1, 1)
    (last,) = list(pipe.iter_sample(job, seed=0, previews=1))
    assert torch.equal(last.tokens[0, :8], job.z[0, :8])  # the input's own tokens, kept
    assert not torch.equal(last.tokens[0, 8:], job.z[0, 8:]) and last.images[0].shape == (256, 256, 3)
    with pytest.raises(ValueError, match="given rows need an image"):
        pipe.prepare(None, (256, 256), given_rows=4)


def test_inputs_sized_by_downsample_outputs_by_upsample(folders, monkeypatch):
    """A decoder with one more upsampling level (output 2x the input per token): the condition and the
    encoder's image keep the encoder's size, decoded images and output sizes double."""
    from taming_lite.vqgan import VQGANConfig

    pipe = Pipeline.from_pretrained(str(folders["depth"]), device="cpu")
    first = pipe.model.config.first_stage
    monkeypatch.setattr(VQGANConfig, "upsample_factor", property(
        lambda self: 2 * self.downsample_factor if self is first else self.downsample_factor))
    plain = pipe.model.first_stage_model.decode_indices
    monkeypatch.setattr(pipe.model.first_stage_model, "decode_indices",
                        lambda z: torch.nn.functional.interpolate(plain(z), scale_factor=2))
    assert pipe.in_stride == 16 and pipe.out_stride == 32 and pipe.image_size == 512
    assert pipe.tokens(512, 1024) == (16, 32) and pipe.cond_size(512, 1024) == (256, 512)
    job = pipe.prepare(np.zeros((8, 8), np.float32), (512, 512))
    assert job.cond.shape == (1, 16, 16)
    (img,) = pipe.sample(job, seed=0)
    assert img.shape == (512, 512, 3)
    with pytest.raises(ValueError, match="multiple of 32"):
        pipe.tokens(256 + 16, 256)


def test_a_model_for_another_task_is_refused(folders):
    with pytest.raises(pipeline.TaskMismatch, match="1-channel .* it fits the depth tab"):
        Pipeline.from_pretrained(str(folders["depth"]), task="labels", device="cpu")


def test_a_loaded_model_is_no_placeholder_and_the_placeholder_is(folders):
    from demos.models import placeholder

    assert Pipeline.from_pretrained(str(folders["depth"]), device="cpu").placeholder is False
    ph = placeholder("depth", "cpu")
    assert ph.placeholder is True and ph.image_size == 64 and "seed 0" in ph.source


def test_bf16_weights_on_the_cpu(folders):
    pipe = Pipeline.from_pretrained(str(folders["labels"]), device="cpu", dtype="bf16")
    assert pipe.dtype == torch.bfloat16 and pipe.precision() == "bfloat16"
    ids = np.full((32, 32), LABEL_BY_NAME["sky-other"], np.uint8)
    (img,) = pipe.sample(pipe.prepare(ids, (256, 256)), seed=0)
    assert img.shape == (256, 256, 3) and img.std() > 0
