"""scripts/finetune_decoder.py: decoder-only fine-tuning keeps every token, and a grown decoder starts
as the old one and travels into the transformers that use the VQGAN."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from taming_lite.checkpoints import load_pretrained, read_config, save_pretrained
from taming_lite.gpt import GPTConfig
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
from taming_lite.vqgan import VQGAN, VQGANConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import finetune_decoder  # noqa: E402

TINY = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(8,), z_channels=8, resolution=16,
            embed_dim=4, n_embed=16)


def images(n=4, seed=0):
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_config_default_is_the_original_decoder_and_counts_are_checked():
    plain = VQGAN(VQGANConfig(**TINY)).state_dict().keys()
    same = VQGAN(VQGANConfig(**TINY, decoder_num_res_blocks=[1, 1])).state_dict().keys()
    assert plain == same
    grown = VQGAN(VQGANConfig(**TINY, decoder_num_res_blocks=(3, 1))).state_dict().keys()
    assert sorted(set(grown) - set(plain))[0].startswith("decoder.up.0.block.2.")
    assert not any(k.startswith("decoder.up.1.block.2.") for k in grown)
    for bad in [(1,), (1, 1, 1), (-1, 1)]:
        with pytest.raises(ValueError, match="decoder_num_res_blocks"):
            VQGANConfig(**TINY, decoder_num_res_blocks=bad)


def test_grown_decoder_starts_as_the_old_one_and_round_trips(tmp_path):
    torch.manual_seed(0)
    vq = VQGAN(VQGANConfig(**TINY)).eval()
    grown = finetune_decoder.grow_decoder(vq, (3, 2)).eval()
    x = images()
    with torch.no_grad():
        (a, _, ia), (b, _, ib) = vq(x), grown(x)
    assert torch.equal(ia, ib) and torch.allclose(a, b, atol=1e-6)
    assert len(grown.decoder.up[0].block) == 4 and len(grown.decoder.up[1].attn) == 3
    save_pretrained(grown, tmp_path / "g")
    again = load_pretrained(tmp_path / "g")
    assert again.config.decoder_num_res_blocks == (3, 2)
    with torch.no_grad():
        assert torch.allclose(again(x)[0], b, atol=1e-6)
    with pytest.raises(ValueError, match=r"each >= the current \[1, 1\]"):
        finetune_decoder.grow_decoder(vq, (0, 2))


def test_script_grows_trains_and_puts_the_decoder_into_a_transformer(tmp_path, monkeypatch):
    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "vq", dtype=torch.float16)  # as the shipped weights
    vq = load_pretrained(tmp_path / "vq")
    net = Net2NetTransformer(Net2NetConfig(first_stage=VQGANConfig(**TINY), cond_stage=None,
                                           transformer=GPTConfig(vocab_size=16, block_size=17, n_layer=1, n_head=2,
                                                                 n_embd=32)))
    net.first_stage_model.load_state_dict(vq.state_dict())
    save_pretrained(net, tmp_path / "net", extra={"task": "completion"}, dtype=torch.float16)
    data = (np.random.default_rng(0).random((8, 16, 16, 3)) * 255).astype(np.uint8)
    np.savez(tmp_path / "img.npz", image=data)
    argv = ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--data", str(tmp_path / "img.npz"),
            "--steps", "2", "--batch", "2", "--grow-decoder", "2", "1", "--into", str(tmp_path / "net")]
    monkeypatch.setattr(sys, "argv", argv)
    finetune_decoder.main()
    new_vq, new_net = load_pretrained(tmp_path / "vq"), load_pretrained(tmp_path / "net")
    assert read_config(tmp_path / "vq")["extra"]["decoder_finetuned_steps"] == 2
    assert new_net.config.first_stage.decoder_num_res_blocks == (2, 1)
    x = images(seed=1)
    with torch.no_grad():
        assert torch.equal(new_vq.encode_to_indices(x), vq.encode_to_indices(x))  # tokens unchanged
        assert torch.equal(new_net.first_stage_model(x)[0], new_vq(x)[0])  # the transformer decodes as the VQGAN
        assert not torch.allclose(new_vq(x)[0], vq(x)[0])  # and the decoder did train


def test_bad_growth_is_a_usage_error(tmp_path, monkeypatch, capsys):
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "vq")
    np.savez(tmp_path / "img.npz", image=np.zeros((2, 16, 16, 3), np.uint8))
    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--data",
                                      str(tmp_path / "img.npz"), "--grow-decoder", "2"])
    with pytest.raises(SystemExit):
        finetune_decoder.main()
    assert "--grow-decoder needs 2 counts" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--copy-only",
                                      "--grow-decoder", "2", "1", "--into", str(tmp_path / "net")])
    with pytest.raises(SystemExit):  # copying never grows: refused rather than silently ignored
        finetune_decoder.main()
    assert "does nothing with --copy-only" in capsys.readouterr().err


def test_decoder_from_a_larger_decoder_goes_into_the_vqgan_and_the_transformers(tmp_path, monkeypatch):
    """--decoder-from: the decoder of a VQGAN with the same tokens (here grown by an upsampling level, as
    `python -m taming_lite.train decoder` makes it) replaces the shipped one, fp16, and travels into the
    transformer folders; a VQGAN with other tokens is refused."""
    from taming_lite.train.decoder_trainer import grow_levels

    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "vq", extra={"task": "image", "image_size": 16},
                    dtype=torch.float16)
    vq = load_pretrained(tmp_path / "vq")
    big = grow_levels(vq, 1)
    with torch.no_grad():
        big.decoder.extra_conv_out.weight.normal_()  # as if trained: not the bilinear start
    save_pretrained(big, tmp_path / "big", extra={"output_size": 32, "decoder_trained_steps": 7})
    net = Net2NetTransformer(Net2NetConfig(first_stage=VQGANConfig(**TINY), cond_stage=None,
                                           transformer=GPTConfig(vocab_size=16, block_size=17, n_layer=1, n_head=2,
                                                                 n_embd=32)))
    net.first_stage_model.load_state_dict(vq.state_dict())
    save_pretrained(net, tmp_path / "net", extra={"task": "completion"}, dtype=torch.float16)
    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--decoder-from",
                                      str(tmp_path / "big"), "--into", str(tmp_path / "net")])
    finetune_decoder.main()
    new_vq, new_net = load_pretrained(tmp_path / "vq"), load_pretrained(tmp_path / "net")
    meta = read_config(tmp_path / "vq")
    assert meta["weights_dtype"] == "float16" and meta["extra"]["image_size"] == 16
    assert meta["extra"]["output_size"] == 32 and meta["extra"]["decoder_trained_steps"] == 7
    assert read_config(tmp_path / "net")["extra"]["output_size"] == 32
    assert new_net.config.first_stage.upsample_factor == 4
    x = images(seed=2)
    with torch.no_grad():
        assert torch.equal(new_vq.encode_to_indices(x), vq.encode_to_indices(x))
        out = new_net.first_stage_model(x)[0]
        assert out.shape[-1] == 32 and torch.equal(out, new_vq(x)[0])
        assert torch.allclose(out, big.half().float()(x)[0], atol=1e-5)

    torch.manual_seed(1)
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "other")  # other encoder: other tokens
    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--decoder-from",
                                      str(tmp_path / "other")])
    with pytest.raises(SystemExit, match="other tokens"):
        finetune_decoder.main()


def test_decoder_from_with_extra_upsample_sets_the_mode_of_the_added_levels(tmp_path, monkeypatch):
    """--extra-upsample: a decoder trained with nearest doubling in its added level goes into --vqgan and the
    transformers with bilinear doubling (the same weights; the shipped 128-px decoder was made this way)."""
    from taming_lite.train.decoder_trainer import grow_levels

    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(**TINY)), tmp_path / "vq", extra={"task": "image", "image_size": 16},
                    dtype=torch.float16)
    big = grow_levels(load_pretrained(tmp_path / "vq"), 1, extra_upsample="nearest")
    with torch.no_grad():
        for name, p in big.decoder.named_parameters():
            if name.startswith("extra"):
                p.normal_(0, 0.05)
    save_pretrained(big, tmp_path / "big", extra={"output_size": 32})
    net = Net2NetTransformer(Net2NetConfig(first_stage=VQGANConfig(**TINY), cond_stage=None,
                                           transformer=GPTConfig(vocab_size=16, block_size=17, n_layer=1, n_head=2,
                                                                 n_embd=32)))
    net.first_stage_model.load_state_dict(load_pretrained(tmp_path / "vq").state_dict())
    save_pretrained(net, tmp_path / "net", extra={"task": "completion"}, dtype=torch.float16)
    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--decoder-from",
                                      str(tmp_path / "big"), "--extra-upsample", "bilinear", "--into",
                                      str(tmp_path / "net")])
    finetune_decoder.main()
    new_vq, new_net = load_pretrained(tmp_path / "vq"), load_pretrained(tmp_path / "net")
    assert new_vq.config.decoder_extra_upsample == "bilinear"
    assert new_net.config.first_stage.decoder_extra_upsample == "bilinear"
    assert "trained with nearest" in read_config(tmp_path / "vq")["extra"]["decoder_extra_upsample_set"]
    x = images(seed=3)
    with torch.no_grad():
        ref = grow_levels(big, 1, extra_upsample="bilinear").half().float()(x)[0]
        assert torch.allclose(new_vq(x)[0], ref, atol=1e-5)
        assert not torch.allclose(new_vq(x)[0], big.half().float()(x)[0], atol=1e-3)  # the mode changed the output

    monkeypatch.setattr(sys, "argv", ["finetune_decoder.py", "--vqgan", str(tmp_path / "vq"), "--copy-only",
                                      "--extra-upsample", "nearest"])
    with pytest.raises(SystemExit):
        finetune_decoder.main()
