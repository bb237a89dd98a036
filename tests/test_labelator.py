"""Class-conditional transformers in the original format (the cin transformer's `Labelator` cond stage:
a class id as one token): load_original's class table, the narrow stand-in (tests/released.py), and
Pipeline.prepare(class_id=) for the completion task."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from taming_lite.checkpoints import CheckpointError, config_from_original, load_original
from taming_lite.net2net import Labelator
from taming_lite.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
import released  # noqa: E402


@pytest.fixture(scope="module")
def cin(tmp_path_factory):
    return released.write(tmp_path_factory.mktemp("cin"), "cin", yaml_name=released.CIN_YAML)


def test_labelator_config_maps_to_a_class_conditional_net2net():
    kind, cfg = config_from_original(released.project_config("cin", full=True))
    assert kind == "net2net" and cfg.n_classes == 1000 and cfg.cond_stage is None
    assert cfg.cond_stage_key == "class_label" and cfg.transformer.n_layer == 48 and cfg.transformer.n_embd == 1536
    assert cfg.first_stage.n_embed == 16384 and cfg.transformer.block_size == 256


def test_labelator_params_are_checked():
    cfg = released.project_config("cin")
    cfg["model"]["params"]["cond_stage_config"]["params"] = {"n_classes": 0}
    with pytest.raises(CheckpointError, match="positive whole n_classes"):
        config_from_original(cfg)
    with pytest.raises(CheckpointError, match="Labelator alone is not a model"):
        config_from_original({"model": {"target": "taming.modules.util.Labelator", "params": {"n_classes": 3}}})


def test_original_checkpoint_loads_and_the_class_is_the_condition(cin):
    config, ckpt = cin
    model = load_original(config, ckpt)
    assert isinstance(model.cond_stage_model, Labelator)
    _, c = model.encode_to_c(torch.tensor([281, 7]))
    assert c.tolist() == [[281], [7]]
    with pytest.raises(ValueError, match="0..999"):
        model.cond_stage_model.encode(torch.tensor([1000]))
    pipe = Pipeline.from_pretrained(str(config.parent), device="cpu")
    assert pipe.task == "completion" and pipe.n_classes == 1000 and pipe.image_size == 256
    rgb = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
    a, b = (pipe.prepare(rgb, (256, 256), given_rows=12, class_id=k) for k in (281, 967))
    assert a.cond.tolist() == [[281]] and b.cond.tolist() == [[967]] and torch.equal(a.z, b.z)
    ia, ib = (pipe.sample(j, seed=0, top_k=None)[0] for j in (a, b))
    assert ia.shape == (256, 256, 3) and not np.array_equal(ia, ib)  # the class changes the sample
    with pytest.raises(ValueError, match="class-conditional"):
        pipe.prepare(rgb, (256, 256), given_rows=12)
