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
    img, r = completion.pixel_baseline(m, rgb, 0.5, params)
    assert r == 8 and img.shape == (32, 32, 3) and img.dtype == np.uint8
    given = m.decode(m.encode(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1))
    given = ((given.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(img[:16:4, ::4], given[:4])  # upper half = the palette image of the input
    img2, _ = completion.pixel_baseline(m, rgb, 0.5, params)
    assert np.array_equal(img, img2)
