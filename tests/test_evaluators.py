"""The evaluator networks (taming_lite/evaluators.py): shapes, metrics on hand-made cases, training, I/O."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from taming_lite.checkpoints import CheckpointError, save_pretrained
from taming_lite.evaluators import (FLIP_PAIRS, Evaluator, EvaluatorConfig, TrainConfig, consistency, get_batch,
                                    load_data, load_evaluator, miou, miou_per_image, pck, iou_per_class, confusion_matrix, reconstruct, save_evaluator,
                                    soft_argmax, spearman, train, within_row)
from taming_lite.vqgan import VQGAN, VQGANConfig


def tiny(task, size=16):
    return EvaluatorConfig(task=task, image_size=size, ch=4, ch_mult=(1, 2), patch=2)


@pytest.mark.parametrize("task,channels", [("labels", 14), ("depth", 1), ("pose", 18)])
def test_shapes(task, channels):
    m = Evaluator(tiny(task)).eval()
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert m(x).shape == (3, channels, 16, 16)
    pred = m.predict(x)
    assert pred.shape == {"labels": (3, 16, 16), "depth": (3, 1, 16, 16), "pose": (3, 18, 2)}[task]
    big = m.predict(torch.rand(2, 3, 32, 32) * 2 - 1)  # other sizes are resized and mapped back
    assert big.shape[0] == 2 and (big.shape[-2:] == (32, 32) if task != "pose" else big.shape == (2, 18, 2))
    if task == "pose":
        assert 0 <= big.min() and big.max() <= 32


def test_config_checks():
    with pytest.raises(ValueError, match="task"):
        EvaluatorConfig(task="superres")
    with pytest.raises(ValueError, match="divisible"):
        EvaluatorConfig(task="depth", image_size=20, patch=2, ch_mult=(1, 2, 4))


def test_iou_per_class_and_consistency_per_class():
    target = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1]])
    iou = iou_per_class(confusion_matrix(pred, target, 3))
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3) and iou[2].isnan()  # 2: in neither
    model = Evaluator(tiny("labels")).eval()
    x, t = torch.rand(3, 3, 16, 16) * 2 - 1, torch.randint(0, 14, (3, 16, 16))
    out = consistency(model, x, t, per_class=True)
    per = torch.tensor([v for k, v in out.items() if k.startswith("iou_")], dtype=torch.float64)
    assert len(per) == 14 and "iou_sky-other" in out
    assert out["miou"] == pytest.approx(float(per[~per.isnan()].mean()))
    assert not any(k.startswith("iou_") for k in consistency(model, x, t))  # off by default


def test_miou_known_cases():
    t = torch.randint(0, 14, (2, 8, 8))
    assert miou(t, t) == 1.0
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[..., 2:] = 1  # half class 0, half class 1
    pred = torch.zeros_like(target)  # everything class 0: IoU(0) = 8/16, IoU(1) = 0/8
    assert miou(pred, target) == pytest.approx(0.25)
    pred2 = target.clone()
    pred2[0, 0, 0] = 5  # one pixel of a class absent from the target: IoU(0) = 7/8, IoU(1) = 1, IoU(5) = 0
    assert miou(pred2, target) == pytest.approx((7 / 8 + 1 + 0) / 3)


def test_spearman():
    a = torch.randn(3, 1, 8, 8)
    assert torch.allclose(spearman(a, torch.exp(3 * a) + 1), torch.ones(3), atol=1e-6)  # monotone transform
    assert torch.allclose(spearman(a, -a), -torch.ones(3), atol=1e-6)
    assert spearman(a, torch.zeros_like(a)).tolist() == [0.0, 0.0, 0.0]  # constant: no information
    # ties: x = [1, 2, 2, 3], y = [1, 2, 3, 4] -> ranks [0, 1.5, 1.5, 3] vs [0, 1, 2, 3]; Pearson of ranks
    x, y = torch.tensor([[1.0, 2, 2, 3]]), torch.tensor([[1.0, 2, 3, 4]])
    rx, ry = torch.tensor([0, 1.5, 1.5, 3]), torch.tensor([0.0, 1, 2, 3])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    assert spearman(x, y).item() == pytest.approx(float((rx * ry).sum() / (rx.norm() * ry.norm())))


def test_pck_known_offsets():
    gt = torch.zeros(1, 18, 3)
    gt[0, :, 0] = 10.0
    gt[0, :, 1] = torch.linspace(10, 50, 18)  # visible box 0 x 40 px: threshold 0.1 * 40 = 4 px
    gt[0, :, 2] = 1
    pred = gt[..., :2].clone()
    pred[0, :6, 0] += 3.0  # hits
    pred[0, 6:12, 0] += 5.0  # misses
    pred[0, 12:, 1] += 3.9  # hits
    assert pck(pred, gt, 64) == pytest.approx(12 / 18)
    assert pck(pred, gt, 64, ref="image") == 1.0  # 0.1 * 64 = 6.4 px
    gt[0, 6:12, 2] = 0  # the misses are not visible: not counted (the box still spans 10..50)
    assert pck(pred, gt, 64) == 1.0
    with pytest.raises(ValueError):
        pck(pred, gt, 64, ref="torso")


def test_soft_argmax_pixel_centres():
    logits = torch.full((1, 2, 8, 8), -1e4)
    logits[0, 0, 3, 5] = 0.0  # row 3, column 5 -> x 5.5, y 3.5
    logits[0, 1, 7, 0] = 0.0
    assert soft_argmax(logits)[0].tolist() == [[5.5, 3.5], [0.5, 7.5]]


def test_pose_flip_moves_keypoints_with_the_image():
    kp = torch.zeros(4, 18, 3)
    kp[..., 2] = 1
    kp[:, :, 0] = torch.arange(18).float() + 0.5 + 4  # keypoint k at column k + 4 ...
    kp[:, :, 1] = 5.5
    img = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    img[:, :, 5, 6] = 255  # ... and a bright pixel on keypoint 2 (r_shoulder, column 6)
    data = {"image": img, "target": kp}
    g = torch.Generator().manual_seed(0)
    x, t = get_batch(data, torch.arange(4), "pose", augment=True, generator=g)
    for xi, ti in zip(x, t):
        col = int(xi[0, 5].argmax())
        flipped = col >= 16
        k = FLIP_PAIRS[2] if flipped else 2  # a flip makes the r_shoulder the l_shoulder's slot
        assert abs(ti[k, 0].item() - (col + 0.5)) < 1.01
        assert ti[:, 1].eq(5.5).all()


def test_depth_flips_with_the_image():
    data = load_data("depth", 8, 16, seed=3)
    g = torch.Generator().manual_seed(1)
    x, t = get_batch(data, torch.arange(8), "depth", augment=True, generator=g)
    x0, t0 = get_batch(data, torch.arange(8), "depth")
    n_flipped = 0
    for i in range(8):
        flipped = torch.equal(t[i], t0[i].flip(-1)) and not torch.equal(t[i], t0[i])
        assert flipped or torch.equal(t[i], t0[i])
        err, err_flipped = (x[i] - x0[i]).abs().mean(), (x[i] - x0[i].flip(-1)).abs().mean()
        assert (err_flipped < err) == flipped  # the image went the same way (blur and noise aside)
        n_flipped += flipped
    assert 0 < n_flipped < 8


@pytest.mark.parametrize("task", ["labels", "depth", "pose"])
def test_a_few_steps_reduce_the_loss(task):
    data = load_data(task, 16, 32, seed=3)
    assert data["image"].dtype == torch.uint8 and len(data["target"]) == 16
    cfg = EvaluatorConfig(task=task, image_size=32, ch=8, ch_mult=(1, 2), patch=2)
    tc = TrainConfig(steps=40, batch_size=8, lr=3e-3, warmup=5, log_every=10, augment=False)
    model = train(cfg, tc, data, log=lambda s: None)
    first, last = tc.history[0][1], tc.history[-1][1]
    assert last < first, tc.history
    assert not model.training
    x, t = get_batch(data, torch.arange(16), task)
    res = consistency(model, x, t)
    assert {"labels": "miou", "depth": "spearman", "pose": "pck"}[task] in res


@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_save_load_round_trip(tmp_path, dtype):
    m = Evaluator(tiny("depth"))
    m.net.stem[1].running_mean.uniform_(-0.1, 0.1)  # non-default buffers travel too
    m.eval()
    save_evaluator(m, tmp_path / "ev", extra={"note": "x"}, dtype=dtype)
    meta = json.loads((tmp_path / "ev" / "config.json").read_text())
    assert meta["model_type"] == "evaluator" and meta["config"]["task"] == "depth" and meta["extra"] == {"note": "x"}
    back = load_evaluator(tmp_path / "ev")
    assert back.config == m.config and not back.training
    assert next(back.parameters()).dtype == torch.float32
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        if dtype is None:
            assert torch.equal(back(x), m(x))
        else:
            assert torch.allclose(back(x), m(x), atol=2e-2)


def test_load_refuses_other_models(tmp_path):
    m = Evaluator(tiny("pose"))
    save_evaluator(m, tmp_path / "ev")
    meta = json.loads((tmp_path / "ev" / "config.json").read_text())
    (tmp_path / "ev" / "config.json").write_text(json.dumps({**meta, "model_type": "vqgan"}))
    with pytest.raises(CheckpointError, match="not an evaluator"):
        load_evaluator(tmp_path / "ev")
    (tmp_path / "ev" / "config.json").write_text(json.dumps({**meta, "config": {**meta["config"], "ch": 8}}))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_evaluator(tmp_path / "ev")
    with pytest.raises(CheckpointError):
        load_evaluator(tmp_path / "nothing")


def test_spearman_deviation_ignores_the_shared_layout():
    """Depth maps = a layout all share (far on top) + what differs per image: plain Spearman is high for
    an unrelated pair, the deviation from the mean depth map is not; a perfect prediction scores 1."""

    class Oracle(Evaluator):  # "predicts" the depth it is given in its red channel
        def predict(self, x):
            return x[:, :1]

    g = torch.Generator().manual_seed(0)
    layout = torch.linspace(1, -1, 16)[:, None].expand(16, 16)
    depth = (layout + 0.3 * torch.randn(8, 1, 16, 16, generator=g)).clamp(-1, 1)
    images = depth.expand(-1, 3, -1, -1)
    ev = Oracle(tiny("depth"))
    mean = depth.mean(0)
    right = consistency(ev, images, depth, mean_depth=mean)
    wrong = consistency(ev, images, depth.roll(1, 0), mean_depth=mean)
    assert right["spearman"] == pytest.approx(1) and right["spearman_deviation"] == pytest.approx(1)
    assert wrong["spearman"] > 0.7 and abs(wrong["spearman_deviation"]) < 0.3
    assert "spearman_deviation" not in consistency(ev, images, depth)


def test_within_row_spearman_removes_the_ramp():
    """Unrelated objects on one ramp: plain Spearman is high, within-row Spearman ~0; the right map scores 1."""

    class Oracle(Evaluator):
        def predict(self, x):
            return x[:, :1]

    assert torch.allclose(within_row(torch.arange(6.0).reshape(1, 2, 3)), torch.tensor([[[-1.0, 0, 1], [-1, 0, 1]]]))
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-1, 1, 16)[:, None].expand(16, 16)
    blobs = (torch.rand(8, 1, 16, 16, generator=g) > 0.7).float()
    depth = (0.6 * ramp + 0.4 * blobs).clamp(-1, 1)
    ev = Oracle(tiny("depth"))
    right, wrong = consistency(ev, depth.expand(-1, 3, -1, -1), depth), consistency(ev, depth.expand(-1, 3, -1, -1),
                                                                                      depth.roll(1, 0))
    assert right["spearman_within_row"] == pytest.approx(1) and right["spearman"] == pytest.approx(1)
    assert wrong["spearman"] > 0.5 and abs(wrong["spearman_within_row"]) < 0.2


def test_miou_per_image_weighs_images_equally():
    """Image 0 right (mIoU 1), image 1 all wrong (0): per image 0.5, whatever their class counts; the pooled
    mIoU mixes the two into one confusion matrix."""
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[0, :, 2:] = 1
    target[1] = 2
    pred = target.clone()
    pred[1] = 3
    assert miou_per_image(pred, target) == pytest.approx(0.5)
    assert miou(pred, target) == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert miou_per_image(target, target) == 1.0
    model = Evaluator(tiny("labels")).eval()
    out = consistency(model, torch.rand(2, 3, 16, 16) * 2 - 1, torch.randint(0, 14, (2, 16, 16)))
    assert 0 <= out["miou_per_image"] <= 1


def test_train_command_saves_a_loadable_evaluator(tmp_path):
    """`python -m taming_lite.evaluators train` as scripts/train_evaluators.sh runs it, in a subprocess:
    run as __main__, the module's classes were copies that save_pretrained refused after training."""
    out = tmp_path / "ev"
    cmd = [sys.executable, "-m", "taming_lite.evaluators", "train", "--task", "depth", "--steps", "2", "--n-train", "8",
           "--n-eval", "4", "--size", "32", "--batch-size", "4", "--ch", "4", "--ch-mult", "1", "2", "--out", str(out),
           "--source", "layout"]
    r = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "saved" in r.stdout
    model = load_evaluator(out)
    assert model.config.task == "depth" and model.config.image_size == 32
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["steps"] == 2 and extra["held_out_real"]["n"] == 4
    assert extra["held_out_source"]["source"] == "layout" and "layout" in extra["data"]


def test_load_data_from_another_source():
    """The evaluators can train on the layout-first renders (what people draw is outside the 3D renders)."""
    a, b = load_data("labels", 6, 16, seed=3), load_data("labels", 6, 16, seed=3, source="layout")
    assert a["image"].shape == b["image"].shape == (6, 3, 16, 16)
    assert not torch.equal(a["target"], b["target"])  # (the mix keeps some 3D renders among the layouts)


def tiny_vqgan():
    torch.manual_seed(0)
    return VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=4,
                             resolution=16, embed_dim=4, n_embed=16)).eval()


def test_reconstruct_gives_uint8_images_of_the_vqgan():
    vq = tiny_vqgan()
    data = load_data("labels", 5, 16, seed=3)
    rec = reconstruct(vq, data["image"], batch_size=2)  # batches of 2, 2, 1
    assert rec.dtype == torch.uint8 and rec.shape == data["image"].shape
    with torch.no_grad():
        want = vq(data["image"][3:4].float() / 127.5 - 1)[0].clamp(-1, 1)
    assert (rec[3:4].float() / 127.5 - 1 - want).abs().max() <= 1 / 127.5 + 1e-6


def test_reconstruct_brings_a_larger_decoder_back_to_the_input_size():
    """A VQGAN whose decoder has an extra level (the shipped models' 128-px decoder on 64-px tokens): its
    reconstructions are area-downsampled to the renders' size, as evaluate does with samples."""
    torch.manual_seed(0)
    vq = VQGAN(VQGANConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=4,
                           resolution=16, embed_dim=4, n_embed=16, decoder_extra_levels=1)).eval()
    data = load_data("labels", 3, 16, seed=3)
    rec = reconstruct(vq, data["image"])
    assert rec.shape == data["image"].shape and rec.dtype == torch.uint8
    with torch.no_grad():
        big = vq(data["image"][:1].float() / 127.5 - 1)[0].clamp(-1, 1)
    assert big.shape[-1] == 32
    want = torch.nn.functional.interpolate(big, size=(16, 16), mode="area")
    assert (rec[:1].float() / 127.5 - 1 - want).abs().max() <= 1 / 127.5 + 1e-6


def test_recon_share_swaps_images_keeps_targets():
    data = load_data("labels", 16, 16, seed=3)
    data["recon"] = 255 - data["image"]  # stand-in "reconstructions", easy to tell apart
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x, t = get_batch(data, torch.arange(16), "labels", augment=True, generator=g, recon_share=1.0)
    x0, t0 = get_batch(data, torch.arange(16), "labels")
    for i in range(16):  # every image is its reconstruction (blur, noise and flips aside); targets stay
        flipped = torch.equal(t[i], t0[i].flip(-1)) and not torch.equal(t[i], t0[i])
        ref = (-x0[i]).flip(-1) if flipped else -x0[i]
        assert (x[i] - ref).abs().mean() < (x[i] - ref.neg()).abs().mean()
    shares = []
    for share in (0.0, 0.5):
        x, _ = get_batch(data, torch.arange(16).repeat(8), "labels", augment=True,
                         generator=torch.Generator().manual_seed(1), recon_share=share)
        x0 = get_batch(data, torch.arange(16).repeat(8), "labels")[0]
        near_recon = ((x - -x0).abs().flatten(1).mean(1) < (x - x0).abs().flatten(1).mean(1)) | \
                     ((x - -x0.flip(-1)).abs().flatten(1).mean(1) < (x - x0.flip(-1)).abs().flatten(1).mean(1))
        shares.append(near_recon.float().mean().item())
    assert shares[0] == 0 and 0.3 < shares[1] < 0.7
    with pytest.raises(ValueError, match="recon"):
        get_batch({k: v for k, v in data.items() if k != "recon"}, torch.arange(4), "labels", augment=True,
                  recon_share=0.5)


def test_train_command_with_first_stage_records_both_scores(tmp_path):
    save_pretrained(tiny_vqgan(), tmp_path / "vq")
    out = tmp_path / "ev"
    base = [sys.executable, "-m", "taming_lite.evaluators", "train", "--task", "labels", "--steps", "2",
            "--n-train", "8", "--n-eval", "4", "--size", "16", "--batch-size", "4", "--ch", "4", "--ch-mult", "1", "2",
            "--out", str(out), "--first-stage", str(tmp_path / "vq")]
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run(base, cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["recon_share"] == 0.5 and extra["first_stage"] == str(tmp_path / "vq")
    assert "miou" in extra["held_out_real"] and "miou" in extra["held_out_recon"]
    r = subprocess.run([sys.executable, "-m", "taming_lite.evaluators", "score", str(out), "--n", "4",
                        "--first-stage", str(tmp_path / "vq")], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "real renders" in r.stdout and "reconstructions by" in r.stdout, r.stderr[-2000:]
    for bad, msg in ((["--recon-share", "1.5"], "recon-share"), (["--no-augment"], "no-augment"),
                     (["--first-stage", str(out)], "not a VQGAN")):
        r = subprocess.run(base + bad, cwd=root, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
