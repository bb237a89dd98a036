"""The app's model loading: a Hub / registry model per task, and the fallback when it cannot load."""

import types

import torch

import taming_lite.hub as hub
from taming_lite.checkpoints import save_pretrained
from demos import common, models
from taming_lite.gpt import GPTConfig
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
from taming_lite.vqgan import VQGANConfig


def store_with(tmp_path, **kw):
    return models.ModelStore(weights_root=tmp_path / "empty", device="cpu", **kw)  # no embedded weights: placeholder


def tiny_net2net():
    vq = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=16,
              embed_dim=4, n_embed=16)
    cfg = Net2NetConfig(first_stage=VQGANConfig(**vq), cond_stage=VQGANConfig(**{**vq, "in_channels": 1, "out_ch": 1}),
                        transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32))
    return Net2NetTransformer(cfg).eval()


def hub_files(name, model):
    """What hub.resolve returns for a downloaded repo, without files: .load() builds `model`."""
    return types.SimpleNamespace(name=name, format="original", repo_id=name, url=None, from_cache=False, entry=None,
                                 loaded_from="downloaded", load=lambda device=None, dtype=None: model,
                                 describe=lambda: f"{name} (Hub)")


def test_hub_model_is_used(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "resolve",
                        lambda name, revision=None, **kw: asked.append(name) or hub_files(name, tiny_net2net()))
    store = store_with(tmp_path, task_models={"depth": "someone/depth-model"})
    assert "someone/depth-model" in store.notice("depth") and not store.is_placeholder("depth")
    tm = store.get_model("depth", "cpu")
    assert asked == ["someone/depth-model"] and not tm.placeholder and tm.source == "someone/depth-model (Hub)"
    assert tm.image_size == 16 and store.record("depth", device="cpu") == models.LoadRecord(models.DEFAULT, "")


def test_unreachable_hub_falls_back_with_a_notice(tmp_path, monkeypatch):
    def offline(name, revision=None, **kw):
        raise hub.HubUnavailable(f"{name}: the Hugging Face Hub is unreachable")

    monkeypatch.setattr(hub, "resolve", offline)
    store = store_with(tmp_path, task_models={"pose": "someone/pose-model"})
    tm, rec = store.get_model("pose", "cpu"), store.record("pose", device="cpu")
    assert tm.placeholder  # the embedded folder is empty here, so the placeholder model
    assert "someone/pose-model could not be used" in rec.notice and "unreachable" in rec.notice
    assert not hasattr(tm, "notice")  # the store's record, not the model's
    params = {"num_samples": 1, "height": 64, "width": 64, "seed": 0}
    assert rec.notice in common.run_info(tm, rec, params, 1, 1, [], 0.1)
    assert store.record("pose", " someone/other ", "cpu") == models.LoadRecord("someone/other")  # a picked one


def test_hub_model_for_another_condition_falls_back_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "resolve", lambda name, revision=None, **kw: hub_files(name, tiny_net2net()))
    store = store_with(tmp_path, task_models={"labels": "someone/depth-model"})  # a depth model for the labels tab
    tm, notice = store.get_model("labels", "cpu"), store.record("labels").notice
    assert tm.placeholder and "someone/depth-model could not be used" in notice
    assert "1-channel" in notice and "it fits the depth tab" in notice


def test_existing_folder_is_the_default_and_the_tab_says_so(tmp_path):
    folder = tmp_path / "my_depth"
    save_pretrained(tiny_net2net(), folder)
    store = store_with(tmp_path, task_models={"depth": str(folder)})
    assert store.weights_dir("depth") == folder and str(folder) in store.notice("depth")
    assert store.get_model("depth").model.config.first_stage.resolution == 16


def test_space_gpu_decoration_only_with_spaces(monkeypatch):
    import sys
    import types

    f = lambda: None  # noqa: E731
    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed: unchanged
    assert common.on_space_gpu(f) is f
    fake = types.SimpleNamespace(GPU=lambda fn: ("gpu", fn))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert common.on_space_gpu(f) == ("gpu", f)


def test_int8_option_quantizes_cpu_models_and_they_still_sample(tmp_path):
    from taming_lite.quantize import is_quantized

    save_pretrained(models.placeholder_model("depth"), tmp_path / "empty" / "depth", extra={"task": "depth"})
    tm = store_with(tmp_path, int8=True).get_model("depth", "cpu")
    assert is_quantized(tm.model.transformer) and "int8" in tm.source
    cond = tm.model.encode_to_c(torch.zeros(1, 1, tm.image_size, tm.image_size))[1]
    n = tm.window[0] * tm.window[1]
    out = tm.model.sample(cond[:, :0], cond, steps=n, sample=True, top_k=10, seed=0)
    again = tm.model.sample(cond[:, :0], cond, steps=n, sample=True, top_k=10, seed=0)
    assert out.shape == (1, n) and torch.equal(out, again)
    assert not is_quantized(store_with(tmp_path).get_model("depth", "cpu").model.transformer)


def test_int8_is_the_cpu_default_for_released_size_models_only(tmp_path, monkeypatch):
    """int8=None (the app's default): quantized on the CPU when the GPT has >= INT8_DEFAULT_PARAMS parameters
    (here lowered so that the tiny saved model counts as released-size); int8=False keeps fp32; the status
    lines say int8 and how to turn it off."""
    import taming_lite.quantize as quantize

    save_pretrained(models.placeholder_model("depth"), tmp_path / "empty" / "depth", extra={"task": "depth"})
    small = store_with(tmp_path).get_model("depth", "cpu")
    assert not quantize.is_quantized(small.model.transformer) and small.precision() == "float32"
    monkeypatch.setattr(quantize, "INT8_DEFAULT_PARAMS", 1)
    big = store_with(tmp_path).get_model("depth", "cpu")
    assert quantize.is_quantized(big.model.transformer) and big.precision() == "int8 weights"
    info = common.run_info(big, models.LoadRecord(), dict(num_samples=1, height=16, width=16, seed=0), 4, 4, [], 1.0)
    assert "on cpu (int8 weights)" in info and "--no-int8" in info
    off = store_with(tmp_path, int8=False).get_model("depth", "cpu")
    assert not quantize.is_quantized(off.model.transformer)


APP_INT8 = r"""
import json, os, sys
sys.argv = ["app.py"]
import app
out = {"default": app.parse_args([]).int8, "--no-int8": app.parse_args(["--no-int8"]).int8,
       "--int8": app.parse_args(["--int8"]).int8}
os.environ["TAMING_LITE_INT8"] = "0"
out["TAMING_LITE_INT8=0"] = app.parse_args([]).int8
print(json.dumps(out))
"""


def test_app_int8_flag_and_environment():
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", APP_INT8], cwd=repo, capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "GRADIO_ANALYTICS_ENABLED": "False",
                            "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"default": None, "--no-int8": False, "--int8": True,
                                                              "TAMING_LITE_INT8=0": False}
