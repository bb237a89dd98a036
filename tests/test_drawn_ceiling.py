"""scripts/drawn_ceiling.py: what an image first stage keeps of drawn conditions (issue 38 item 3)."""

import sys
from pathlib import Path

import pytest
import torch

from taming_lite.checkpoints import save_pretrained
from taming_lite.vqgan import VQGAN, VQGANConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import drawn_ceiling  # noqa: E402


def test_a_row_per_metric_a_random_vqgan_keeps_less_than_the_render(tmp_path, capsys):
    torch.manual_seed(0)
    save_pretrained(VQGAN(VQGANConfig(ch=32, ch_mult=(1, 1, 1), num_res_blocks=1, attn_resolutions=(), z_channels=8,
                                      resolution=64, embed_dim=4, n_embed=16)), tmp_path / "vq")
    drawn_ceiling.main(["--vqgan", str(tmp_path / "vq"), "--evaluators", str(REPO / "weights" / "evaluators"),
                        "--n", "3", "--tasks", "labels", "pose", "--sheet", str(tmp_path / "sheet.png")])
    out = capsys.readouterr().out
    rows = {tuple(c.strip() for c in r.split("|")[1:3]): [c.strip() for c in r.split("|")[3:8]]
            for r in out.splitlines() if r.startswith("| labels") or r.startswith("| pose")}
    assert set(rows) == {("labels", "miou_per_image"), ("labels", "miou_pooled"), ("pose", "pck"), ("pose", "pck_image")}
    render, recon = (float(v) for v in rows["labels", "miou_per_image"][:2])
    assert render > 0.2 and recon < render  # a random decoder draws none of the painted map
    assert (tmp_path / "sheet.png").is_file()
    with pytest.raises(SystemExit):
        drawn_ceiling.main(["--vqgan", str(tmp_path / "vq"), "--n", "0"])
    assert "--n must be at least 1" in capsys.readouterr().err
