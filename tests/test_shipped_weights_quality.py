"""The shipped weights still score what docs/EVALUATION.md's evaluation table says: the project's bars that are
met stay met, and the two that are not met do not fall below where they stand (a regression guard for
anyone who retrains or replaces a model in weights/).

One run of `python -m taming_lite.evaluate` with that table's protocol (200 held-out images, 2
conditions x 8 samples; about 70 s on two cores). Sampled numbers can move a little between CPUs (a
token flips), so the regression floors sit a margin below its figures."""

import pytest
import torch

from taming_lite.evaluate import main

from _train_helpers import REPO

pytestmark = pytest.mark.slow


def evaluate(*args) -> dict:
    """`python -m taming_lite.evaluate --weights weights <args>` on two threads: {(model, metric): value}."""
    import contextlib
    import io

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main(["--weights", str(REPO / "weights"), *args])
    finally:
        torch.set_num_threads(threads)
    table = {}
    for line in out.getvalue().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("model", "---"):
            table[cells[0], cells[1]] = cells[2]
    return table


@pytest.fixture(scope="module")
def scores():
    # held-out renders: what the bars below are about
    return evaluate("--n", "200", "--conditions", "2", "--samples", "8", "--no-user-style")


@pytest.fixture(scope="module")
def labels_many_scenes():
    # the labels model's stride peaks over 16 scenes x 4 samples (see test_sample_realism_floors)
    return evaluate("--only", "labels", "--n", "16", "--conditions", "16", "--samples", "4", "--no-user-style")


def value(scores, model, metric):
    assert (model, metric) in scores, f"{model} {metric} missing from the evaluation: {sorted(scores)}"
    v = scores[model, metric]
    return v if v in ("True", "False") else float(v)


def test_vqgan_bars(scores):
    """The 128-px decoder against 128-px renders: PSNR 26.60 dB, SSIM 0.749 (2026-11-30, this protocol; the
    64-px decoder had 27.52 / 0.800 against 64-px renders, 26.98 / 0.764 bicubic-upscaled to 128). The SSIM
    bar of 0.80 is no longer met (weights/README.md): guarded against regression instead."""
    assert value(scores, "vqgan_image", "output_size") == 128
    assert value(scores, "vqgan_image", "psnr_db") >= 26.0
    assert value(scores, "vqgan_image", "ssim") >= 0.72
    assert value(scores, "vqgan_image", "codebook_usage") >= 0.5


def test_vqgan_realism_floors(scores):
    """docs/REALISM.md; the shipped 128-px decoder at its output size (2026-11-30, this protocol): high-frequency
    ratio 0.140 (the 64-px decoder bicubic-upscaled: 0.007), Frechet 1.415 (floor 0.436; the 64-px decoder
    upscaled: 1.565), no stride peaks (excess 0.15). The Frechet distance is measured in the segmenter's
    features: with the segmenter retrained on 3D + layout-first renders (2026-12-01) the same decoder reads
    2.814 (floor 0.508), hence the bar 3.2 (before: 1.6 in the earlier segmenter's features)."""
    assert value(scores, "vqgan_image", "realism_size") == 128
    assert value(scores, "vqgan_image", "hf_ratio") >= 0.11
    assert value(scores, "vqgan_image", "frechet_segmenter") <= 3.2
    assert 0.3 < value(scores, "vqgan_image", "frechet_segmenter_floor") < 0.6
    assert value(scores, "vqgan_image", "checkerboard_flag") == "False"


def test_sample_realism_floors(scores):
    """Samples at the decoder's output size (128 px) vs 128-px renders, 2026-11-30, this protocol: high-frequency
    ratio completion 0.130, depth 0.089, labels 0.115, superres 0.117, pose 0.467; no stride peaks (largest
    excess 0.83, completion). Floors about a fifth lower (a flipped token moves these). The pose model of stage
    2n (2026-12-01, trained on wide poses with condition dropout, guidance 2) reads 0.367: smoother figures, its
    floor a fifth lower than that. The Frechet distance of 16 samples is within its own floor's noise
    (docs/REALISM.md), so it is not guarded here. The aligned depth and labels models (2026-12-04) read 0.340 and
    0.237, and stride peaks at the flag (excess 1.04 and 0.995, the renders' own peak 0.67; depth 0.74 on 4 x 3;
    no grid visible on their sheets, docs/EVALUATION.md): guarded at 1.2 for depth, at the flag (1.0) for the
    others (pose, aligned too, 0.79). The labels model on the new first stage (2026-12-04, later) reads 0.338 and an
    excess of 3.3 here, all of it from one of the two scenes (its samples' layered hills: 6.4 at 1/4 cycle per
    pixel vertically, the other scene 0.3; no grid on its sheets), so its stride peaks are guarded over 16 scenes
    instead (`test_labels_stride_peaks_over_many_scenes`)."""
    floors = {"completion": 0.10, "depth": 0.07, "labels": 0.09, "superres": 0.09, "pose": 0.29}
    for task, floor in floors.items():
        assert value(scores, task, "hf_ratio") >= floor, task
        if task != "labels":
            assert value(scores, task, "checkerboard_excess") <= (1.2 if task == "depth" else 1.0), task


def test_labels_stride_peaks_over_many_scenes(labels_many_scenes):
    """16 held-out scenes x 4 samples (2026-12-04): excess 0.58 for the labels model on the new first stage (the
    one before it: 0.20), against the flag at 1.0."""
    assert value(labels_many_scenes, "labels", "checkerboard_flag") == "False"
    assert value(labels_many_scenes, "labels", "hf_ratio") >= 0.3


def test_completion_keeps_the_given_half_and_varies_the_rest(scores):
    assert value(scores, "completion", "upper_half_kept") == "True"
    assert value(scores, "completion", "distinct_lower_halves") == "True"


def test_condition_consistency_bars_that_are_met(scores):
    assert value(scores, "depth", "spearman_generated_vs_input") >= 0.7
    assert value(scores, "pose", "pck_generated_vs_input") >= 0.6
    assert value(scores, "superres", "back_projected_consistency_psnr_db") >= 30.0


def test_unmet_bars_do_not_regress(scores):
    """docs/EVALUATION.md, with the 128-px decoder: labels mIoU 0.22 on this protocol (bar 0.5; 0.26 with the
    64-px decoder; the aligned labels model of 2026-12-04: 0.25, on the new first stage 0.28); super-resolution raw samples 3.0 dB below bicubic (bar 1 dB above), consistency 29.1 dB
    (bar 30; 30.5 with the 64-px decoder, whose colours at 8x8 were closer)."""
    assert value(scores, "labels", "miou_generated_vs_input") >= 0.19
    assert value(scores, "superres", "psnr_gain_over_bicubic_db") >= -3.5
    assert value(scores, "superres", "downsampled_consistency_psnr_db") >= 28.6


def test_diversity_and_speed(scores):
    for task in ("completion", "depth", "labels", "superres", "pose"):
        assert value(scores, task, "diversity_mse") > 0.005, task
        assert value(scores, task, "seconds_per_sample") < 5.0, task
