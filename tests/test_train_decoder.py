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
from taming_lite.train.decoder_trainer import disc_features, feature_matching, grow_levels
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


def _cfg(tmp_path, name, *overrides):
    return load_config("decoder", CONFIG, [f"vqgan={tmp_path / 'vq'}", f"out_dir={tmp_path / name}", "export_dir=null",
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
