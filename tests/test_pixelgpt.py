import torch

from taming_lite import load_pretrained, save_pretrained
from taming_lite.gpt import GPTConfig
from taming_lite.pixelgpt import PixelGPT, PixelGPTConfig, fit_palette


def tiny(r=8, k=16):
    torch.manual_seed(0)
    cfg = PixelGPTConfig(GPTConfig(vocab_size=k + 1, block_size=r * r, n_layer=1, n_head=2, n_embd=32), r, k)
    return PixelGPT(cfg).eval()


def test_palette_round_trip_and_kmeans():
    pixels = torch.tensor([[-1.0, -1, -1], [1, 1, 1], [1, -1, -1]]).repeat(50, 1) + torch.randn(150, 3) * 0.01
    pal = fit_palette(pixels, 3, seed=0)
    assert torch.cdist(pal, torch.tensor([[-1.0, -1, -1], [1, 1, 1], [1, -1, -1]])).min(0).values.max() < 0.05
    m = tiny()
    m.palette.copy_(torch.rand(16, 3) * 2 - 1)
    idx = torch.randint(0, 16, (2, 8, 8))
    assert torch.equal(m.encode(m.decode(idx)), idx)


def test_sampling_never_emits_start_token_and_keeps_given(tmp_path):
    m = tiny()
    m.palette.copy_(torch.rand(16, 3) * 2 - 1)
    with torch.no_grad():
        m.transformer.head.weight[16] += 50.0  # make the start token the most likely output
    given = torch.randint(0, 16, (2, 20))
    out = m.sample(given, 44, seed=1)
    assert out.shape == (2, 64) and torch.equal(out[:, :20], given)
    assert out.max() < 16
    assert torch.equal(out, m.sample(given, 44, seed=1))
    save_pretrained(m, tmp_path)
    m2 = load_pretrained(tmp_path)
    assert torch.equal(m2.palette, m.palette)
    logits, target = m2(torch.rand(1, 3, 16, 16) * 2 - 1)
    assert logits.shape == (1, 64, 16) and target.shape == (1, 64)
