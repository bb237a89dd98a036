"""scripts/plot_guidance_curve.py: the curve of adherence and diversity against the guidance scale."""

import json

import pytest

from scripts.plot_guidance_curve import curves, main


def results():
    row = lambda m, d: {"pck": m, "pck_floor_mismatched": 0.1, "pck_ceiling_vqgan_recon": 0.7, "diversity_mse": d}  # noqa: E731
    return {"pose (user-style, guidance 2)": row(0.5, 0.2), "pose (user-style, guidance 1)": row(0.4, 0.3),
            "pose (guidance 1)": {"pck_generated_vs_input": 0.6}, "labels (user-style, guidance 3)": {"guidance": "n/a"}}


def test_curves_sorted_by_guidance_with_floor_and_ceiling():
    t = curves(results())
    assert list(t) == ["pose"]  # held-out rows and n/a rows are not part of the curve
    assert t["pose"]["g"] == [1.0, 2.0] and t["pose"]["pck"] == [0.4, 0.5] and t["pose"]["diversity_mse"] == [0.3, 0.2]
    assert t["pose"]["pck_floor_mismatched"] == 0.1 and t["pose"]["pck_ceiling_vqgan_recon"] == 0.7


def test_main_writes_the_figure_and_refuses_a_file_without_rows(tmp_path, capsys):
    src = tmp_path / "curve.json"
    src.write_text(json.dumps({"results": results()}))
    main([str(src), "--out", str(tmp_path / "curve.png")])
    assert (tmp_path / "curve.png").stat().st_size > 1000 and "g 1: pck 0.400" in capsys.readouterr().out
    src.write_text(json.dumps({"results": {}}))
    with pytest.raises(SystemExit):
        main([str(src), "--out", str(tmp_path / "x.png")])
