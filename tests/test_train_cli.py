"""`python -m taming_lite.train`: a smoke run, overrides, errors without tracebacks, Ctrl-C saves a checkpoint."""

import os
import signal
import subprocess
import sys
import time

import pytest

from taming_lite.train import load_config

from _train_helpers import REPO, TINY_VQGAN

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "taming_lite.train", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_smoke_and_resume(tmp_path):
    out, export = tmp_path / "run", tmp_path / "export"
    r = cli("vqgan", "--config", str(TINY_VQGAN), "steps=3", "ckpt_every=2", f"out_dir={out}", f"export_dir={export}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (export / "config.json").is_file() and (export / "model.safetensors").is_file()
    assert (out / "checkpoints" / "step_0000002").is_dir() and (out / "checkpoints" / "final").is_dir()
    r = cli("vqgan", "--config", str(TINY_VQGAN), "steps=4", f"out_dir={out}", "--resume", str(out / "checkpoints" / "step_0000002"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "at step 2" in r.stdout
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 4
    # `--resume key=value ...`: the override is not taken for --resume's PATH (it resumes from out_dir)
    r = cli("vqgan", "--config", str(TINY_VQGAN), "--resume", "steps=5", f"out_dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "at step 4" in r.stdout and len((out / "metrics.csv").read_text().splitlines()) == 1 + 5


def test_cli_errors_are_messages(tmp_path):
    r = cli("vqgan", "--config", str(TINY_VQGAN), "stepz=3")
    assert r.returncode == 2 and "unknown key(s) ['stepz']" in r.stderr and "Traceback" not in r.stderr
    r = cli("transformer", "--config", str(REPO / "configs" / "tiny_transformer.yaml"),
            f"first_stage={tmp_path / 'missing'}", f"out_dir={tmp_path / 'o'}")
    assert r.returncode == 2 and "missing" in r.stderr and "Traceback" not in r.stderr
    r = cli("vqgan", "--config", str(TINY_VQGAN), "--print-config", "data.size=64")
    assert r.returncode == 0 and "size: 64" in r.stdout


def test_all_shipped_configs_load():
    paths = sorted((REPO / "configs").rglob("*.yaml"))
    assert any(p.parent.name == "preview" for p in paths)
    for path in paths:  # *vqgan* configs are for the VQGAN trainer, *decoder* ones for the decoder trainer, all others
        kind = "vqgan" if "vqgan" in path.stem else "decoder" if "decoder" in path.stem else "transformer"  # transformer
        load_config(kind, path)


@pytest.mark.timeout(120)
def test_ctrl_c_saves_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "taming_lite.train", "vqgan", "--config", str(TINY_VQGAN),
                          "steps=100000", f"out_dir={out}"], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while not (out / "metrics.csv").is_file() and time.time() < deadline and p.poll() is None:
            time.sleep(0.2)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, stderr[-2000:]
    assert "--resume" in stderr
    latest = (out / "checkpoints" / "latest.txt").read_text().strip()
    assert latest.startswith("step_") and (out / "checkpoints" / latest / "training_state.pt").is_file()


def test_time_budget_exit_status_and_message(tmp_path):
    """max_minutes=: the run stops with a checkpoint and exit status 75 (not 130: nothing went wrong) and
    says how to go on; a negative budget is a usage error."""
    out = tmp_path / "run"
    r = cli("vqgan", "--config", str(TINY_VQGAN), "steps=100000", "max_minutes=0.0001", f"out_dir={out}")
    assert r.returncode == 75, r.stderr[-2000:]
    assert "time budget of 0.0001 min reached" in r.stderr and "--resume" in r.stderr and "Traceback" not in r.stderr
    latest = (out / "checkpoints" / "latest.txt").read_text().strip()
    assert latest.startswith("step_") and (out / "checkpoints" / latest / "training_state.pt").is_file()
    r = cli("vqgan", "--config", str(TINY_VQGAN), "steps=2", "max_minutes=-5", f"out_dir={tmp_path / 'neg'}")
    assert r.returncode == 2 and "max_minutes must be >= 0" in r.stderr and "Traceback" not in r.stderr


def test_stop_at_exit_status_is_zero(tmp_path):
    """stop_at=: a planned end, not an interruption: exit status 0 (a recipe goes on), the checkpoint named."""
    out = tmp_path / "run"
    r = cli("vqgan", "--config", str(TINY_VQGAN), "steps=4", "stop_at=2", f"out_dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stopped at step 2 (stop_at)" in r.stdout and (out / "checkpoints" / "step_0000002").is_dir()
