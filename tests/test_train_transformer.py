"""Transformer trainer: overfitting, resume equivalence (with pkeep and EMA), token cache, export."""

import json

import pytest
import torch

from taming_lite.checkpoints import load_pretrained
from taming_lite.net2net import Net2NetTransformer
from taming_lite.train import TrainingInterrupted, load_config, train_transformer, train_vqgan
from taming_lite.train.common import warmup_cosine

from _train_helpers import TINY_TRANSFORMER, column, mean, tiny_transformer, tiny_vqgan


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """A tiny image VQGAN and a tiny depth VQGAN (10 steps each: enough for varied tokens)."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("stages")
    image = train_vqgan(tiny_vqgan(tmp, "image", "steps=10", f"export_dir={tmp / 'image_x'}"))
    depth = train_vqgan(tiny_vqgan(tmp, "depth", "steps=10", "data.image_key=depth", f"export_dir={tmp / 'depth_x'}"))
    return image, depth


def test_tiny_transformer_overfits(tmp_path, stages):
    """8 depth-conditioned samples, 60 steps: last-10 loss at least 2x below first-10."""
    image, depth = stages
    out = train_transformer(tiny_transformer(tmp_path, "run", image, depth, f"export_dir={tmp_path / 'x'}"))
    loss = column(tmp_path / "run", "loss")
    assert mean(loss[:10]) / mean(loss[-10:]) > 2.0, (mean(loss[:10]), mean(loss[-10:]))
    net = load_pretrained(out)
    assert isinstance(net, Net2NetTransformer) and not net.be_unconditional
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra == {"task": "tiny", "image_size": 32, "cond": "depth", "dataset": "synthetic", "ema": False}
    # the exported stages are the trained VQGANs, unchanged
    vq = load_pretrained(image)
    assert all(torch.equal(v, net.first_stage_model.state_dict()[k]) for k, v in vq.state_dict().items())
    assert (tmp_path / "run" / "tokens.pt").is_file()
    assert list((tmp_path / "run" / "samples").glob("*.png"))


def test_resume_is_bit_exact_with_pkeep_and_ema(tmp_path, stages):
    image, depth = stages
    common = ["steps=8", "pkeep=0.7", "ema_decay=0.9", "model.embd_pdrop=0.1", "warmup_steps=3"]
    train_transformer(tiny_transformer(tmp_path, "full", image, depth, *common))
    part = tiny_transformer(tmp_path, "part", image, depth, *common)
    with pytest.raises(TrainingInterrupted):
        train_transformer(part, on_step=lambda step, logs, net: step == 3)
    train_transformer(part, resume=True)
    for name in ("loss", "grad_norm", "lr"):
        assert column(tmp_path / "full", name) == column(tmp_path / "part", name), name
    a = torch.load(tmp_path / "full" / "checkpoints" / "final" / "training_state.pt", weights_only=True)["ema"]
    b = torch.load(tmp_path / "part" / "checkpoints" / "final" / "training_state.pt", weights_only=True)["ema"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_time_budget_stops_the_transformer_run(tmp_path, stages):
    """max_minutes counts from the start of the run (token caching included): 1e-9 min stops it after
    its first step with a checkpoint; a resume finishes it."""
    image, depth = stages
    cfg = tiny_transformer(tmp_path, "run", image, depth, "steps=4", "max_minutes=1e-9")
    with pytest.raises(TrainingInterrupted) as info:
        train_transformer(cfg)
    assert info.value.time_budget == 1e-9 and info.value.checkpoint.name == "step_0000001"
    train_transformer(tiny_transformer(tmp_path, "run", image, depth, "steps=4"), resume=True)
    assert len(column(tmp_path / "run", "loss")) == 4


def test_init_from_continues_a_trained_model(tmp_path, stages):
    """init_from starts from the exported GPT (its stages may be named by the transformer's folder): the
    first losses of the continued run are those where the first run ended, far below a fresh start."""
    image, depth = stages
    first = train_transformer(tiny_transformer(tmp_path, "a", image, depth, f"export_dir={tmp_path / 'a_x'}"))
    src = load_pretrained(first)
    cont = train_transformer(tiny_transformer(tmp_path, "b", first, first, "steps=5", "warmup_steps=0",
                                              f"init_from={first}", f"export_dir={tmp_path / 'b_x'}"))
    fresh = column(tmp_path / "a", "loss")
    loss = column(tmp_path / "b", "loss")
    assert loss[0] < 0.75 * fresh[0] and abs(loss[0] - mean(fresh[-5:])) < 0.25 * fresh[0], (loss, fresh)
    net = load_pretrained(cont)
    assert not all(torch.equal(v, net.transformer.state_dict()[k]) for k, v in src.transformer.state_dict().items())
    with pytest.raises(ValueError, match="other tokens"):  # a run whose cond stage makes other tokens
        train_transformer(tiny_transformer(tmp_path, "c", image, image, "steps=1", "data.cond_key=image",
                                           f"init_from={first}"))
    with pytest.raises(ValueError, match="GPT config"):
        train_transformer(tiny_transformer(tmp_path, "d", image, depth, "steps=1", "model.n_layer=3",
                                           f"init_from={first}"))
    # ... unless asked to relearn them: the run starts from the source's GPT (lr 0: the export is that GPT)
    other = train_transformer(tiny_transformer(tmp_path, "e", image, image, "steps=1", "data.cond_key=image",
                                               "lr=0", "warmup_steps=0", f"init_from={first}",
                                               "init_from_other_tokens=true", f"export_dir={tmp_path / 'e_x'}"))
    got = load_pretrained(other).transformer.state_dict()
    assert all(torch.equal(v, got[k]) for k, v in src.transformer.state_dict().items())
    with pytest.raises(ValueError, match="is a VQGAN, this run's a SOSProvider"):  # never across tasks
        train_transformer(tiny_transformer(tmp_path, "f", image, None, "steps=1", "model.block_size=128",
                                           f"init_from={first}", "init_from_other_tokens=true"))


def test_cond_upsample_reaches_the_model_and_its_tokens(tmp_path, stages):
    """cond_upsample=2 (x8 super-resolution through a cond stage made for x4): the GPT is sized for the
    upsampled condition's tokens, the cached tokens are those, and the export keeps the setting."""
    image, depth = stages
    out = train_transformer(tiny_transformer(tmp_path, "up", image, depth, "steps=2", "cond_upsample=2",
                                             f"export_dir={tmp_path / 'up_x'}"))
    net = load_pretrained(out)
    assert net.config.cond_upsample == 2
    L = net.transformer.config.block_size // 5  # the condition's grid is twice as large: 4 L cond + L image
    assert net.transformer.config.block_size == 5 * L
    tokens = torch.load(tmp_path / "up" / "tokens.pt")
    assert tokens["c"].shape[1] == 4 * tokens["z"].shape[1] == 4 * L


def test_unconditional_without_token_cache(tmp_path, stages):
    image, _ = stages
    out = train_transformer(tiny_transformer(tmp_path, "u", image, None, "steps=3", "token_cache=null",
                                             f"export_dir={tmp_path / 'x'}"))
    assert load_pretrained(out).be_unconditional
    assert not (tmp_path / "u" / "tokens.pt").exists()


def test_weight_decay_on_matrices_only(stages):
    from taming_lite.gpt import GPT, GPTConfig

    gpt = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=1, n_embd=8))
    decay, no_decay = gpt.configure_optimizer(1e-3, 0.1).param_groups
    assert decay["weight_decay"] == 0.1 and all(p.dim() >= 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0


def test_warmup_cosine():
    assert warmup_cosine(0, 100, 10, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 10, 0.1) == pytest.approx(0.1)


def test_pixel_baseline_trains_and_exports(tmp_path):
    """model_type=pixel: palette fitted by k-means, the GPT over palette pixels learns (loss falls)."""
    from taming_lite.pixelgpt import PixelGPT

    cfg = load_config("transformer", TINY_TRANSFORMER, [
        f"out_dir={tmp_path / 'pix'}", f"export_dir={tmp_path / 'pix_export'}", "progress=false", "model_type=pixel",
        "first_stage=null", "cond_stage=null", "data.cond_key=null", "palette_size=16", "pixel_resolution=8",
        "steps=60", "lr=3e-3", "warmup_steps=5", "log_every=1"])
    train_transformer(cfg)
    loss = column(tmp_path / "pix", "loss")
    assert mean(loss[-10:]) < mean(loss[:10]) / 1.5
    m = load_pretrained(tmp_path / "pix_export")
    assert isinstance(m, PixelGPT) and m.palette.abs().sum() > 0
    out = m.sample(m.encode(torch.zeros(1, 3, 8, 8))[:, :4].reshape(1, -1), 32, seed=0)
    assert out.shape == (1, 64) and out.max() < 16
    # init_from: the palette comes along (another seed would fit another one), and the GPT
    cfg2 = load_config("transformer", TINY_TRANSFORMER, [
        f"out_dir={tmp_path / 'pix2'}", f"export_dir={tmp_path / 'pix2_export'}", "progress=false",
        "model_type=pixel", "first_stage=null", "cond_stage=null", "data.cond_key=null", "palette_size=16",
        "pixel_resolution=8", "steps=3", "seed=1", "log_every=1", f"init_from={tmp_path / 'pix_export'}"])
    train_transformer(cfg2)
    assert torch.equal(load_pretrained(tmp_path / "pix2_export").palette, m.palette)
    assert column(tmp_path / "pix2", "loss")[0] < mean(loss[:3]) / 1.5


@pytest.mark.parametrize("cond_key,upsample", [("depth", 1), ("labels", 1), ("depth", 2)])
def test_aligned_conditioning_trains_resumes_and_exports(tmp_path, stages, cond_key, upsample):
    """conditioning=aligned: a CondEncoder trains with the GPT (no cond VQGAN); the sequence is the image tokens
    only; the token cache keeps the conditions (one-hot maps as class ids) as the dataset gives them (resized
    once, by the model: cond_upsample as super-resolution x8 uses it); resume is bit-exact; the export loads
    and samples."""
    image, _ = stages
    common = ["conditioning=aligned", f"data.cond_key={cond_key}", "cond_drop=0.2", "guidance=2.0", "steps=8",
              "warmup_steps=3", "ema_decay=0.9", "cond_encoder.ch=32", f"cond_upsample={upsample}"]
    out = train_transformer(tiny_transformer(tmp_path, "full", image, None, *common, f"export_dir={tmp_path / 'x'}"))
    part = tiny_transformer(tmp_path, "part", image, None, *common)
    with pytest.raises(TrainingInterrupted):
        train_transformer(part, on_step=lambda step, logs, net: step == 3)
    train_transformer(part, resume=True)
    assert column(tmp_path / "full", "loss") == column(tmp_path / "part", "loss")
    cached = torch.load(tmp_path / "full" / "tokens.pt", weights_only=True)["c"]
    assert cached.dtype == (torch.uint8 if cond_key == "labels" else torch.float16)
    net = load_pretrained(out).eval()
    cfg = net.config
    assert cfg.aligned and cfg.guidable and cfg.transformer.block_size == 64
    assert cfg.cond_stage.n_labels == (4 if cond_key == "labels" else None)
    assert cfg.cond_stage.downsample == 4 * upsample and cached.shape[-1] == 32
    ema = torch.load(tmp_path / "full" / "checkpoints" / "final" / "training_state.pt", weights_only=True)["ema"]
    assert any(k.startswith("cond_stage_model.") for k in ema)  # the encoder is averaged (and exported) too
    feat = net.encode_to_c(torch.zeros(1, cfg.cond_stage.in_channels, 32, 32))[0]
    assert net.sample(torch.zeros((1, 0), dtype=torch.long), feat, 64, sample=True, seed=0, guidance=2.0).shape == (1, 64)
    with pytest.raises(ValueError, match="leave cond_stage unset"):
        train_transformer(tiny_transformer(tmp_path, "bad", image, stages[1], "conditioning=aligned"))


def test_aligned_run_starts_from_a_prefix_model(tmp_path, stages):
    """init_from a prefix model into an aligned run: its GPT weights and the image positions' pos_emb (prefix
    position Lc - 1 + i predicted token i), the cond encoder's output at zero; the first losses far below a
    fresh aligned start's."""
    image, depth = stages
    src_dir = train_transformer(tiny_transformer(tmp_path, "a", image, depth, f"export_dir={tmp_path / 'a_x'}"))
    src = load_pretrained(src_dir)
    aligned = ["conditioning=aligned", "data.cond_key=depth", "steps=5", "warmup_steps=1"]
    cfg = tiny_transformer(tmp_path, "warm", image, None, *aligned, f"init_from={src_dir}")
    from taming_lite.train.data import build_dataset
    from taming_lite.train.transformer_trainer import build_model

    net = build_model(cfg, build_dataset(cfg.data))
    got, want = net.transformer.state_dict(), src.transformer.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want if k != "pos_emb")
    assert torch.equal(got["pos_emb"], want["pos_emb"][:, 63:127])  # Lc = 64 condition tokens
    assert not net.cond_stage_model.conv_out.weight.any()
    train_transformer(cfg)
    train_transformer(tiny_transformer(tmp_path, "fresh", image, None, *aligned))
    assert column(tmp_path / "warm", "loss")[0] < 0.8 * column(tmp_path / "fresh", "loss")[0]
