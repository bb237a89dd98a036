"""taming_lite.tasks: the task table is the one home of the tasks, and it stands alone (no torch, nothing
of ours), so that the data sets, the registry and the trainers can read it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from taming_lite import tasks


def test_the_task_table_is_the_one_home():
    from taming_lite import evaluate, evaluators
    from taming_lite.data import datasets

    assert tasks.TASK_NAMES == ("completion", "depth", "labels", "superres", "pose")
    assert datasets.TASKS == tasks.TASK_NAMES and set(evaluators.TASKS) <= set(tasks.TASK_NAMES)
    assert evaluate.TRANSFORMERS == {"completion": None, "depth": "depth", "labels": "labels", "superres": "lowres4",
                                     "pose": "skeleton"}
    assert datasets.make_dataset("pose", size=32, length=1).source == "human"
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        tasks.spec("nope")


def test_the_table_imports_nothing_heavy():
    code = ("import sys, taming_lite.tasks; print(sorted(m for m in sys.modules if m == 'torch' or "
            "m.startswith('taming_lite.') and not m.startswith('taming_lite.tasks')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr

