import math

import pytest
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


def test_ssim_is_wang_et_al_as_scikit_image_computes_it():
    """11x11 Gaussian window, sigma 1.5, population covariance, cropped borders (Wang et al. 2004)."""
    from skimage import metrics as skimage  # requirements-dev.txt installs it
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 40, 48, generator=g) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    ours = ssim(y.double(), x.double())
    to01 = lambda t: ((t + 1) / 2).permute(1, 2, 0).numpy()  # noqa: E731
    ref = [skimage.structural_similarity(to01(a), to01(b), channel_axis=2, data_range=1.0, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False) for a, b in zip(y.double(), x.double())]
    assert torch.allclose(ours, torch.tensor(ref, dtype=torch.float64), atol=1e-6)


def test_diversity():
    a = torch.zeros(3, 3, 8, 8)
    assert diversity(a) == 0
    b = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)])
    assert abs(diversity(b) - 1.0) < 1e-6


def _tiny_depth_model(cond_channels: int = 1, n_labels: int | None = None):
    """A tiny depth (or, with 14 cond channels and n_labels 14, labels) transformer."""
    from taming_lite.gpt import GPTConfig
    from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
    from taming_lite.vqgan import VQGANConfig

    vq = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=16,
              embed_dim=4, n_embed=16)
    cond = VQGANConfig(**{**vq, "in_channels": cond_channels, "out_ch": cond_channels, "n_labels": n_labels})
    cfg = Net2NetConfig(first_stage=VQGANConfig(**vq), cond_stage=cond,
                        transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32))
    torch.manual_seed(0)
    return Net2NetTransformer(cfg).eval()


def _rows(text: str) -> dict:
    rows = [line.split("|")[1:-1] for line in text.splitlines()[4:] if line.startswith("| ")]  # past the header
    return {(m.strip(), k.strip()): v.strip() for m, k, v in rows}


def test_missing_weights_are_reported(tmp_path, capsys):
    from taming_lite.evaluate import main

    main(["--weights", str(tmp_path), "--only", "depth", "vqgan_image"])
    rows = _rows(capsys.readouterr().out)
    assert rows == {("vqgan_image", "(missing)"): "-", ("depth", "(missing)"): "-"}


def test_condition_consistency_with_and_without_an_evaluator(tmp_path, capsys):
    from taming_lite.checkpoints import save_pretrained
    from taming_lite.evaluate import main
    from taming_lite.evaluators import Evaluator, EvaluatorConfig, save_evaluator

    save_pretrained(_tiny_depth_model(), tmp_path / "depth")
    args = ["--weights", str(tmp_path), "--only", "depth", "--conditions", "1", "--samples", "2", "--n", "4",
            "--user-conditions", "2"]
    main(args)  # no evaluator: said in the table, the other metrics still there
    rows = _rows(capsys.readouterr().out)
    assert "evaluator missing" in rows[("depth", "spearman_generated_vs_input")]
    assert "evaluator missing" in rows[("depth (user-style)", "spearman")]
    assert ("depth", "diversity_mse") in rows

    ev = Evaluator(EvaluatorConfig(task="depth", image_size=16, ch=4, ch_mult=(1, 2), patch=2)).eval()
    save_evaluator(ev, tmp_path / "evaluators" / "depth")
    main(args)
    rows = _rows(capsys.readouterr().out)
    for k in ("spearman_generated_vs_input", "spearman_evaluator_on_real", "spearman_evaluator_on_vqgan_recon",
              "spearman_floor_shuffled"):
        assert -1 <= float(rows[("depth", k)]) <= 1
    assert ("depth", "spearman_normalized") in rows
    for k in ("generated_vs_input", "evaluator_on_real", "evaluator_on_vqgan_recon", "floor_shuffled"):
        assert -1 <= float(rows[("depth", f"spearman_deviation_{k}")]) <= 1
    assert ("depth", "spearman_deviation_normalized") in rows
    main(args + ["--evaluators", str(tmp_path / "elsewhere")])
    assert "evaluator missing" in _rows(capsys.readouterr().out)[("depth", "spearman_generated_vs_input")]


def test_per_class_iou_of_labels(tmp_path, capsys):
    from taming_lite.checkpoints import save_pretrained
    from taming_lite.evaluate import main
    from taming_lite.evaluators import Evaluator, EvaluatorConfig, save_evaluator

    save_pretrained(_tiny_depth_model(14, 14), tmp_path / "labels")
    save_evaluator(Evaluator(EvaluatorConfig(task="labels", image_size=16, ch=4, ch_mult=(1, 2), patch=2)).eval(),
                   tmp_path / "evaluators" / "labels")
    args = ["--weights", str(tmp_path), "--only", "labels", "--conditions", "1", "--samples", "2", "--n", "4",
            "--no-user-style"]
    main(args)
    assert not any(k.startswith("iou_") for _, k in _rows(capsys.readouterr().out))
    main(args + ["--per-class"])
    rows = _rows(capsys.readouterr().out)
    for which in ("generated_vs_input", "evaluator_on_real", "evaluator_on_vqgan_recon"):
        per = [float(v) for (m, k), v in rows.items() if k.startswith("iou_") and k.endswith(which)]
        assert len(per) == 14 and all(math.isnan(v) or 0 <= v <= 1 for v in per)
    assert ("labels", "iou_sky-other_generated_vs_input") in rows and 0 <= float(rows[("labels", "miou_generated_vs_input")]) <= 1


def test_segmentation_vqgan_reports_pixel_accuracy_and_miou():
    """A label VQGAN is scored by the argmax of its reconstruction: pixel accuracy and mIoU (the
    share of the map a labels transformer can see); an exact reconstruction scores 1 on both."""
    from taming_lite.evaluate import eval_vqgan
    from taming_lite.vqgan import VQGAN, VQGANConfig

    torch.manual_seed(0)
    vq = VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=4,
                           resolution=16, in_channels=14, out_ch=14, embed_dim=4, n_embed=8, n_labels=14)).eval()
    out = eval_vqgan(vq, "labels", "labels", 4)
    assert set(out) == {"images", "codebook_usage", "pixel_accuracy", "miou"}
    assert 0 <= out["miou"] <= 1 and 0 <= out["pixel_accuracy"] <= 1

    class Exact(torch.nn.Module):  # reconstruction = input
        config, is_segmentation = vq.config, True

        def forward(self, x):
            return x, None, torch.zeros(len(x), dtype=torch.long)

    assert eval_vqgan(Exact(), "labels", "labels", 4) | {"codebook_usage": 0} == {
        "images": 4, "codebook_usage": 0, "pixel_accuracy": 1.0, "miou": 1.0}


def test_superres_scores_of_samples_and_of_their_mean():
    """Samples = ground truth + independent noise: their mean is ~10 log10(N) dB closer to the truth than
    one sample; back-projection makes samples consistent with the input; a sample equal to the bicubic
    upsampling gains 0 dB."""
    import torch.nn.functional as F

    from taming_lite.evaluate import superres_scores
    from taming_lite.superres import area_downsample

    model = _tiny_depth_model()  # only its first stage is used (the ceiling)
    g = torch.Generator().manual_seed(0)
    x = F.interpolate(torch.rand(1, 3, 4, 4, generator=g) * 1.6 - 0.8, size=16, mode="bilinear", align_corners=False)
    low = area_downsample(x, 4)
    n = 8
    samples = x + 0.1 * torch.randn(n, 3, 16, 16, generator=g)
    s = superres_scores(model, x, low, samples)
    gain = s["mean_of_samples_psnr_gain_over_bicubic_db"] - s["psnr_gain_over_bicubic_db"]
    assert abs(gain - 10 * math.log10(n)) < 1.5, s
    assert s["back_projected_consistency_psnr_db"] > s["downsampled_consistency_psnr_db"] + 10
    assert s["mean_of_samples_back_projected_psnr_gain_over_bicubic_db"] > s["back_projected_psnr_gain_over_bicubic_db"]
    bicubic = F.interpolate(low, scale_factor=4, mode="bicubic", align_corners=False).expand(2, -1, -1, -1)
    assert abs(superres_scores(model, x, low, bicubic)["psnr_gain_over_bicubic_db"]) < 1e-4


# --------------------------------------------------------------------------- realism numbers


def _scenes(n=24, size=64, seed=0):
    """Smooth random scenes with some fine texture: low-pass noise plus a little white noise."""
    g = torch.Generator().manual_seed(seed)
    low = torch.nn.functional.interpolate(torch.rand(n, 3, size // 8, size // 8, generator=g) * 2 - 1, size=size,
                                          mode="bicubic", align_corners=False)
    return (low + 0.15 * torch.randn(n, 3, size, size, generator=g)).clamp(-1, 1)


def test_high_frequency_ratio_is_lower_for_blurred_images():
    from taming_lite.evaluate import hf_ratio, radial_frequency

    r = radial_frequency(8, 8)
    assert r[0, 0] == 0 and r[0, 4] == 1 and abs(r[4, 4] - math.sqrt(2)) < 1e-12  # fractions of Nyquist
    x = _scenes()
    assert abs(hf_ratio(x, x) - 1) < 1e-12
    blur3, blur5 = (torch.nn.functional.avg_pool2d(x, k, 1, k // 2, count_include_pad=False) for k in (3, 5))
    up = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(x, 2), scale_factor=2, mode="bicubic",
                                         align_corners=False)
    assert hf_ratio(blur5, x) < hf_ratio(blur3, x) < 0.5 and hf_ratio(up, x) < 0.5  # more blur, less left
    assert hf_ratio((x + 0.3 * torch.randn_like(x)), x) > 1.5  # noise adds high-frequency power
    with pytest.raises(ValueError, match="one size"):
        hf_ratio(up[..., :32, :32], x)


def test_frechet_distance_known_answers():
    from taming_lite.evaluate import frechet_distance

    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert abs(frechet_distance(a, a)) < 1e-9
    # N(0, I) vs N(m, 4 I): |m|^2 + tr(I + 4 I - 2 * 2 I) = |m|^2 + 3 (up to sampling)
    b = 2 * torch.randn(4000, 3, generator=g, dtype=torch.float64) + torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    assert abs(frechet_distance(a, b) - (5 + 3)) < 0.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_segmenter_features_and_frechet_floor_of_realism():
    from taming_lite.evaluate import realism, segmenter_features
    from taming_lite.evaluators import Evaluator, EvaluatorConfig

    torch.manual_seed(0)
    ev = Evaluator(EvaluatorConfig(task="labels", image_size=16, ch=4, ch_mult=(1, 2), patch=2)).eval()
    x, others, floor = _scenes(40, 32, seed=1), _scenes(40, 32, seed=2), _scenes(40, 32, seed=3)
    f = segmenter_features(ev, x)
    assert f.shape == (40, 4 + 8) and f.dtype == torch.float64  # the stem's and the down level's channels
    same = realism(x, x, 8, ev, others=x, floor=x)
    assert abs(same["frechet_segmenter"]) < 1e-6 and abs(same["frechet_segmenter_floor"]) < 1e-6
    assert same["hf_ratio"] == pytest.approx(1.0) and not same["checkerboard_flag"]
    flat = torch.zeros_like(x) + x.mean((-2, -1), keepdim=True)  # no structure at all
    far = realism(flat, x, 8, ev, others=others, floor=floor)
    assert far["frechet_segmenter"] > 3 * far["frechet_segmenter_floor"] > 0
    assert far["hf_ratio"] < 1e-6


def test_checkerboard_is_flagged_at_the_stride_and_noise_is_not():
    from taming_lite.evaluate import checkerboard, stride_bins

    assert stride_bins(8, 8, 2) == [(0, 4), (4, 0), (4, 4)]
    x, other = _scenes(24, 64), _scenes(24, 64, seed=1)
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    board = ((yy // 4 + xx // 4) % 2).float() * 2 - 1  # period 8: the stride of an f=8 decoder
    flagged = checkerboard((x + 0.1 * board).clamp(-1, 1), x, stride=8)
    assert flagged["checkerboard_flag"] and flagged["checkerboard_excess"] > 10
    assert flagged["checkerboard_peak_renders"] < 1
    clean = checkerboard(other, x, stride=8)  # other scenes of the same kind: no periodic pattern
    assert not clean["checkerboard_flag"] and clean["checkerboard_excess"] < 1
    assert not checkerboard((x + 0.1 * torch.randn_like(x)).clamp(-1, 1), x, stride=8)["checkerboard_flag"]
    assert checkerboard(x, x, stride=8)["checkerboard_excess"] == 0
    with pytest.raises(ValueError, match="multiple of the stride"):
        checkerboard(x[..., :60, :60], x[..., :60, :60], stride=8)


def test_a_larger_decoder_is_compared_with_renders_at_its_output_size(tmp_path):
    """eval_vqgan of a decoder grown by one level: PSNR against the 32-px renders of the scenes whose 16-px
    renders it encodes, the realism numbers at 32 px; a realism size above the output upscales bicubically."""
    from taming_lite.evaluate import eval_vqgan
    from taming_lite.train.decoder_trainer import grow_levels
    from taming_lite.vqgan import VQGAN, VQGANConfig

    torch.manual_seed(0)
    vq = VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8,
                           resolution=16, embed_dim=4, n_embed=16)).eval()
    small = eval_vqgan(vq, "completion", "image", 4, realism_size=32)
    assert small["realism_size"] == 32 and "psnr_db_at_32" in small and "output_size" not in small
    big = eval_vqgan(grow_levels(vq, 1).eval(), "completion", "image", 4)
    assert big["output_size"] == 32 and big["realism_size"] == 32 and "psnr_db_at_32" not in big
    assert "psnr_db_at_16" in big and "ssim_at_16" in big  # area-downsampled to the input size
    # the grown decoder starts as a bilinear upscaling: close to the bicubic one
    assert abs(big["psnr_db"] - small["psnr_db_at_32"]) < 1.0
    assert "frechet_segmenter" not in big  # no evaluator given


# --------------------------------------------------------------------------- through the Pipeline; user-style sets


def test_samples_come_from_the_pipeline(tmp_path):
    """evaluate samples what the app samples: `Pipeline.sample` of the prepared condition, one batch."""
    import numpy as np

    from taming_lite.checkpoints import save_pretrained
    from taming_lite.data.user_style import depth_map
    from taming_lite.evaluate import _sample
    from taming_lite.pipeline import Pipeline

    save_pretrained(_tiny_depth_model(), tmp_path / "depth")
    pipe = Pipeline.from_pretrained(str(tmp_path / "depth"), task="depth", device="cpu")
    job = pipe.prepare(depth_map(0, 16, 16), size=(16, 16))
    images, tokens, seconds = _sample(pipe, job, 2, guidance=1.0)
    app = np.stack(pipe.sample(job, seed=0, num_samples=2))
    assert images.shape == (2, 3, 16, 16) and tokens.shape == (2, 8, 8) and seconds > 0
    assert np.array_equal(((images + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy(), app)


class _Identity(torch.nn.Module):
    """A perfect (cond or first) stage: its reconstruction is its input."""

    def __init__(self, channels):
        super().__init__()
        self.config = type("C", (), {"in_channels": channels})()

    def forward(self, x):
        return x, None, None

    def reconstruct(self, x):
        return x


class _Drawn:
    """A stand-in Pipeline whose samples are pictures of the condition itself (label colours, or depth as grey),
    each with a little noise of its own: with an evaluator that reads the picture back, adherence is 1."""

    def __init__(self, task, size=16):
        self.task, self.window, self.in_stride, self.image_size = task, (size // 2, size // 2), 2, size
        self.model = type("M", (), {"first_stage_model": _Identity(3), "cond_stage_model": _Identity(14)})()

    def prepare(self, condition, size):
        return condition

    def iter_sample(self, condition, seed, num_samples, previews, guidance):
        import numpy as np

        from taming_lite.data.labels import colorize

        rgb = colorize(condition) if self.task == "labels" else np.repeat(
            (condition * 255).round().astype(np.uint8)[..., None], 3, -1)
        g = np.random.default_rng(seed)
        keep = np.array([self.task == "labels", True, True])  # depth: the noise off the channel read back
        imgs = [np.clip(rgb.astype(int) + keep * g.integers(-2, 3, rgb.shape), 0, 255).astype(np.uint8)
                for _ in range(num_samples)]
        yield type("P", (), {"images": imgs, "tokens": torch.zeros(num_samples, 1, 1)})()


class _Reader(torch.nn.Module):
    """An evaluator that reads a _Drawn picture back: labels by the nearest palette colour, depth as the grey."""

    def __init__(self, task):
        super().__init__()
        self.config = type("C", (), {"task": task})()

    def predict(self, x):
        import numpy as np

        from taming_lite.data.labels import ids_to_index, snap_to_labels

        if self.config.task == "depth":
            return x[:, :1]
        rgb = ((x + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
        return torch.from_numpy(np.stack([ids_to_index(snap_to_labels(im)).astype(np.int64) for im in rgb]))


def test_user_style_adherence_is_one_for_a_perfect_model_and_lower_for_mismatched_pairs():
    from taming_lite.evaluate import eval_user_style

    out = eval_user_style(_Drawn("labels"), 6, 2, _Reader("labels"), n_real=4)
    assert out["miou_per_image"] == pytest.approx(1) and out["miou_pooled"] == pytest.approx(1)
    assert out["miou_per_image_floor_mismatched"] < 0.6 and out["miou_pooled_floor_mismatched"] < 0.6
    assert out["cond_vqgan_miou_per_image"] == pytest.approx(1)
    assert 0 < out["diversity_mse"] < 1e-3 and out["conditions"] == 6 and out["samples_each"] == 2
    ceiling = out["miou_pooled_ceiling_vqgan_recon"]
    assert ceiling.startswith("n/a") if isinstance(ceiling, str) else 0 <= ceiling <= 1
    d = eval_user_style(_Drawn("depth"), 6, 2, _Reader("depth"), n_real=4)
    assert d["spearman"] > 0.99 and d["spearman_deviation"] > 0.99
    # the picture's 8 bits turn a gentle tilt across a row into steps: within-row ranks lose a little (~0.8)
    assert d["spearman_within_row"] > 0.7 and d["spearman_within_row_floor_mismatched"] < 0.3
    assert d["spearman_deviation_floor_mismatched"] < 0.5 and d["spearman_floor_mismatched"] < d["spearman"]
    assert d["cond_vqgan_spearman"] == pytest.approx(1)


def test_matching_renders_of_poses():
    """The pose ceiling's renders: the human of the same angles, whose keypoints are the condition."""
    import numpy as np

    from taming_lite.data.datasets import image_to_tensor
    from taming_lite.data.user_style import conditions, pose_human
    from taming_lite.evaluate import matching_renders

    conds = conditions("pose", 2, 32)
    r = matching_renders("pose", conds, 32)
    assert r.shape == (2, 3, 32, 32) and -1 <= r.min() and r.max() <= 1
    human = pose_human((3, 1), 32, 32)
    assert np.array_equal(human.keypoints, conds[1]) and torch.equal(image_to_tensor(human.image), r[1])


def test_user_style_rows_guidance_and_json(tmp_path, capsys):
    import json

    from taming_lite.checkpoints import save_pretrained
    from taming_lite.evaluate import main
    from taming_lite.evaluators import Evaluator, EvaluatorConfig, save_evaluator

    save_pretrained(_tiny_depth_model(), tmp_path / "depth")
    save_evaluator(Evaluator(EvaluatorConfig(task="depth", image_size=16, ch=4, ch_mult=(1, 2), patch=2)).eval(),
                   tmp_path / "evaluators" / "depth")
    main(["--weights", str(tmp_path), "--only", "depth", "--user-style-only", "--n", "3", "--samples", "2",
          "--guidance", "1", "2", "--json", str(tmp_path / "out.json")])
    rows = _rows(capsys.readouterr().out)
    assert {m for m, _ in rows} == {"depth (user-style, guidance 1)", "depth (user-style, guidance 2)"}
    on = "depth (user-style, guidance 1)"
    assert rows[on, "conditions"] == "3" and rows[on, "guidance"] == "1"
    for k in ("spearman_deviation", "spearman_deviation_floor_mismatched", "spearman_within_row", "spearman",
              "cond_vqgan_spearman_within_row"):
        assert -1 <= float(rows[on, k]) <= 1, k
    assert float(rows[on, "diversity_mse"]) >= 0
    assert rows["depth (user-style, guidance 2)", "guidance"].startswith("n/a")  # trained without dropout
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["results"][on]["conditions"] == 3 and data["user_style_seed"] == 3
    main(["--weights", str(tmp_path), "--only", "depth", "--no-user-style", "--conditions", "1", "--samples", "2",
          "--n", "4"])
    assert {m for m, _ in _rows(capsys.readouterr().out)} == {"depth"}
