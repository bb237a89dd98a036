"""Our format round trip; original format conversion; bad and hostile files refused with clear messages."""

import pickle
import shutil

import pytest
import torch

from taming_lite import CheckpointError, load_original, load_pretrained, save_pretrained
from taming_lite.gpt import GPTConfig
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
from taming_lite.vqgan import VQGAN, VQGANConfig

TINY = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(8,), z_channels=8, resolution=16,
            embed_dim=4, n_embed=16)


def tiny_net2net(cond=True):
    torch.manual_seed(0)
    cond_cfg = VQGANConfig(**{**TINY, "in_channels": 1, "out_ch": 1}) if cond else None
    cfg = Net2NetConfig(first_stage=VQGANConfig(**TINY), cond_stage=cond_cfg,
                        transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32))
    return Net2NetTransformer(cfg).eval()


@pytest.mark.parametrize("cond", [True, False])
def test_round_trip_net2net(tmp_path, cond):
    m = tiny_net2net(cond)
    save_pretrained(m, tmp_path / "m", extra={"task": "depth"})
    m2 = load_pretrained(tmp_path / "m")
    assert type(m2) is Net2NetTransformer and not m2.training
    assert m2.config == m.config
    for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    c = torch.rand(1, 1, 16, 16) * 2 - 1
    assert torch.equal(m(x, c)[0], m2(x, c)[0])


def test_round_trip_segmentation_vqgan(tmp_path):
    m = VQGAN(VQGANConfig(**{**TINY, "in_channels": 5, "out_ch": 5, "n_labels": 5})).eval()
    save_pretrained(m, tmp_path)
    m2 = load_pretrained(tmp_path)
    assert torch.equal(m.colorize, m2.colorize)


def test_original_to_ours_round_trip(reference_dir, tmp_path):
    m = load_original(reference_dir / "net2net.yaml", reference_dir / "net2net.ckpt")
    save_pretrained(m, tmp_path)
    m2 = load_pretrained(tmp_path)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    c = torch.rand(1, 1, 32, 32) * 2 - 1
    assert torch.equal(m(x, c)[0], m2(x, c)[0])


def saved(tmp_path):
    m = VQGAN(VQGANConfig(**TINY))
    return save_pretrained(m, tmp_path / "ok")


def test_truncated_safetensors_refused(tmp_path):
    d = saved(tmp_path)
    f = d / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="model.safetensors.*truncated or corrupt"):
        load_pretrained(d)


def test_zero_byte_and_missing_files_refused(tmp_path):
    d = saved(tmp_path)
    (d / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        load_pretrained(d)
    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(tmp_path / "nothing")


def test_wrong_shape_refused(tmp_path):
    d = saved(tmp_path)
    other = VQGAN(VQGANConfig(**{**TINY, "n_embed": 32}))
    shutil.copy(save_pretrained(other, tmp_path / "other") / "model.safetensors", d / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"quantize.embedding.weight has shape \(32, 4\)"):
        load_pretrained(d)


def test_wrong_dtype_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    d = saved(tmp_path)
    state = load_file(str(d / "model.safetensors"))
    state["quant_conv.weight"] = state["quant_conv.weight"].to(torch.int32)
    save_file(state, str(d / "model.safetensors"))
    with pytest.raises(CheckpointError, match="quant_conv.weight has dtype torch.int32"):
        load_pretrained(d)


def test_bad_config_refused(tmp_path):
    d = saved(tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_pretrained(d)
    (d / "config.json").write_text('{"model_type": "diffusion", "config": {}}')
    with pytest.raises(CheckpointError, match="unknown model_type"):
        load_pretrained(d)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))  # would create a file when unpickled


def test_code_executing_pickle_refused(reference_dir, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Evil(str(marker))}, ckpt, pickle_protocol=2)
    with pytest.raises(CheckpointError, match="refused"):
        load_original(reference_dir / "vqgan.yaml", ckpt)
    assert not marker.exists()
    raw = tmp_path / "raw.ckpt"  # a plain pickle, not a torch zip file
    raw.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(CheckpointError):
        load_original(reference_dir / "vqgan.yaml", raw)
    assert not marker.exists()


def test_truncated_and_corrupt_ckpt_refused(reference_dir, tmp_path):
    data = (reference_dir / "vqgan.ckpt").read_bytes()
    (tmp_path / "t.ckpt").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="t.ckpt.*truncated or corrupt"):
        load_original(reference_dir / "vqgan.yaml", tmp_path / "t.ckpt")
    (tmp_path / "e.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_original(reference_dir / "vqgan.yaml", tmp_path / "e.ckpt")
    (tmp_path / "n.ckpt").write_text("hello, not a checkpoint")
    with pytest.raises(CheckpointError, match="n.ckpt"):
        load_original(reference_dir / "vqgan.yaml", tmp_path / "n.ckpt")


def test_unknown_target_refused(reference_dir, tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text((reference_dir / "vqgan.yaml").read_text().replace("taming.models.vqgan.VQModel", "os.system"))
    with pytest.raises(CheckpointError, match="unknown target 'os.system'"):
        load_original(y, reference_dir / "vqgan.ckpt")


def test_yaml_python_tags_not_executed(reference_dir, tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("model: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(CheckpointError, match="not valid YAML"):
        load_original(y, reference_dir / "vqgan.ckpt")


def test_mismatched_config_and_checkpoint_refused(reference_dir):
    with pytest.raises(CheckpointError, match="missing keys|unexpected keys"):
        load_original(reference_dir / "net2net.yaml", reference_dir / "vqgan.ckpt")
    with pytest.raises(CheckpointError, match="shape"):
        load_original(reference_dir / "vqgan.yaml", reference_dir / "segvqgan.ckpt")


def test_loss_keys_are_ignored(reference_dir, tmp_path):
    ck = torch.load(reference_dir / "vqgan.ckpt", weights_only=True)
    ck["state_dict"]["loss.discriminator.main.0.weight"] = torch.zeros(3)
    torch.save(ck, tmp_path / "withloss.ckpt")
    load_original(reference_dir / "vqgan.yaml", tmp_path / "withloss.ckpt")


def test_half_precision_storage(tmp_path):
    m = tiny_net2net()
    save_pretrained(m, tmp_path / "full")
    save_pretrained(m, tmp_path / "half", dtype=torch.float16)
    size = lambda d: (d / "model.safetensors").stat().st_size
    assert size(tmp_path / "half") < 0.6 * size(tmp_path / "full")
    m2 = load_pretrained(tmp_path / "half")
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert b.dtype == a.dtype, k
        assert torch.equal(b, a.half().to(a.dtype) if a.is_floating_point() else a), k


def test_load_stage_takes_a_vqgan_from_its_folder_or_a_transformer(tmp_path):
    from taming_lite.checkpoints import load_stage
    from taming_lite.pixelgpt import PixelGPT, PixelGPTConfig

    torch.manual_seed(0)
    cond, uncond = tiny_net2net(cond=True), tiny_net2net(cond=False)
    save_pretrained(cond, tmp_path / "cond")
    save_pretrained(uncond, tmp_path / "uncond")
    save_pretrained(cond.first_stage_model, tmp_path / "vq")
    with torch.no_grad():
        for path, what, want in ((tmp_path / "vq", "first_stage", cond.first_stage_model),
                                 (tmp_path / "cond", "first_stage", cond.first_stage_model),
                                 (tmp_path / "cond", "cond_stage", cond.cond_stage_model)):
            got = load_stage(path, what).eval()
            x = torch.rand(1, want.config.in_channels, 16, 16) * 2 - 1
            assert isinstance(got, VQGAN) and torch.equal(got(x)[0], want.eval()(x)[0]), (path, what)
    with pytest.raises(ValueError, match="unconditional transformer"):
        load_stage(tmp_path / "uncond", "cond_stage")
    gpt = GPTConfig(vocab_size=9, block_size=16, n_layer=1, n_head=1, n_embd=16)
    save_pretrained(PixelGPT(PixelGPTConfig(transformer=gpt, resolution=4, palette_size=8)), tmp_path / "pixel")
    with pytest.raises(ValueError, match="holds a PixelGPT, not a VQGAN"):
        load_stage(tmp_path / "pixel")
