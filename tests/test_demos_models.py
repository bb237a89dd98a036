"""The app's model loading: a Hub / registry model per task, and the fallback when it cannot load."""

import types

import pytest
import torch

import taming_lite.hub as hub
from demos import common, models
from taming_lite.gpt import GPTConfig
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
from taming_lite.vqgan import VQGANConfig


@pytest.fixture
def fresh(tmp_path):
    models.set_weights_root(tmp_path / "empty")  # no embedded weights: the fallback is the placeholder
    yield
    models._hub_names.clear()
    models._task_dirs.clear()
    models.set_weights_root(models.REPO / "weights")


def tiny_net2net():
    vq = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=16,
              embed_dim=4, n_embed=16)
    cfg = Net2NetConfig(first_stage=VQGANConfig(**vq), cond_stage=VQGANConfig(**{**vq, "in_channels": 1, "out_ch": 1}),
                        transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32))
    return Net2NetTransformer(cfg).eval()


def hub_files(name, model):
    """What hub.resolve returns for a downloaded repo, without files: .load() builds `model`."""
    return types.SimpleNamespace(name=name, format="original", repo_id=name, from_cache=False,
                                 load=lambda device=None, dtype=None: model)


def test_hub_model_is_used(fresh, monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "resolve",
                        lambda name, revision=None, **kw: asked.append(name) or hub_files(name, tiny_net2net()))
    models.set_model_dirs({"depth": "someone/depth-model"})
    assert "someone/depth-model" in common.model_notice("depth") and not models.is_placeholder("depth")
    tm = models.get_model("depth", "cpu")
    assert asked == ["someone/depth-model"] and not tm.placeholder and tm.source == "someone/depth-model (Hub)"
    assert tm.image_size == 16 and tm.notice == ""


def test_unreachable_hub_falls_back_with_a_notice(fresh, monkeypatch):
    def offline(name, revision=None, **kw):
        raise hub.HubUnavailable(f"{name}: the Hugging Face Hub is unreachable")

    monkeypatch.setattr(hub, "resolve", offline)
    models.set_model_dirs({"pose": "someone/pose-model"})
    tm = models.get_model("pose", "cpu")
    assert tm.placeholder  # the embedded folder is empty here, so the placeholder model
    assert "someone/pose-model could not be used" in tm.notice and "unreachable" in tm.notice
    params = {"num_samples": 1, "height": 64, "width": 64, "seed": 0}
    assert tm.notice in common.run_info(tm, params, 1, 1, [], 0.1)


def test_hub_model_for_another_condition_falls_back_with_a_notice(fresh, monkeypatch):
    monkeypatch.setattr(hub, "resolve", lambda name, revision=None, **kw: hub_files(name, tiny_net2net()))
    models.set_model_dirs({"labels": "someone/depth-model"})  # a depth model given for the labels tab
    tm = models.get_model("labels", "cpu")
    assert tm.placeholder and "someone/depth-model could not be used" in tm.notice
    assert "1-channel" in tm.notice and "it fits the depth tab" in tm.notice


def test_existing_folder_is_a_folder(fresh, tmp_path):
    (tmp_path / "my_depth").mkdir()
    models.set_model_dirs({"depth": str(tmp_path / "my_depth")})
    assert models.hub_name("depth") is None


def test_space_gpu_decoration_only_with_spaces(monkeypatch):
    import sys
    import types

    f = lambda: None  # noqa: E731
    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed: unchanged
    assert common.on_space_gpu(f) is f
    fake = types.SimpleNamespace(GPU=lambda fn: ("gpu", fn))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert common.on_space_gpu(f) == ("gpu", f)


def test_int8_option_quantizes_cpu_models_and_they_still_sample(fresh):
    from taming_lite.quantize import is_quantized

    models.set_int8(True)
    try:
        tm = models.get_model("depth", "cpu")
        assert is_quantized(tm.model.transformer) and "int8" in tm.source
        cond = tm.model.encode_to_c(torch.zeros(1, 1, tm.image_size, tm.image_size))[1]
        n = (tm.image_size // tm.stride) ** 2
        out = tm.model.sample(cond[:, :0], cond, steps=n, sample=True, top_k=10, seed=0)
        again = tm.model.sample(cond[:, :0], cond, steps=n, sample=True, top_k=10, seed=0)
        assert out.shape == (1, n) and torch.equal(out, again)
    finally:
        models.set_int8(False)
    assert not is_quantized(models.get_model("depth", "cpu").model.transformer)
