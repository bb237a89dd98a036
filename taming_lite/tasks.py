"""The five tasks, in one place: what each task *is*, independent of any model.

    from taming_lite.tasks import TASK_NAMES, spec
    spec("depth").condition        # "depth": what a user gives; spec("depth").data_key: its data set key

`TASKS` holds one frozen `TaskSpec` per task: its condition (what a user gives and how it becomes
the condition tensor), the data set key of that condition, the renderer its data comes from, and the
sampling defaults. Everything that depends on a *model* (image size, strides, window) is a property
of the `Pipeline` (`taming_lite.pipeline`), read from the model's config.

This module imports nothing of taming_lite (nor torch): the data sets, the registry, the trainers,
the evaluators and the pipeline all read the table from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """What a task is, independent of any model."""

    name: str
    condition: str            # what the user gives: "image" (completion), "depth", "labels", "lowres", "skeleton"
    data_key: str | None      # the data set's key of the condition tensor (taming_lite.data); None: unconditional
    describe: str             # the condition in words, for messages ("{n}": number of classes)
    source: str = "landscape"              # the procedural renderer of its data
    sources: tuple[str, ...] = ("landscape",)  # renderers it can train on
    temperature: float = 1.0
    top_k: int = 100
    top_p: float = 1.0
    api_name: str = ""

    @property
    def conditional(self) -> bool:
        return self.data_key is not None


TASKS: dict[str, TaskSpec] = {s.name: s for s in (
    TaskSpec("completion", "image", None, "no condition (an unconditional model with a start token)",
             sources=("landscape", "human", "both"), api_name="complete"),
    TaskSpec("depth", "depth", "depth", "a 1-channel depth map", sources=("landscape", "layout"), api_name="depth"),
    TaskSpec("labels", "labels", "labels", "a one-hot label map with {n} classes", sources=("landscape", "layout"),
             api_name="labels"),
    TaskSpec("superres", "lowres", "lowres4", "a low-resolution RGB image (condition grid from a smaller input)",
             sources=("landscape", "human", "both"), api_name="superres"),
    TaskSpec("pose", "skeleton", "skeleton", "an RGB skeleton image the size of the output", source="human",
             sources=("human", "human_wide"), api_name="pose"),
)}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
COCO_STUFF_CLASSES = 182  # S-FLCKR's one-hot layout: np.eye(182)[segmentation], COCO-Stuff ids 0..181


def spec(task: str) -> TaskSpec:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASK_NAMES)}")
    return TASKS[task]
