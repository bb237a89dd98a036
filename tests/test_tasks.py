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


def test_a_new_task_is_one_task_module_and_one_tab_module(tmp_path):
    """A sixth task, defined here alone (its task module: a Task subclass, registered; its tab module: TASK and
    build): the pipeline, the model store, the shared controls and the tab's endpoint take it as they are."""
    from dataclasses import dataclass

    import gradio as gr
    import numpy as np
    import torch

    from demos import common, models
    from taming_lite.tasks.base import Task, placeholder_vqgan

    @dataclass(frozen=True, eq=False)
    class Edges(Task):  # the task module: a 2-channel edge map (horizontal, vertical) at the output's size
        def fits(self, config) -> bool:
            return config.cond_stage is not None and config.cond_stage.in_channels == 2

        def condition_tensor(self, pipe, condition, height, width):
            a = torch.as_tensor(np.asarray(condition, np.float32))[None]  # (1, 2, H, W) in [0, 1]
            return torch.nn.functional.interpolate(a, size=pipe.cond_size(height, width)) * 2 - 1

        def placeholder_cond_stage(self):
            return placeholder_vqgan(2)

    def stripes(n) -> np.ndarray:
        e = np.zeros((2, 64, 64), np.float32)
        e[0, :: max(1, int(n))] = 1
        return e

    def run(store, n, seed, temperature, top_k, top_p, num_samples, height, width):  # the tab module
        tm = store.get_model("edges")
        params, notes = common.parse_controls(tm, seed, temperature, top_k, top_p, num_samples, height, width)
        for step in common.stream(tm, tm.prepare(stripes(n), (params["height"], params["width"])), params):
            yield common.gallery(step.images), common.run_info(tm, store.record("edges"), params, step.done,
                                                               step.total, notes, 0.0)

    def build(store):
        n = gr.Number(8, label="stripe period")
        controls = common.sampling_controls(store.default_shape("edges"))
        out, info = gr.Gallery(), gr.Markdown()
        gr.Button("Generate").click(lambda *a: (yield from run(store, *a)), [n] + controls.inputs(), [out, info],
                                    api_name=tasks.spec("edges").api_name)

    tasks.register(Edges("edges", "edges", "edges", "a 2-channel edge map", api_name="edges"))
    try:
        assert "edges" in tasks.TASK_NAMES and tasks.spec("edges").sampling["top_k"] == 100
        pipe = models.placeholder("edges", "cpu")
        assert tasks.condition_tasks(pipe.model.config) == ["edges"]  # no other task takes its condition
        (img,) = pipe.sample(pipe.prepare(stripes(4), (64, 128)), seed=0)  # wider than the window: sliding
        assert img.shape == (64, 128, 3)
        store = models.ModelStore(weights_root=tmp_path, device="cpu")
        assert store.is_placeholder("edges") and store.default_shape("edges")["image_size"] == 64
        with gr.Blocks() as demo:
            build(store)
        assert "edges" in [d.get("api_name") for d in demo.config["dependencies"]]
        *_, (gallery, info) = run(store, 8, 1, 1.0, 0, 1.0, 1, 64, 64)  # the API's spellings: 0 / 1 = off
        assert len(gallery) == 1 and "**done**" in info
    finally:
        tasks.unregister("edges")
    assert "edges" not in tasks.TASK_NAMES
