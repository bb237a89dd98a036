"""Training throughput on this machine: VQGAN images/s and transformer tokens/s, the shipped configs' model sizes.

    python -m benchmarks.train_speed                    # all VQGAN and transformer configs, a few steps each
    python -m benchmarks.train_speed --steps 6 --threads 2 --only vqgan_image transformer_depth

Runs the real training loops (`train_vqgan`, `train_transformer`) with each config's model and batch
size, on synthetic inputs of the right shapes (so the number is the model's, not the data
renderer's), untrained stages for the transformers, and reports the median over the steps after
the first two. VQGANs are timed with the discriminator on (the more expensive phase). Prints a
Markdown table and the CPU it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]

from benchmarks.machine import cpu_name
from taming_lite.checkpoints import load_pretrained, save_pretrained
from taming_lite.train import load_config, read_metrics, train_transformer, train_vqgan
from taming_lite.train.data import build_dataset
from taming_lite.train.vqgan_trainer import build_vqgan

VQGANS = ["vqgan_image", "vqgan_depth", "vqgan_labels", "vqgan_lowres", "vqgan_skeleton"]
TRANSFORMERS = ["transformer_completion", "transformer_depth", "transformer_labels", "transformer_superres",
                "transformer_pose"]
SYNTH_OPTIONS = {"labels": "data.options={n_labels: 14}"}


def synthetic(cfg_key: str | None) -> list[str]:
    return ["data.dataset=synthetic", "data.num_samples=64", SYNTH_OPTIONS.get(cfg_key or "", "data.options={}")]


def bench_vqgan(name: str, tmp: Path, steps: int, threads: int) -> tuple[float, int, int]:
    base = load_config("vqgan", REPO / "configs" / f"{name}.yaml")
    cfg = load_config("vqgan", REPO / "configs" / f"{name}.yaml", [
        f"out_dir={tmp / name}", "export_dir=null", f"steps={steps}", "progress=false", "log_every=1",
        "sample_every=0", "ckpt_every=0", "loss.disc_start=0", f"threads={threads}",
        *synthetic(base.data.image_key)])
    train_vqgan(cfg)
    rates = [float(r["img_per_s"]) for r in read_metrics(tmp / name / "metrics.csv")][2:]
    shape = build_dataset(cfg.data)[0][base.data.image_key].shape  # (C, H, W) the VQGAN sees
    return statistics.median(rates), cfg.batch_size, f"{shape[0]}x{shape[1]}x{shape[2]}"


def make_stage(name: str, tmp: Path) -> Path:
    key = load_config("vqgan", REPO / "configs" / f"{name}.yaml").data.image_key
    cfg = load_config("vqgan", REPO / "configs" / f"{name}.yaml", synthetic(key))
    channels = build_dataset(cfg.data)[0][key].shape[0]
    torch.manual_seed(0)
    return save_pretrained(build_vqgan(cfg, channels), tmp / "stages" / name)


STAGE_OF = {"depth": "vqgan_depth", "labels": "vqgan_labels", "lowres4": "vqgan_lowres", "skeleton": "vqgan_skeleton"}


def bench_transformer(name: str, tmp: Path, steps: int, threads: int) -> tuple[float, int, int]:
    base = load_config("transformer", REPO / "configs" / f"{name}.yaml")
    first = make_stage("vqgan_image", tmp)
    cond = make_stage(STAGE_OF[base.data.cond_key], tmp) if base.data.cond_key else None
    cfg = load_config("transformer", REPO / "configs" / f"{name}.yaml", [
        f"out_dir={tmp / name}", "export_dir=null", f"steps={steps}", "progress=false", "log_every=1",
        "sample_every=0", "ckpt_every=0", f"threads={threads}", f"first_stage={first}",
        f"cond_stage={cond}" if cond else "cond_stage=null", *synthetic(base.data.cond_key)])
    train_transformer(cfg)
    rates = [float(r["tok_per_s"]) for r in read_metrics(tmp / name / "metrics.csv")][2:]
    n_params = sum(p.numel() for p in load_pretrained(tmp / name / "checkpoints" / "final").transformer.parameters())
    return statistics.median(rates), cfg.batch_size, n_params


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6, help="steps per model (the first two are not counted)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", nargs="*", help="config names to run (default: all)")
    args = ap.parse_args()
    names = args.only or VQGANS + TRANSFORMERS
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in names:
            if name.startswith("vqgan"):
                rate, bs, size = bench_vqgan(name, tmp, args.steps, args.threads)
                rows.append((name, f"input {size}, batch {bs}", f"{rate:.2f} images/s"))
            else:
                rate, bs, n = bench_transformer(name, tmp, args.steps, args.threads)
                rows.append((name, f"{n / 1e6:.1f}M params, batch {bs}", f"{rate:.0f} tokens/s"))
    print(f"\nCPU: {cpu_name()}; torch {torch.__version__}; {args.threads} thread(s); median of steps 3..{args.steps}\n")
    print("| config | model | throughput |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {' | '.join(r)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
