"""Back-projection of super-resolution samples onto their low-resolution input (taming_lite.superres)."""

import pytest
import torch
import torch.nn.functional as F

from taming_lite.superres import area_downsample, back_project


def images(seed=0, size=32, factor=4):
    g = torch.Generator().manual_seed(seed)
    hi = torch.rand(2, 3, size, size, generator=g) * 1.6 - 0.8  # inside [-1, 1]: no clamping at the end
    lo = F.avg_pool2d(torch.rand(2, 3, size, size, generator=g) * 1.6 - 0.8, factor)
    return hi, lo


def test_result_downsamples_to_the_input():
    hi, lo = images()
    assert (area_downsample(hi, 4) - lo).abs().max() > 0.1
    out = back_project(hi, lo, 4, clamp=None)
    assert out.shape == hi.shape
    assert (area_downsample(out, 4) - lo).abs().max() < 1e-4
    clamped = back_project(hi, lo, 4)  # the default clamps to the image range at the end
    assert clamped.min() >= -1 and clamped.max() <= 1 and out.abs().max() > 1
    assert (area_downsample(clamped, 4) - lo).abs().mean() < 1e-2


def test_consistent_image_is_left_alone_and_result_is_a_fixed_point():
    hi, _ = images(1)
    lo = area_downsample(hi, 4)
    assert torch.allclose(back_project(hi, lo, 4), hi, atol=1e-5)
    _, lo2 = images(2)
    once = back_project(hi, lo2, 4, clamp=None)
    assert torch.allclose(back_project(once, lo2, 4, clamp=None), once, atol=1e-4)


def test_only_low_frequencies_change():
    """The correction is a smooth (bicubic) field: the sample's detail within blocks is kept."""
    hi, lo = images(3)
    out = back_project(hi, lo, 4)
    detail = lambda x: x - F.interpolate(area_downsample(x, 4), scale_factor=4, mode="nearest")
    kept = F.cosine_similarity(detail(out).flatten(), detail(hi).flatten(), dim=0)
    assert kept > 0.8


def test_input_dtype_and_factor_8():
    hi, _ = images(4, size=64, factor=8)
    lo = area_downsample(torch.zeros_like(hi), 8)
    out = back_project(hi.double(), lo, 8)
    assert out.dtype == torch.float32 and (area_downsample(out, 8)).abs().max() < 1e-3


@pytest.mark.parametrize("hi_shape, lo_shape, factor, match", [
    ((2, 3, 32, 32), (2, 3, 16, 16), 4, "is not 4x"),
    ((2, 3, 32, 32), (1, 3, 8, 8), 4, "same B, C"),
    ((3, 32, 32), (3, 8, 8), 4, "expected"),
])
def test_bad_shapes_are_refused(hi_shape, lo_shape, factor, match):
    with pytest.raises(ValueError, match=match):
        back_project(torch.zeros(hi_shape), torch.zeros(lo_shape), factor)


def test_bad_iters_and_indivisible_size():
    with pytest.raises(ValueError, match="iters"):
        back_project(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 2, 2), 4, iters=0)
    with pytest.raises(ValueError, match="not divisible"):
        area_downsample(torch.zeros(1, 3, 10, 10), 4)


def test_ceiling_script_prints_a_row_per_factor_and_refuses_bad_ones(tmp_path, capsys):
    import sys
    from pathlib import Path

    from taming_lite.checkpoints import save_pretrained
    from taming_lite.vqgan import VQGAN, VQGANConfig

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import superres_ceiling

    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8,
                                      resolution=16, embed_dim=4, n_embed=16)), tmp_path / "vq")
    superres_ceiling.main(["--vqgan", str(tmp_path / "vq"), "--n", "3", "--factors", "2", "4"])
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| x")]
    assert [r.split("|")[1].strip() for r in rows] == ["x2", "x4"]
    assert all(r.count(" dB") == 4 for r in rows)
    bicubic = [float(r.split("|")[2].split()[0]) for r in rows]
    assert bicubic[0] > bicubic[1] > 0  # x4 loses more than x2
    for bad, why in ((["--factors", "3"], "divide the image size 16"), (["--factors", "1"], "at least 2"),
                     (["--n", "0"], "--n must be at least 1")):
        with pytest.raises(SystemExit):
            superres_ceiling.main(["--vqgan", str(tmp_path / "vq")] + bad)
        assert why in capsys.readouterr().err
