"""The tasks: one module each (`completion`, `depth`, `labels`, `superres`, `pose`), one `Task` per module.

    from taming_lite.tasks import TASK_NAMES, spec
    spec("depth").condition        # "depth": what a user gives; spec("depth").data_key: its data set key
    spec("depth").api_name         # "depth": the tab's endpoint /depth

A task (`taming_lite.tasks.base.Task`) says what a user gives and how it becomes the condition, which
models fit it, its API name and sampling defaults and its placeholder model; the pipeline, the tabs, the
data sets, evaluation and training all read it from here. A new task: one module with a `Task` subclass
instance, `register(task)`, and a tab module in demos/. Everything that depends on a *model* (image size,
strides, window) is a property of the `Pipeline`, read from the model's config.

Importing this package imports neither torch nor the rest of taming_lite (the task modules import what
they need inside their methods).
"""

from __future__ import annotations

from . import completion, depth, labels, pose, superres
from .base import (DEFAULT_SAMPLING, PLACEHOLDER_IMAGE_SIZE, PLACEHOLDER_SEED, Job, Task, TaskMismatch,
                   describe_condition)
from .base import check_fits as _check_fits
from .base import placeholder_model as _placeholder_model

TaskSpec = Task  # the name before tasks became modules

TASKS: dict[str, Task] = {}
TASK_NAMES: tuple[str, ...] = ()


def register(task: Task) -> Task:
    """Add (or replace) a task; returns it. `TASK_NAMES` follows."""
    global TASK_NAMES
    TASKS[task.name] = task
    TASK_NAMES = tuple(TASKS)
    return task


def unregister(name: str) -> None:
    global TASK_NAMES
    TASKS.pop(name, None)
    TASK_NAMES = tuple(TASKS)


for _module in (completion, depth, labels, superres, pose):
    register(_module.TASK)


def spec(task: str | Task) -> Task:
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    return TASKS[task]


def condition_tasks(cfg) -> list[str]:
    """The tasks whose condition a Net2Net config can take (by the cond stage's layout)."""
    return [name for name, t in TASKS.items() if t.fits(cfg)]


def check_fits(task: str, model, extra: dict, name: str) -> None:
    """Raise TaskMismatch for a model that cannot sample for `task`, saying what it is and where it fits."""
    _check_fits(spec(task), TASKS, model, extra, name)


def task_for(model, name: str, task: str | None = None, entry_task: str | None = None,
             extra: dict | None = None) -> str:
    """The task a loaded model samples for, checked (`check_fits`): `task`, else its registry entry's, else the
    one it was trained for (`extra["task"]`), else the first whose condition its config takes. TaskMismatch
    for a model no task samples with; `name` says which model in the messages."""
    extra = extra or {}
    if task is None:
        task = entry_task if entry_task in TASKS else extra.get("task")
        if task not in TASKS:
            fits = condition_tasks(model.config) if hasattr(getattr(model, "config", None), "cond_stage") else []
            task = fits[0] if fits else None
    if task is None:
        raise TaskMismatch(f"{name} is a {type(model).__name__}: no task samples with it")
    check_fits(task, model, extra, name)
    return task


def placeholder_model(task: str):
    """A tiny, randomly initialised Net2NetTransformer with the task's condition layout (seeded)."""
    return _placeholder_model(spec(task))


def __getattr__(name: str):
    if name == "COCO_STUFF_CLASSES":  # lives with the label classes; read lazily (nothing heavy at import)
        from ..data.labels import COCO_STUFF_CLASSES

        return COCO_STUFF_CLASSES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
