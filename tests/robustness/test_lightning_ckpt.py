"""Real Lightning checkpoints carry training metadata beside the weights: callback states keyed by
the callback's class, OmegaConf hyper-parameters, numpy scalars, paths. `load_original` must read
their weights with `weights_only=True` without importing those classes (they are usually not even
installed), and still refuse any other Python object."""

from __future__ import annotations

import pathlib
import sys
import types

import numpy as np
import pytest
import torch

from taming_lite import CheckpointError, load_original


def _fake_module(monkeypatch, name: str, **classes) -> None:
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        mod = sys.modules.get(".".join(parts[:i])) or types.ModuleType(".".join(parts[:i]))
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
    for cls_name, cls in classes.items():
        cls.__module__, cls.__qualname__, cls.__name__ = name, cls_name, cls_name
        setattr(sys.modules[name], cls_name, cls)


class ModelCheckpoint:  # stands for pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint
    pass


class DictConfig:  # stands for omegaconf.dictconfig.DictConfig (pickles its __dict__)
    def __init__(self, content):
        self._content = content


class Exploit:  # a "Lightning" class whose pickle calls os.system
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def _lightning_ckpt(reference_dir, monkeypatch, path, extra: dict) -> pathlib.Path:
    state = torch.load(reference_dir / "vqgan.ckpt", weights_only=True)["state_dict"]
    ckpt = {"epoch": 3, "global_step": 1200, "pytorch-lightning_version": "1.0.8", "state_dict": state,
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 4.5e-6, "params": [0, 1]}]}], **extra}
    torch.save(ckpt, path)
    for name in [n for n in sys.modules if n.split(".")[0] in ("pytorch_lightning", "omegaconf")]:
        monkeypatch.delitem(sys.modules, name)  # a fresh user's machine: Lightning is not installed
    return path


def test_lightning_metadata_is_read_inert(reference_dir, monkeypatch, tmp_path):
    _fake_module(monkeypatch, "pytorch_lightning.callbacks.model_checkpoint", ModelCheckpoint=ModelCheckpoint)
    _fake_module(monkeypatch, "omegaconf.dictconfig", DictConfig=DictConfig)
    extra = {"callbacks": {ModelCheckpoint: {"best_model_score": np.float64(0.25),
                                             "dirpath": pathlib.PurePosixPath("/logs/checkpoints")}},
             "hyper_parameters": DictConfig({"lr": 4.5e-6, "embed_dim": 256})}
    ckpt = _lightning_ckpt(reference_dir, monkeypatch, tmp_path / "last.ckpt", extra)
    assert "pytorch_lightning" not in sys.modules
    with pytest.raises(Exception):  # what plain weights_only loading does with such a file
        torch.load(ckpt, weights_only=True)

    model = load_original(reference_dir / "vqgan.yaml", ckpt)
    plain = load_original(reference_dir / "vqgan.yaml", reference_dir / "vqgan.ckpt")
    for (k, a), (_, b) in zip(model.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), k
    assert "pytorch_lightning" not in sys.modules and "omegaconf" not in sys.modules  # nothing was imported


def test_code_in_lightning_clothing_is_refused(reference_dir, monkeypatch, tmp_path):
    _fake_module(monkeypatch, "pytorch_lightning.callbacks.exploit", Exploit=Exploit)
    ckpt = _lightning_ckpt(reference_dir, monkeypatch, tmp_path / "evil.ckpt", {"callbacks": {"x": Exploit()}})
    with pytest.raises(CheckpointError, match=r"evil.ckpt: refused.*os\.system|evil.ckpt: refused.*posix\.system"):
        load_original(reference_dir / "vqgan.yaml", ckpt)
