"""The experiments whose results notebooks 1 and 5 load (scripts/pixels_vs_codes.py,
scripts/discriminator_effect.py): they run, their files round-trip, the committed result files are the
ones the notebooks ask for (so full mode loads them instead of training for most of an hour)."""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from scripts import discriminator_effect, pixels_vs_codes
from scripts.pixels_vs_codes import QUICK, Settings, load, load_or_run, run, save

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_result():
    return run(QUICK, progress=lambda *_: None)


def test_pixels_vs_codes_quick_run_numbers_and_shapes(quick_result):
    s = QUICK
    assert sorted(quick_result["models"]) == [1, 2, 4]
    for f, r in quick_result["models"].items():
        m = r["metrics"]
        side = s.size // f
        assert m["tokens_per_image"] == side * side
        assert m["bits_per_image"] == pytest.approx(side * side * math.log2(s.vocab))
        assert m["window_px"] == s.window * f
        assert r["samples"].shape == (s.n_samples, 3, s.size, s.size)
        assert r["samples"].min() >= -1 and r["samples"].max() <= 1
        assert 0 < m["gpt_test_nats_per_token"] < 2 * math.log(s.vocab)
        assert len(m["gpt_log"]) >= 1 and m["gpt_log"][-1][0] == s.gpt_steps
    # the palette is near lossless, a 6-step VQGAN is not
    assert quick_result["models"][1]["metrics"]["tokenizer_psnr"] > quick_result["models"][4]["metrics"]["tokenizer_psnr"]


def test_pixels_vs_codes_is_deterministic_by_seed(quick_result):
    again = run(QUICK, progress=lambda *_: None)
    for f in (1, 2, 4):
        assert torch.equal(again["models"][f]["samples"], quick_result["models"][f]["samples"])


def test_pixels_vs_codes_save_load_and_load_or_run(quick_result, tmp_path):
    path = tmp_path / "r.npz"
    save(quick_result, path)
    stored = load(path)
    assert stored["meta"]["settings"] == asdict(QUICK)
    assert stored["samples_f1"].dtype == np.uint8 and stored["samples_f1"].shape == (QUICK.n_samples, QUICK.size,
                                                                                       QUICK.size, 3)
    got, source = load_or_run(QUICK, path)
    assert source.startswith("loaded") and np.array_equal(got["samples_f4"], stored["samples_f4"])
    other = replace(QUICK, seed=1)
    got, source = load_or_run(other, path, progress=lambda *_: None)  # other settings: computed, not the file
    assert source == "computed just now" and got["meta"]["settings"] == asdict(other)


def test_committed_pixels_vs_codes_result_matches_the_full_settings():
    assert pixels_vs_codes.RESULTS.is_file(), "run `python -m scripts.pixels_vs_codes` (notebook 5 loads it)"
    stored = load(pixels_vs_codes.RESULTS)
    assert stored["meta"]["settings"] == asdict(Settings()), "the committed result was made with other settings"
    assert sorted(stored["meta"]["metrics"], key=int) == ["1", "2", "4"]
    assert stored["samples_f1"].shape[1:] == (Settings().size, Settings().size, 3)


def test_discriminator_effect_measures_and_refuses_another_codebook(tmp_path):
    from taming_lite import load_pretrained
    from taming_lite.checkpoints import save_pretrained

    shipped = REPO / "weights" / "vqgan_image"
    result = discriminator_effect.measure({"shipped": shipped}, n=4, shown=2)
    m = result["decoders"]["shipped"]
    assert m["images"].shape == (2, 3, 128, 128) and result["renders"].shape == (2, 3, 128, 128)
    assert 20 < m["psnr_db"] < 40 and m["hf_ratio"] > 0
    discriminator_effect.save(result, tmp_path / "d.npz")
    back = discriminator_effect.load(tmp_path / "d.npz")
    assert list(back["decoders"]) == ["shipped"] and back["decoders"]["shipped"].shape == (2, 128, 128, 3)

    other = load_pretrained(shipped)
    with torch.no_grad():
        other.quantize.embedding.weight.add_(0.1)
    save_pretrained(other, tmp_path / "other")
    with pytest.raises(ValueError, match="codebook"):
        discriminator_effect.measure({"other": tmp_path / "other"}, n=2)


def test_committed_discriminator_effect_result():
    stored = discriminator_effect.load()
    metrics = stored["meta"]["metrics"]
    assert len(stored["decoders"]) == 3 and stored["renders"].shape[1:] == (128, 128, 3)
    no_d, shipped, more_d = (metrics[label] for label in stored["meta"]["labels"])
    # what notebook 1 says about it: more adversarial training, more fine detail, lower PSNR
    assert no_d["hf_ratio"] < shipped["hf_ratio"] < more_d["hf_ratio"]
    assert no_d["psnr_db"] > shipped["psnr_db"] > more_d["psnr_db"]
