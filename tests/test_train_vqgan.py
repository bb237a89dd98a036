"""VQGAN trainer: overfitting, resume equivalence, dead codes, the segmentation variant, losses."""

import pytest
import torch

from taming_lite.checkpoints import load_pretrained
from taming_lite.train import TrainingInterrupted, train_vqgan
from taming_lite.train.losses import NLayerDiscriminator, adaptive_weight, hinge_d_loss, make_perceptual
from taming_lite.train.vqgan_trainer import codebook_stats, reinit_dead_codes
from taming_lite.vqgan import VQGAN, VQGANConfig

from _train_helpers import column, mean, tiny_vqgan


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # on a shared 2-core machine, 2 threads can be 10x slower than 1


def test_tiny_vqgan_overfits(tmp_path):
    """4 samples, 80 steps, GAN off: the loss of the last 10 steps is at least 2x below the first 10."""
    cfg = tiny_vqgan(tmp_path, "run", "steps=80", "data.num_samples=4", "loss.disc_start=1000",
                     f"export_dir={tmp_path / 'export'}")
    out = train_vqgan(cfg)
    loss = column(tmp_path / "run", "loss")
    assert len(loss) == 80
    assert mean(loss[:10]) / mean(loss[-10:]) > 2.0, (mean(loss[:10]), mean(loss[-10:]))
    model = load_pretrained(out)
    assert isinstance(model, VQGAN)
    import json

    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["task"] == "tiny" and extra["image_size"] == 32
    assert (tmp_path / "run" / "checkpoints" / "final" / "training_state.pt").is_file()
    assert list((tmp_path / "run" / "samples").glob("*.png"))


def test_resume_is_bit_exact(tmp_path):
    """Interrupted at step 5 and resumed == uninterrupted: same losses (incl. GAN, after disc_start=3), same weights."""
    common = ["steps=9", "loss.disc_start=3", "dead_code_every=4"]
    full = tiny_vqgan(tmp_path, "full", *common)
    train_vqgan(full)

    part = tiny_vqgan(tmp_path, "part", *common)
    with pytest.raises(TrainingInterrupted):
        train_vqgan(part, on_step=lambda step, logs, model: step == 5)
    assert (tmp_path / "part" / "checkpoints" / "step_0000005").is_dir()
    train_vqgan(part, resume=True)

    for name in ("loss", "rec", "q", "perplexity"):
        assert column(tmp_path / "full", name) == column(tmp_path / "part", name), name
    assert column(tmp_path / "full", "d")[-3:] == column(tmp_path / "part", "d")[-3:]
    a = load_pretrained(tmp_path / "full" / "checkpoints" / "final").state_dict()
    b = load_pretrained(tmp_path / "part" / "checkpoints" / "final").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dead_codes_are_reinitialised_from_encoder_outputs():
    torch.manual_seed(0)
    model = VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=32,
                              embed_dim=8, n_embed=16, resolution=16))
    x = torch.randn(2, 3, 16, 16)
    counts = torch.zeros(16, dtype=torch.long)
    counts[:4] = 5  # codes 4..15 unused
    opt = torch.optim.Adam(model.parameters())
    dec, qloss, _ = model(x)
    (dec.mean() + qloss).backward()
    opt.step()
    before = model.quantize.embedding.weight.detach().clone()
    n = reinit_dead_codes(model, x, counts, 0, torch.Generator().manual_seed(0), opt)
    assert n == 12
    w = model.quantize.embedding.weight.detach()
    assert torch.equal(w[:4], before[:4])  # live codes untouched
    with torch.no_grad():
        z = model.quant_conv(model.encoder(x)).permute(0, 2, 3, 1).reshape(-1, 8)
    for row in w[4:]:  # every new entry is one of the encoder's output vectors
        assert (z - row).abs().amax(1).min() < 1e-6
    assert not torch.equal(w[4:], before[4:])
    assert opt.state[model.quantize.embedding.weight]["exp_avg"][4:].abs().sum() == 0
    # now the re-initialised codes are used
    assert codebook_stats(torch.bincount(model.encode(x)[2].flatten(), minlength=16))[0] > 4 / 16


def test_codebook_stats():
    usage, ppl = codebook_stats(torch.tensor([5, 5, 0, 0]))
    assert usage == 0.5 and abs(ppl - 2.0) < 1e-5


def test_segmentation_vqgan_trains_with_bce(tmp_path):
    cfg = tiny_vqgan(tmp_path, "seg", "steps=4", "data.image_key=labels", "model.n_labels=4")
    out = train_vqgan(cfg)
    assert column(tmp_path / "seg", "bce")[0] > 0
    assert load_pretrained(out).is_segmentation


def test_adaptive_weight_is_the_gradient_norm_ratio():
    w = torch.randn(3, 3, requires_grad=True)
    nll, g = (w * 2).sum(), (w * 0.5).sum()
    d = adaptive_weight(nll, g, w, disc_weight=1.0)
    assert abs(float(d) - 4.0) < 1e-2  # ||2|| / ||0.5||, up to the 1e-4 in the denominator


def test_discriminator_and_hinge():
    D = NLayerDiscriminator(3, 16, 2)
    out = D(torch.randn(2, 3, 32, 32))
    assert out.shape[:2] == (2, 1)
    assert float(hinge_d_loss(torch.full((2,), 2.0), torch.full((2,), -2.0))) == 0.0
    assert float(hinge_d_loss(torch.zeros(2), torch.zeros(2))) == 1.0


def test_perceptual_off_without_local_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TAMING_LITE_LPIPS", str(tmp_path / "none"))
    torch.hub.set_dir(str(tmp_path / "torch" / "hub"))
    import taming_lite.train.losses as losses

    losses._say_no_lpips.cache_clear()
    assert make_perceptual("auto") is None
    assert "perceptual loss off" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        make_perceptual("on")
    assert make_perceptual("off") is None


def test_time_budget_stops_with_a_checkpoint_and_resumes_exactly(tmp_path):
    """max_minutes: past the budget the run saves and stops like Ctrl-C, saying why; resuming (with or
    without a budget) gives the uninterrupted run's losses and weights."""
    common = ["steps=6", "loss.disc_start=1000"]
    train_vqgan(tiny_vqgan(tmp_path, "full", *common))
    part = tiny_vqgan(tmp_path, "part", *common, "max_minutes=1e-9")  # spent before the first step ends
    with pytest.raises(TrainingInterrupted) as info:
        train_vqgan(part)
    assert info.value.time_budget == 1e-9 and "time budget of 1e-09 min reached" in str(info.value)
    assert info.value.checkpoint == tmp_path / "part" / "checkpoints" / "step_0000001"
    assert (tmp_path / "part" / "checkpoints" / "latest.txt").read_text().strip() == "step_0000001"
    train_vqgan(tiny_vqgan(tmp_path, "part", *common, "max_minutes=60"), resume=True)  # ample: runs to the end
    assert column(tmp_path / "full", "loss") == column(tmp_path / "part", "loss")
    a = load_pretrained(tmp_path / "full" / "checkpoints" / "final").state_dict()
    b = load_pretrained(tmp_path / "part" / "checkpoints" / "final").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_negative_time_budget_is_refused(tmp_path):
    with pytest.raises(ValueError, match="max_minutes must be >= 0"):
        train_vqgan(tiny_vqgan(tmp_path, "run", "steps=2", "max_minutes=-1"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_stop_at_ends_the_piece_with_a_checkpoint_and_resumes_exactly(tmp_path):
    """stop_at: the run saves at that step and returns the checkpoint (no interruption, no export); a resume
    at that step with the same stop_at ends at once, one past it is refused; resuming without it gives the
    uninterrupted run; stop_at must be before steps."""
    common = ["steps=6", "loss.disc_start=1000"]
    train_vqgan(tiny_vqgan(tmp_path, "full", *common))
    part = tiny_vqgan(tmp_path, "part", *common, "stop_at=3", f"export_dir={tmp_path / 'export'}")
    stopped = tmp_path / "part" / "checkpoints" / "step_0000003"
    assert train_vqgan(part) == stopped and (stopped / "training_state.pt").is_file()
    assert not (tmp_path / "export").exists() and not (tmp_path / "part" / "checkpoints" / "final").exists()
    assert train_vqgan(part, resume=True) == stopped  # at stop_at already: nothing to train
    with pytest.raises(ValueError, match="past stop_at=2"):
        train_vqgan(tiny_vqgan(tmp_path, "part", *common, "stop_at=2"), resume=True)
    train_vqgan(tiny_vqgan(tmp_path, "part", *common), resume=True)
    assert column(tmp_path / "full", "loss") == column(tmp_path / "part", "loss")
    a = load_pretrained(tmp_path / "full" / "checkpoints" / "final").state_dict()
    b = load_pretrained(tmp_path / "part" / "checkpoints" / "final").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for bad in ("stop_at=6", "stop_at=-1"):
        with pytest.raises(ValueError, match="stop_at must be 0"):
            train_vqgan(tiny_vqgan(tmp_path, "bad", *common, bad))


def test_init_from_starts_from_a_trained_vqgan_and_refuses_another_config(tmp_path):
    from taming_lite.train.vqgan_trainer import build_vqgan

    src = train_vqgan(tiny_vqgan(tmp_path, "a", "steps=2"))
    first = load_pretrained(src)
    cfg = tiny_vqgan(tmp_path, "b", "steps=2", f"init_from={src}")
    channels = first.config.in_channels
    model = build_vqgan(cfg, channels)
    assert all(torch.equal(v, first.state_dict()[k].float()) for k, v in model.state_dict().items())
    other = tiny_vqgan(tmp_path, "c", "steps=2", f"init_from={src}", "model.n_embed=8")
    with pytest.raises(ValueError, match="differs from this run's"):
        build_vqgan(other, channels)
