"""The completion tab's pixel-baseline comparison, without a server."""

import numpy as np
import torch

from demos import completion
from taming_lite.gpt import GPTConfig
from taming_lite.pixelgpt import PixelGPT, PixelGPTConfig


def test_pixel_baseline_keeps_the_given_rows_and_enlarges():
    torch.manual_seed(0)
    m = PixelGPT(PixelGPTConfig(GPTConfig(vocab_size=9, block_size=64, n_layer=1, n_head=2, n_embd=32), 8, 8)).eval()
    m.palette.copy_(torch.rand(8, 3) * 2 - 1)
    rgb = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    params = {"temperature": 1.0, "top_k": 100, "top_p": 1.0, "seed": 3, "height": 32, "width": 32}
    small, r = completion.pixel_baseline(m, rgb, 0.5, params)
    assert r == 8 and small.shape == (8, 8, 3) and small.dtype == np.uint8
    img = completion.enlarge(small, 32, 32)  # as the tab shows it: nearest, each pixel a 4x4 square
    assert img.shape == (32, 32, 3) and np.array_equal(img[::4, ::4], small) and np.array_equal(img[3::4, 3::4], small)
    given = m.decode(m.encode(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1))
    given = ((given.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(img[:16:4, ::4], given[:4])  # upper half = the palette image of the input
    small2, _ = completion.pixel_baseline(m, rgb, 0.5, params)
    assert np.array_equal(small, small2)
