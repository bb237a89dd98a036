import torch

from taming_lite.evaluate import diversity, psnr, ssim


def test_psnr_and_ssim_basics():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    assert torch.all(psnr(x, x) > 90)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    # mse ~ 0.01 -> 10 log10(4 / 0.01) ~ 26 dB
    assert 24 < psnr(noisy, x).mean() < 28
    assert 0.3 < ssim(noisy, x).mean() < 0.99
    assert ssim(-x, x).mean() < ssim(noisy, x).mean()


def test_diversity():
    a = torch.zeros(3, 3, 8, 8)
    assert diversity(a) == 0
    b = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)])
    assert abs(diversity(b) - 1.0) < 1e-6
