"""Prefix vs aligned conditioning at an equal budget, on the labels task.

    python -m benchmarks.conditioning data                     # the layout mix: 6000 training pairs, 300 held out
    python -m benchmarks.conditioning train --mode prefix      # resumable: run it again to continue
    python -m benchmarks.conditioning train --mode aligned
    python -m benchmarks.conditioning eval --json docs/conditioning.json --plot docs/conditioning.png

`train` runs `taming_lite.train` with configs/compare_labels.yaml: the same data (the layout mix of
`taming_lite.data.layout`, seed 7), GPT size (4 x 256), optimizer, batch, steps and condition dropout for
both; the paper's prefix of the shipped label VQGAN's 256 tokens, or (`--mode aligned`) a `CondEncoder`
of the one-hot map trained with the GPT, its features added at the positions that predict the image
tokens. Both read the tokens of weights/vqgan_image (the labels model's image VQGAN when this was run;
it has its own since). Checkpoints every 250 steps in
runs/cmp/<mode>; `--max-minutes` stops a piece, and the next call resumes it.

`eval`, for every checkpoint of both runs:
- the mean NLL per image token with the condition and with the null condition, on held-out pairs (the
  layout mix, seed 70) and on drawn label maps (`taming_lite.data.user_style`) with their matching
  layout renders; the gap (null minus conditional) is what the model takes from the condition;
- at the steps of `--adherence-at`: the segmenter's mIoU per image and pooled on samples for the drawn
  maps at guidance 1 and 2 (`taming_lite.evaluate.eval_user_style`: floor = mismatched pairs, ceiling =
  the matching render through the image VQGAN, and the matching render itself);
- the wall time per training step (median over the run's metrics.csv; the runs share the machine with
  whatever else runs, so `speed` measures the ratio properly).

    python -m benchmarks.conditioning speed --reps 10        # training and sampling steps, interleaved

`speed` times one training step (forward, backward, AdamW) of both models on the same batch, and the
sampling of one image (16x16 tokens, KV cache), alternating prefix and aligned, one thread, medians:
a ratio measured in one run on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "compare_labels.yaml"
RUNS = ROOT / "runs" / "cmp"
TRAIN_DATA = RUNS / "layout64_seed7" / "shard_00000.npz"
HELD_OUT = RUNS / "layout64_seed70" / "shard_00000.npz"
MODES = {"prefix": [], "aligned": ["conditioning=aligned", "cond_stage=null"]}


def make_data(n_train: int = 6000, n_held_out: int = 300) -> None:
    for n, seed, out in ((n_train, 7, TRAIN_DATA.parent), (n_held_out, 70, HELD_OUT.parent)):
        if not (out / "shard_00000.npz").is_file():
            subprocess.run([sys.executable, "-m", "taming_lite.data", "cache", "--source", "layout", "--n", str(n),
                            "--seed", str(seed), "--size", "64", "--format", "npz", "--shard-size", str(n),
                            "--out", str(out), "--quiet"], check=True, cwd=ROOT)


def train(mode: str, steps: int | None, max_minutes: float | None) -> None:
    from taming_lite.train import TrainingInterrupted, load_config, train_transformer

    out = RUNS / mode
    overrides = [f"out_dir={out}", f"data.root={TRAIN_DATA}", f"first_stage={ROOT / 'weights' / 'vqgan_image'}",
                 *([] if mode == "aligned" else [f"cond_stage={ROOT / 'weights' / 'vqgan_labels'}"]), *MODES[mode]]
    overrides += [f"steps={steps}"] if steps else []
    overrides += [f"max_minutes={max_minutes}"] if max_minutes else []
    cfg = load_config("transformer", CONFIG, overrides)
    torch.manual_seed(cfg.seed)
    resume = (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir())
    try:
        train_transformer(cfg, resume=True if resume else None)
    except TrainingInterrupted as stop:
        print(f"[conditioning] {mode}: stopped at {stop.checkpoint}; run the same command again to continue")


# --------------------------------------------------------------------------- evaluation


def checkpoints(mode: str) -> dict[int, Path]:
    """step -> checkpoint folder; "final" counts as the run's last logged step."""
    from taming_lite.train import read_metrics

    d = RUNS / mode / "checkpoints"
    found = {int(p.name.split("_")[1]): p for p in sorted(d.glob("step_*")) if p.is_dir()} if d.is_dir() else {}
    if (d / "final").is_dir():
        found[int(read_metrics(RUNS / mode / "metrics.csv")[-1]["step"])] = d / "final"
    return dict(sorted(found.items()))


def held_out_pairs(n: int):
    from taming_lite.data.datasets import make_dataset

    ds = make_dataset("labels", root=str(HELD_OUT))
    items = [ds[i] for i in range(min(n, len(ds)))]
    return torch.stack([it["image"] for it in items]), torch.stack([it["labels"] for it in items])


def drawn_pairs(n: int, size: int = 64):
    from taming_lite.data import user_style
    from taming_lite.data.labels import NUM_CLASSES
    from taming_lite.evaluate import USER_STYLE_SEED, matching_renders, user_target

    conds = user_style.conditions("labels", n, size, USER_STYLE_SEED)
    images = matching_renders("labels", conds, size, USER_STYLE_SEED)
    onehot = torch.stack([F.one_hot(user_target("labels", c), NUM_CLASSES).permute(2, 0, 1).float() for c in conds])
    return images, onehot


@torch.no_grad()
def nll(net, images, onehot, batch: int = 25) -> tuple[float, float]:
    """Mean NLL per image token (nats) with the condition and with the null condition."""
    sums = [0.0, 0.0]
    n_tok = 0
    for i in range(0, len(images), batch):
        _, z = net.encode_to_z(images[i : i + batch])
        c = onehot[i : i + batch] if net.config.aligned else net.encode_to_c(onehot[i : i + batch])[1]
        for k, null in enumerate((False, True)):
            logits, target = net.forward_indices(z, c, drop=torch.full((len(z),), null))
            sums[k] += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1),
                                             reduction="sum"))
        n_tok += z.numel()
    return sums[0] / n_tok, sums[1] / n_tok


def seconds_per_step(mode: str) -> float | None:
    from taming_lite.train import read_metrics

    path = RUNS / mode / "metrics.csv"
    if not path.is_file():
        return None
    rows = [r for r in read_metrics(path) if r.get("tok_per_s")]
    return statistics.median(8 * 256 / float(r["tok_per_s"]) for r in rows) if rows else None


def evaluate(modes: list[str], adherence_at: list[int], n_held_out: int, n_drawn: int, n_user: int, samples: int) -> dict:
    from taming_lite.checkpoints import load_pretrained
    from taming_lite.evaluate import eval_user_style
    from taming_lite.evaluators import load_evaluator
    from taming_lite.pipeline import Pipeline

    held, drawn = held_out_pairs(n_held_out), drawn_pairs(n_drawn)
    segmenter = load_evaluator(ROOT / "weights" / "evaluators" / "labels")
    out: dict = {"held_out_pairs": len(held[0]), "drawn_pairs": len(drawn[0]), "runs": {}}
    for mode in modes:
        rows = {}
        for step, path in checkpoints(mode).items():
            net = load_pretrained(path).eval()
            row = {}
            for name, (images, onehot) in (("held_out", held), ("drawn", drawn)):
                c, u = nll(net, images, onehot)
                row[name] = {"nll_cond": c, "nll_null": u, "gap": u - c}
            if step in adherence_at:
                pipe = Pipeline.from_pretrained(str(path), task="labels", device="cpu")
                for g in (1.0, 2.0):
                    r = eval_user_style(pipe, n_user, samples, segmenter, guidance=g)
                    row[f"adherence_g{g:g}"] = {k: r[k] for k in r if k.startswith("miou") or k in (
                        "diversity_mse", "seconds_per_sample")}
            rows[step] = row
            print(f"[conditioning] {mode} step {step}: " + json.dumps(row), flush=True)
        out["runs"][mode] = {"steps": rows, "seconds_per_step": seconds_per_step(mode)}
    return out


def table(res: dict) -> str:
    lines = ["| conditioning | step | gap held-out | gap drawn | NLL held-out (cond / null) | s/step |",
             "|---|---|---|---|---|---|"]
    for mode, run in res["runs"].items():
        sps = run["seconds_per_step"]
        for step, row in sorted(run["steps"].items(), key=lambda kv: int(kv[0])):
            h, d = row["held_out"], row["drawn"]
            lines.append(f"| {mode} | {step} | {h['gap']:.3f} | {d['gap']:.3f} | {h['nll_cond']:.3f} / "
                         f"{h['nll_null']:.3f} | {sps:.2f} |" if sps else f"| {mode} | {step} | {h['gap']:.3f} | "
                         f"{d['gap']:.3f} | {h['nll_cond']:.3f} / {h['nll_null']:.3f} | - |")
    adh = [(mode, step, g, row[f"adherence_g{g:g}"]) for mode, run in res["runs"].items()
           for step, row in run["steps"].items() for g in (1.0, 2.0) if f"adherence_g{g:g}" in row]
    if adh:
        lines += ["", "| conditioning | step | guidance | mIoU per image (floor / ceiling / render) | pooled | "
                  "diversity |", "|---|---|---|---|---|---|"]
        for mode, step, g, a in adh:
            lines.append(f"| {mode} | {step} | {g:g} | {a['miou_per_image']:.3f} ({a['miou_per_image_floor_mismatched']:.3f}"
                         f" / {a['miou_per_image_ceiling_vqgan_recon']:.3f} / {a['miou_per_image_matching_render']:.3f})"
                         f" | {a['miou_pooled']:.3f} | {a['diversity_mse']:.3f} |")
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, which, title in zip(axes, ("held_out", "drawn"), ("held-out pairs", "drawn maps + matching renders")):
        for mode, run in res["runs"].items():
            steps = sorted(run["steps"], key=int)
            ax.plot([int(s) for s in steps], [run["steps"][s][which]["gap"] for s in steps], "o-", label=mode)
        ax.set_title(title)
        ax.set_xlabel("training step (batch 8)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NLL gap per token (null - cond)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def speed(reps: int) -> str:
    """Interleaved timings of a training step and of sampling one image, both conditionings."""
    import time

    from benchmarks.machine import cpu_name
    from taming_lite.sampling import SamplingSettings
    from taming_lite.train import load_config
    from taming_lite.train.data import build_dataset
    from taming_lite.train.transformer_trainer import build_model

    torch.set_num_threads(1)
    nets, batches = {}, {}
    for mode in MODES:
        cfg = load_config("transformer", CONFIG, [f"data.root={HELD_OUT}", f"first_stage={ROOT / 'weights' / 'vqgan_image'}",
                                                 *([] if mode == "aligned" else [f"cond_stage={ROOT / 'weights' / 'vqgan_labels'}"]),
                                                 *MODES[mode]])
        ds = build_dataset(cfg.data)
        net = build_model(cfg, ds)
        images = torch.stack([ds[i]["image"] for i in range(8)])
        onehot = torch.stack([ds[i]["labels"] for i in range(8)])
        z = net.encode_to_z(images)[1]
        c = onehot if mode == "aligned" else net.encode_to_c(onehot)[1]
        nets[mode] = (net, torch.optim.AdamW(net.trainable.parameters(), lr=1e-4))
        batches[mode] = (z, c, net.encode_to_c(onehot[:1])[0 if mode == "aligned" else 1])
    times = {(m, k): [] for m in MODES for k in ("train", "sample")}
    for r in range(reps + 1):
        for mode, (net, opt) in nets.items():
            z, c, c1 = batches[mode]
            net.train()
            t0 = time.perf_counter()
            logits, target = net.forward_indices(z, c)
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1)).backward()
            opt.step()
            opt.zero_grad()
            t1 = time.perf_counter()
            net.eval()
            cond = c1 if mode == "aligned" else c1.reshape(1, 16, 16)
            for _ in net.iter_grid(cond, torch.zeros((1, 16, 16), dtype=torch.long), SamplingSettings(seed=0)):
                pass
            t2 = time.perf_counter()
            if r:  # the first round warms up
                times[(mode, "train")].append(t1 - t0)
                times[(mode, "sample")].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [f"{cpu_name()}, 1 thread, {reps} interleaved rounds (medians), {time.strftime('%Y-%m-%d %H:%M')}",
             "", "| conditioning | sequence | training step (batch 8) | sampling one image (256 tokens) |",
             "|---|---|---|---|"]
    for mode in MODES:
        seq = nets[mode][0].transformer.config.block_size
        lines.append(f"| {mode} | {seq} | {med[(mode, 'train')]:.2f} s | {med[(mode, 'sample')]:.2f} s |")
    lines.append(f"| aligned / prefix | | {med[('aligned', 'train')] / med[('prefix', 'train')]:.2f} | "
                 f"{med[('aligned', 'sample')] / med[('prefix', 'sample')]:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("data")
    t = sub.add_parser("train")
    t.add_argument("--mode", choices=tuple(MODES), required=True)
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--max-minutes", type=float, default=None)
    sp = sub.add_parser("speed")
    sp.add_argument("--reps", type=int, default=10)
    e = sub.add_parser("eval")
    e.add_argument("--adherence-at", type=int, nargs="*", default=[1000])
    e.add_argument("--held-out", type=int, default=300)
    e.add_argument("--drawn", type=int, default=100)
    e.add_argument("--user-conditions", type=int, default=24)
    e.add_argument("--samples", type=int, default=3)
    e.add_argument("--json", default=None)
    e.add_argument("--plot", default=None)
    e.add_argument("--from-json", default=None, help="print the table (and plot) of an earlier eval")
    e.add_argument("--modes", nargs="+", default=list(MODES), choices=tuple(MODES))
    e.add_argument("--merge", default=None, help="add to the runs of this earlier --json (other modes kept)")
    args = p.parse_args(argv)
    if args.cmd == "data":
        make_data()
    elif args.cmd == "train":
        train(args.mode, args.steps, args.max_minutes)
    elif args.cmd == "speed":
        print(speed(args.reps))
    else:
        if args.from_json:
            res = json.loads(Path(args.from_json).read_text())
        else:
            torch.set_num_threads(max(1, torch.get_num_threads()))
            res = evaluate(args.modes, args.adherence_at, args.held_out, args.drawn, args.user_conditions, args.samples)
            if args.merge:
                old = json.loads(Path(args.merge).read_text())
                res["runs"] = {**old["runs"], **res["runs"]}
        print(table(res))
        if args.json and not args.from_json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        if args.plot:
            plot(res, Path(args.plot))


if __name__ == "__main__":
    main()
