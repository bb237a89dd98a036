"""Shared bits of the training tests: tiny configs pointed at a temp dir, metric columns."""

from pathlib import Path

from taming_lite.train import load_config, read_metrics

REPO = Path(__file__).resolve().parents[1]
TINY_VQGAN = REPO / "configs" / "tiny_vqgan.yaml"
TINY_TRANSFORMER = REPO / "configs" / "tiny_transformer.yaml"


def tiny_vqgan(tmp: Path, name: str, *overrides: str):
    return load_config("vqgan", TINY_VQGAN, [f"out_dir={tmp / name}", "progress=false", *overrides])


def tiny_transformer(tmp: Path, name: str, first: Path, cond: Path | None, *overrides: str):
    stages = [f"first_stage={first}", f"cond_stage={cond}" if cond else "cond_stage=null"]
    if cond is None:
        stages.append("data.cond_key=null")
    return load_config("transformer", TINY_TRANSFORMER, [f"out_dir={tmp / name}", "progress=false", *stages, *overrides])


def column(run_dir: Path, name: str) -> list[float]:
    return [float(r[name]) if r.get(name) else None for r in read_metrics(Path(run_dir) / "metrics.csv")]


def mean(xs):
    return sum(xs) / len(xs)


RECIPE_ENV = ("MAX_MINUTES", "RESUME", "RUNS", "OUT", "TASKS", "BASE", "QUICK")


def run_recipe(root: Path, script: str, timeout: float = 2400, **env):
    """scripts/<script> in quick mode from a copy of the repository's scripts/ and configs/ in root, with only
    the recipe variables given here (none inherited from the caller's environment)."""
    import os
    import subprocess

    full = {k: v for k, v in os.environ.items() if k not in RECIPE_ENV}
    full.update(PYTHONPATH=str(REPO), QUICK="1", **env)
    return subprocess.run(["bash", str(root / "scripts" / script)], cwd=root, env=full, capture_output=True,
                          text=True, timeout=timeout)
