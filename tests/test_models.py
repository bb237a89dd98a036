"""Shapes, configs, device choice."""

import pytest
import torch

from taming_lite.device import autocast, pick_device
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.vqgan import VQGAN, VQGANConfig


@pytest.mark.parametrize("ch_mult,f", [((1,), 1), ((1, 2), 2), ((1, 1, 2), 4), ((1, 1, 2, 2), 8)])
def test_vqgan_shapes(ch_mult, f):
    cfg = VQGANConfig(ch=32, ch_mult=ch_mult, num_res_blocks=1, attn_resolutions=(), z_channels=8,
                      resolution=32, embed_dim=4, n_embed=16)
    m = VQGAN(cfg).eval()
    assert cfg.downsample_factor == f
    x = torch.rand(2, 3, 32, 48) * 2 - 1  # non-square works too
    idx = m.encode_to_indices(x)
    assert idx.shape == (2, 32 // f, 48 // f) and idx.dtype == torch.long
    assert idx.min() >= 0 and idx.max() < 16
    assert m.decode_indices(idx).shape == (2, 3, 32, 48)


def test_vqgan_reconstruct_batches_clamps_and_leaves_the_model_alone():
    torch.manual_seed(0)
    m = VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8,
                          resolution=16, embed_dim=4, n_embed=16)).eval().double()
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    rec = m.reconstruct(x, batch_size=2)  # batches of 2, 2, 1
    assert rec.dtype == torch.float32 and rec.shape == x.shape
    assert next(m.parameters()).dtype == torch.float64  # computed in the model's dtype, model not cast
    with torch.no_grad():
        want = m(x.double())[0].clamp(-1, 1).float()
    assert torch.allclose(rec, want, atol=1e-6) and rec.abs().max() <= 1
    assert m.reconstruct(x[:0]).shape == (0, 3, 16, 16)


def test_quantizer_straight_through_and_beta_placement():
    cfg = VQGANConfig(ch=32, ch_mult=(1,), num_res_blocks=1, attn_resolutions=(), z_channels=4, resolution=8,
                      embed_dim=4, n_embed=8)
    q = VQGAN(cfg).quantize
    z = torch.randn(1, 4, 3, 3, requires_grad=True)
    zq, loss, idx = q(z)
    zq.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))  # straight-through
    e = q.embedding.weight[idx.view(-1)].view(1, 3, 3, 4).permute(0, 3, 1, 2)
    mse = ((e - z) ** 2).mean()
    assert torch.allclose(loss, mse * (1 + q.beta))
    q.legacy_beta = False
    assert torch.allclose(q(z)[1], mse * (1 + q.beta))  # same value, the gradients differ


def test_official_f16_config_is_expressible():
    cfg = VQGANConfig(ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, attn_resolutions=(16,), z_channels=256,
                      resolution=256, embed_dim=256, n_embed=16384)
    assert cfg.downsample_factor == 16
    with torch.device("meta"):
        m = VQGAN(cfg)
    assert sum(p.numel() for p in m.parameters()) > 70_000_000


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of 32"):
        VQGANConfig(ch=20)
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=8, block_size=8, n_head=3, n_embd=32)


def test_gpt_loss_and_n_unmasked():
    gpt = GPT(GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=2, n_embd=32, n_unmasked=4)).eval()
    idx = torch.randint(0, 10, (2, 12))
    logits, loss = gpt(idx, targets=idx)
    assert logits.shape == (2, 12, 10) and loss.item() > 0
    cache = gpt.new_cache(2, 12)
    a = gpt.forward_cached(idx[:, :6], cache, 0, last_only=False)
    b = gpt.forward_cached(idx[:, 6:], cache, 6, last_only=False)
    assert torch.allclose(torch.cat((a, b), 1), logits, atol=1e-5)
    # prefix positions see each other: changing token 3 changes the logits at position 0
    idx2 = idx.clone()
    idx2[:, 3] = (idx2[:, 3] + 1) % 10
    assert not torch.allclose(gpt(idx2)[0][:, 0], logits[:, 0])


def test_pick_device(monkeypatch):
    monkeypatch.delenv("TAMING_LITE_DEVICE", raising=False)
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setenv("TAMING_LITE_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device|unsupported"):
        pick_device("tpu7")
    with autocast(torch.device("cpu")):
        assert torch.ones(1).dtype == torch.float32


def test_net2net_cond_upsample():
    """cond_upsample=2: the cond stage sees each condition pixel as 2x2 (nearest), so an f=1 cond stage
    made for x4 super-resolution gives x8 inputs tokens on the output's grid; saved and loaded with it."""
    import tempfile

    from taming_lite.checkpoints import load_pretrained, save_pretrained
    from taming_lite.gpt import GPTConfig
    from taming_lite.net2net import Net2NetConfig, Net2NetTransformer

    first = VQGANConfig(ch=32, ch_mult=(1, 1, 1), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=32,
                        embed_dim=4, n_embed=16)  # f=4: 32 px -> 8x8 tokens
    cond = VQGANConfig(ch=32, ch_mult=(1,), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=8,
                       embed_dim=4, n_embed=16)  # f=1
    gpt = GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32)
    torch.manual_seed(0)
    m = Net2NetTransformer(Net2NetConfig(first_stage=first, cond_stage=cond, transformer=gpt, cond_upsample=2)).eval()
    low = torch.rand(2, 3, 4, 4) * 2 - 1  # 32 px / 8
    quant, idx = m.encode_to_c(low)
    assert quant.shape[-2:] == (8, 8) and idx.shape == (2, 64)
    _, _, want = m.cond_stage_model.encode(low.repeat_interleave(2, -1).repeat_interleave(2, -2))
    assert torch.equal(idx, want.reshape(2, -1))
    from taming_lite.evaluate import condition_key

    assert condition_key(m, "superres") == "lowres8"  # what evaluate and the sample sheets feed it
    with tempfile.TemporaryDirectory() as d:
        back = load_pretrained(save_pretrained(m, d))
        assert back.config.cond_upsample == 2 and torch.equal(back.encode_to_c(low)[1], idx)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="cond_upsample"):
            Net2NetConfig(first_stage=first, cond_stage=cond, transformer=gpt, cond_upsample=bad)
