"""Adherence and diversity against the guidance scale, from `python -m taming_lite.evaluate --json`.

    python -m taming_lite.evaluate --only labels pose --guidance 1 2 4 --user-style-only --json curve.json
    python -m scripts.plot_guidance_curve curve.json --out docs/guidance_curve.png

One panel per task found in the file (rows "<task> (user-style, guidance g)"): the adherence metric (labels
mIoU per image and pooled, pose PCK@0.1, depth deviation-Spearman) with its floor and its ceiling (a
matching render through the image VQGAN) as dashed lines, and the diversity on a second axis.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRICS = {"labels": ("miou_per_image", "miou_pooled"), "pose": ("pck",), "depth": ("spearman_deviation",)}
ROW = re.compile(r"^(\w+) \(user-style, guidance ([0-9.]+)\)$")


def curves(results: dict) -> dict:
    """{task: {"g": [...], metric: [...], "diversity_mse": [...], metric_floor/ceiling: value}} by guidance."""
    out: dict = {}
    for name, row in results.items():
        m = ROW.match(name)
        if not m or m.group(1) not in METRICS or not isinstance(row.get("diversity_mse"), (int, float)):
            continue
        out.setdefault(m.group(1), []).append((float(m.group(2)), row))
    table = {}
    for task, rows in out.items():
        rows.sort(key=lambda r: r[0])
        t = {"g": [g for g, _ in rows], "diversity_mse": [r["diversity_mse"] for _, r in rows]}
        for metric in METRICS[task]:
            t[metric] = [r[metric] for _, r in rows]
            for ref in ("floor_mismatched", "ceiling_vqgan_recon"):
                t[f"{metric}_{ref}"] = rows[0][1].get(f"{metric}_{ref}")
        table[task] = t
    return table


def plot(table: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, len(table), figsize=(4.6 * len(table), 3.4), squeeze=False)
    for ax, (task, t) in zip(axes[0], sorted(table.items())):
        for metric, color in zip(METRICS[task], ("C0", "C2")):
            ax.plot(t["g"], t[metric], "o-", color=color, label=metric)
            for ref, style in (("floor_mismatched", ":"), ("ceiling_vqgan_recon", "--")):
                if t.get(f"{metric}_{ref}") is not None:
                    ax.axhline(t[f"{metric}_{ref}"], color=color, ls=style, lw=1, label=f"{metric} {ref.split('_')[0]}")
        ax.set_xlabel("guidance scale (1 = off)")
        ax.set_title(f"{task}: drawn conditions")
        ax.legend(fontsize=7, loc="upper left")
        div = ax.twinx()
        div.plot(t["g"], t["diversity_mse"], "s--", color="C3")
        div.set_ylabel("diversity (pairwise MSE)", color="C3")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", help="the file of python -m taming_lite.evaluate --json")
    p.add_argument("--out", default="docs/guidance_curve.png")
    args = p.parse_args(argv)
    table = curves(json.loads(Path(args.json).read_text())["results"])
    if not table:
        p.error(f"{args.json} has no user-style rows with a guidance scale")
    plot(table, Path(args.out))
    for task, t in sorted(table.items()):
        cols = [m for m in METRICS[task]] + ["diversity_mse"]
        print(f"{task}: " + "; ".join(f"g {g:g}: " + ", ".join(f"{c} {t[c][i]:.3f}" for c in cols)
                                      for i, g in enumerate(t["g"])))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
