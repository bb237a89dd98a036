"""Decoder-only training (`python -m taming_lite.train decoder`): a decoder grown by an upsampling level
starts as the old one upsampled, keeps the tokens and the original key names, trains, resumes exactly,
and honours the time budget."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from taming_lite.checkpoints import load_pretrained, save_pretrained
from taming_lite.train import TrainingInterrupted, load_config, train_decoder
from taming_lite.train.decoder_trainer import (DISC_FILTERS, blur121, disc_features, feature_matching, grow_levels,
                                               nyquist_notch)
from taming_lite.train.losses import NLayerDiscriminator
from taming_lite.vqgan import VQGAN, VQGANConfig

from _train_helpers import REPO, column

TINY = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=16,
            embed_dim=4, n_embed=16)
CONFIG = REPO / "configs" / "preview" / "decoder128.yaml"


def images(n=3, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_extra_levels_change_only_the_output_size_and_add_new_keys():
    plain = VQGANConfig(**TINY)
    grown = VQGANConfig(**TINY, decoder_extra_levels=2)
    assert (plain.downsample_factor, plain.upsample_factor) == (2, 2)
    assert (grown.downsample_factor, grown.upsample_factor) == (2, 8)
    a, b = VQGAN(plain).state_dict(), VQGAN(grown).state_dict()
    assert set(a) < set(b)  # every original key is still there, with its shape
    assert all(a[k].shape == b[k].shape for k in a)
    assert all(k.startswith(("decoder.extra.", "decoder.extra_")) for k in set(b) - set(a))
    out = VQGAN(grown).eval()(images())[0]
    assert out.shape == (3, 3, 64, 64)
    with pytest.raises(ValueError, match="decoder_extra_levels"):
        VQGANConfig(**TINY, decoder_extra_levels=-1)


def test_grown_decoder_starts_as_the_old_output_upsampled_and_keeps_tokens(tmp_path):
    torch.manual_seed(0)
    vq = VQGAN(VQGANConfig(**TINY)).eval()
    grown = grow_levels(vq, 1).eval()
    x = images()
    with torch.no_grad():
        (a, _, ia), (b, _, ib) = vq(x), grown(x)
    assert torch.equal(ia, ib)
    assert b.shape[-1] == 32
    assert torch.allclose(b, F.interpolate(a, size=32, mode="bilinear", align_corners=False), atol=1e-6)
    assert grown.last_layer() is grown.decoder.extra_conv_out.weight
    save_pretrained(grown, tmp_path / "g")
    again = load_pretrained(tmp_path / "g")
    assert again.config.upsample_factor == 4
    with torch.no_grad():
        assert torch.allclose(again(x)[0], b, atol=1e-6)
    assert grow_levels(again, 1).config == again.config  # already grown: a copy
    with pytest.raises(ValueError, match="already has 1 extra"):
        grow_levels(again, 2)


def test_extra_upsample_mode_is_validated_and_can_change_without_new_weights(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="decoder_extra_upsample"):
        VQGANConfig(**TINY, decoder_extra_levels=1, decoder_extra_upsample="bicubic")
    near = grow_levels(VQGAN(VQGANConfig(**TINY)), 1, extra_upsample="nearest").eval()
    assert near.config.decoder_extra_upsample == "nearest"
    assert near.decoder.up[1].upsample.mode == "nearest"  # the original levels keep nearest whatever the setting
    for name, p in near.decoder.named_parameters():  # away from the identity start, where the modes agree
        if name.startswith("extra"):
            p.data.add_(0.05 * torch.randn_like(p))
    save_pretrained(near, tmp_path / "n")
    assert load_pretrained(tmp_path / "n").config.decoder_extra_upsample == "nearest"  # the mode round-trips
    bil = grow_levels(near, 1, extra_upsample="bilinear").eval()  # same weights, other mode
    assert bil.config.decoder_extra_upsample == "bilinear"
    assert all(torch.equal(a, b) for a, b in zip(near.state_dict().values(), bil.state_dict().values()))
    x = images()
    with torch.no_grad():
        a, b = near(x)[0], bil(x)[0]
    assert a.shape == b.shape and not torch.allclose(a, b, atol=1e-3)


def test_discriminator_blur_removes_the_pixel_grid_frequency_and_keeps_the_rest():
    rows = torch.arange(16.0).remainder(2).mul(2).sub(1)  # +-1 alternating rows: 1/2 cycle per pixel
    stripes = rows[:, None].expand(16, 16).expand(2, 3, 16, 16)
    assert blur121(stripes)[..., 1:-1, :].abs().max() < 1e-6  # gone (away from the reflected border)
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(blur121(flat), flat)
    slow = torch.cos(torch.arange(32.0) * 2 * torch.pi / 8)[:, None].expand(32, 32)[None, None]  # period 8
    gain = blur121(slow)[..., 4:-4, :].abs().max() / slow[..., 4:-4, :].abs().max()
    assert 0.8 < gain < 0.9  # cos^2(pi / 8) = 0.854


def test_nyquist_notch_removes_exactly_the_row_and_column_alternation():
    torch.manual_seed(0)
    sign = torch.arange(16.0).remainder(2).mul(2).sub(1)
    x = torch.randn(2, 3, 16, 16)
    stripes = 0.7 * sign[:, None] + 0.4 * sign[None, :]  # rows and columns alternating: the pattern to hide
    removed = x - nyquist_notch(x)  # what the notch takes from noise: only the Nyquist lines
    assert torch.allclose(nyquist_notch(x + stripes), nyquist_notch(x), atol=1e-5)
    assert nyquist_notch(stripes.expand(1, 1, 16, 16)).abs().max() < 1e-5
    assert removed.pow(2).mean() < 0.2 * x.pow(2).mean()  # 2 lines of 16 x 16 frequencies: ~12% of white noise
    wave = torch.cos(torch.arange(16.0) * 2 * torch.pi * 7 / 16)[:, None].expand(16, 16)[None, None]
    assert torch.allclose(nyquist_notch(wave), wave, atol=1e-5)  # 7/16 cycle per pixel, next to Nyquist: kept
    assert sorted(DISC_FILTERS) == ["blur", "none", "notch"]


def test_feature_matching_is_zero_for_equal_inputs_and_grows_with_the_difference():
    torch.manual_seed(0)
    disc = NLayerDiscriminator(3, 8, 2).eval()
    x = images(2, 32)
    fx, logits = disc_features(disc, x)
    assert len(fx) == 3 and torch.equal(logits, disc(x))
    assert feature_matching(fx, fx).item() == 0
    near, far = (disc_features(disc, x + e * torch.randn_like(x))[0] for e in (0.01, 0.5))
    assert 0 < feature_matching(near, fx) < feature_matching(far, fx)


def _tiny_source(tmp_path):
    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "vq", extra={"task": "image", "image_size": 16},
                    dtype=torch.float16)
    return tmp_path / "vq"


def _cfg(tmp_path, name, *overrides, config=CONFIG):
    return load_config("decoder", config, [f"vqgan={tmp_path / 'vq'}", f"out_dir={tmp_path / name}", "export_dir=null",
                                           f"data.root={tmp_path / 'pairs.npz'}", "data.size=32", "data.num_samples=8",
                                           "batch_size=4", "threads=0", "progress=false", "log_every=1",
                                           "sample_every=0", "ckpt_every=0", "loss.disc_start=2",
                                           "loss.disc_warmup=1", "loss.disc_ndf=8", "loss.disc_num_layers=2",
                                           *overrides])


def test_trains_with_gan_terms_keeps_the_encoder_and_resumes_exactly(tmp_path):
    src = _tiny_source(tmp_path)
    final = train_decoder(_cfg(tmp_path, "full", "steps=6"))
    assert (tmp_path / "pairs.npz").is_file()  # rendered once, read by the next runs
    assert (tmp_path / "full" / "tokens.pt").is_file()  # encoded once per run directory (a resume reads them)
    g, d = column(tmp_path / "full", "g"), column(tmp_path / "full", "d")
    assert g[:3] == [None] * 3 and all(v is not None for v in g[3:])  # generator GAN terms from step 2 + 1
    assert d[:2] == [None] * 2 and all(v is not None for v in d[2:])  # discriminator from step 2
    assert all(v is not None for v in column(tmp_path / "full", "fm")[3:])
    model, old = load_pretrained(final), load_pretrained(src)
    assert model.config.upsample_factor == 4
    a, b = model.state_dict(), old.state_dict()
    frozen = [k for k in b if k.startswith(("encoder.", "quant_conv.", "quantize."))]
    assert all(torch.equal(a[k].half(), b[k]) for k in frozen)
    assert not torch.equal(a["decoder.conv_in.weight"].half(), b["decoder.conv_in.weight"])  # the decoder trained

    with pytest.raises(TrainingInterrupted) as info:  # budget spent before the first step ends
        train_decoder(_cfg(tmp_path, "part", "steps=6", "max_minutes=1e-9"))
    assert info.value.time_budget == 1e-9
    train_decoder(_cfg(tmp_path, "part", "steps=3"))  # a fresh run to step 3 (final checkpoint there) ...
    train_decoder(_cfg(tmp_path, "part", "steps=6"), resume=True)  # ... continued to 6
    assert column(tmp_path / "full", "loss") == column(tmp_path / "part", "loss")
    a = load_pretrained(tmp_path / "full" / "checkpoints" / "final").state_dict()
    b = load_pretrained(tmp_path / "part" / "checkpoints" / "final").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_second_stage_goes_on_from_the_first_with_bilinear_levels_and_a_blurred_discriminator(tmp_path):
    _tiny_source(tmp_path)
    first = train_decoder(_cfg(tmp_path, "one", "steps=3", f"export_dir={tmp_path / 'one' / 'export'}"))
    assert load_pretrained(first).config.decoder_extra_upsample == "nearest"  # stage 1 as the candidate ran
    cfg = _cfg(tmp_path, "two", "steps=5", f"vqgan={first}", f"export_dir={tmp_path / 'two' / 'export'}",
               config=CONFIG.with_name("decoder128_gan.yaml"))
    assert cfg.loss.disc_filter == "notch" and cfg.extra_upsample == "bilinear"
    second = load_pretrained(train_decoder(cfg))
    assert second.config.decoder_extra_upsample == "bilinear"
    a, b = second.state_dict(), load_pretrained(first).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b if k.startswith(("encoder.", "quantize.")))
    assert not torch.equal(a["decoder.extra_conv_out.weight"], b["decoder.extra_conv_out.weight"])
    fm = column(tmp_path / "two", "fm")
    assert len(fm) == 5 and fm[:3] == [None] * 3 and None not in fm[3:]  # GAN terms (seen notched) from step 4
    with pytest.raises(ValueError, match="disc_filter"):
        train_decoder(_cfg(tmp_path, "bad", "steps=1", "loss.disc_filter=median"))


def test_lowres_loss_compares_output_and_target_at_the_input_size(tmp_path):
    _tiny_source(tmp_path)
    cfg = _cfg(tmp_path, "lo", "steps=2", "loss.lowres_weight=1.0", "loss.colour_weight=2.0", "loss.colour_size=4",
               "loss.disc_start=1000000000", config=CONFIG.with_name("decoder128_lowres.yaml"))
    assert cfg.loss.lowres_weight == 1.0 and cfg.loss.colour_size == 4 and cfg.extra_upsample == "bilinear"
    train_decoder(cfg)
    lo, l1 = column(tmp_path / "lo", "l1_lowres"), column(tmp_path / "lo", "l1")
    assert len(lo) == 2 and all(0 < a < b * 1.5 for a, b in zip(lo, l1))  # the downsampled error: smaller, not 0
    colour = column(tmp_path / "lo", "l1_colour")  # area means of area means: |mean d| <= mean |d|
    assert len(colour) == 2 and all(0 < c <= a + 1e-6 for c, a in zip(colour, lo))
    assert column(tmp_path / "lo", "d") == [None, None]  # no discriminator in this stage


def test_train_encoder_trains_the_encoder_and_codebook_too(tmp_path):
    """train_encoder=true: the small render goes through the encoder and codebook being trained (the codebook
    loss is logged), so the export makes other tokens than its source."""
    src = _tiny_source(tmp_path)
    final = train_decoder(_cfg(tmp_path, "enc", "steps=3", "train_encoder=true", "lr=1e-2", "loss.disc_start=1000000000"))
    codebook = column(tmp_path / "enc", "codebook")
    assert len(codebook) == 3 and all(v is not None and v >= 0 for v in codebook)
    model, old = load_pretrained(final), load_pretrained(src)
    a, b = model.state_dict(), old.state_dict()
    for k in ("encoder.conv_in.weight", "quant_conv.weight", "quantize.embedding.weight", "decoder.conv_in.weight"):
        assert not torch.equal(a[k].half(), b[k]), k
    from taming_lite.checkpoints import read_config
    assert "new tokens" in read_config(final)["extra"]["decoder"]  # the model card's record says so


def test_output_size_must_match_the_grown_decoder(tmp_path):
    _tiny_source(tmp_path)
    with pytest.raises(ValueError, match="data.size must be the decoder's output size 32"):
        train_decoder(_cfg(tmp_path, "bad", "steps=1", "data.size=64"))


def test_cli_time_budget_exit_status(tmp_path):
    _tiny_source(tmp_path)
    args = [f"vqgan={tmp_path / 'vq'}", f"out_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'pairs.npz'}",
            "data.size=32", "data.num_samples=8", "batch_size=4", "threads=1", "steps=50", "max_minutes=1e-9",
            "loss.disc_ndf=8", "loss.disc_num_layers=2"]
    r = subprocess.run([sys.executable, "-m", "taming_lite.train", "decoder", "--config", str(CONFIG), *args],
                       cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 75, r.stderr[-2000:]
    assert "time budget" in r.stderr and "--resume" in r.stderr


def test_supersampled_targets_are_the_larger_render_area_downsampled_and_the_cache_says_so(tmp_path):
    import numpy as np

    from taming_lite.data.datasets import ProceduralDataset
    from taming_lite.train.decoder_trainer import render_pairs

    cfg = _cfg(tmp_path, "ss", "supersample=2", "data.num_samples=2")
    pairs = render_pairs(cfg, 16, tmp_path / "pairs.npz", show=False)
    big = ProceduralDataset(cfg.data.dataset, size=64, seed=cfg.data.seed, **cfg.data.options).arrays(1)["image"]
    want = big.reshape(32, 2, 32, 2, 3).mean((1, 3))
    assert pairs["large"].shape == (2, 32, 32, 3) and np.abs(pairs["large"][1] - want).max() <= 0.5
    plain = ProceduralDataset(cfg.data.dataset, size=32, seed=cfg.data.seed, **cfg.data.options).arrays(1)["image"]
    assert not np.array_equal(pairs["large"][1], plain)  # not the aliased render
    with pytest.raises(ValueError, match="supersampled 2x"):  # a cache of other targets is not reused silently
        render_pairs(_cfg(tmp_path, "ss1", "data.num_samples=2"), 16, tmp_path / "pairs.npz", show=False)
    with pytest.raises(ValueError, match="supersample must be at least 1"):  # checked with the other settings
        train_decoder(_cfg(tmp_path, "ss0", "supersample=0", "steps=1"))
