"""What a task is: `Task`, the one unit the pipeline, the tabs, the data sets, evaluation and training read.

A task says what a user gives (`condition`, `describe`), where its training data comes from (`data_key`,
`source`, `sources`), its API name and sampling defaults, and three things that need a model:

- `fits(config)`: whether a Net2Net config takes this task's condition (by its cond stage's layout);
- `condition_tensor(pipe, condition, height, width)`: the user's input -> what the cond stage reads;
- `prepare(pipe, condition, height, width, **kw)`: the user's input -> a `Job` (condition tokens or features,
  the token grid, what is given); the default encodes `condition_tensor`; completion overrides it;
- `placeholder_cond_stage()`: the cond stage of the tiny random model a tab samples with before weights exist.

A new task is one module defining a `Task` subclass instance, registered with `taming_lite.tasks.register`.
Nothing heavy is imported here at import time (no torch): the data sets and the registry read the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

# the sampling defaults of every task unless it says otherwise (None = no limit / off)
DEFAULT_SAMPLING = MappingProxyType({"temperature": 1.0, "top_k": 100, "top_p": None})


class TaskMismatch(ValueError):
    """A model that cannot sample for the task; the message says what it is and which task it fits."""


@dataclass
class Job:
    """What `Pipeline.prepare` returns: everything `iter_sample` needs, plus what was adjusted."""

    cond: Any                # (1, Lc) sequence, or (1, h, w) grid aligned with z; aligned: (1, n_embd, h, w) features
    z: Any                   # (1, h, w) token grid; raster positions < start are given and kept
    start: int = 0
    height: int = 0          # output pixels
    width: int = 0
    condition_image: Any = None  # what the model was given, for display (completion: the input)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class Task:
    """One task. Subclasses override `fits`, `condition_tensor` (or `prepare`) and `placeholder_cond_stage`."""

    name: str
    condition: str            # what the user gives: "image" (completion), "depth", "labels", "lowres", "skeleton"
    data_key: str | None      # the data set's key of the condition tensor (taming_lite.data); None: unconditional
    describe: str             # the condition in words, for messages ("{n}": number of classes)
    api_name: str             # the tab's HTTP endpoint: /<api_name>
    source: str = "landscape"              # the procedural renderer of its data
    sources: tuple[str, ...] = ("landscape",)  # renderers it can train on
    # temperature, top_k, top_p: the first layer of `taming_lite.sampling.SamplingSettings.resolve`
    sampling: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_SAMPLING)

    @property
    def conditional(self) -> bool:
        return self.data_key is not None

    # ------------------------------------------------------------------ what needs a model

    def fits(self, config) -> bool:
        """Whether a Net2Net config (its cond stage) takes this task's condition."""
        raise NotImplementedError

    def condition_tensor(self, pipe, condition, height: int, width: int):
        """The user's condition -> (1, C, Hc, Wc) for the cond stage, for an output of height x width px
        (`pipe.cond_size` gives Hc, Wc)."""
        raise ValueError(f"the {self.name} task takes no condition tensor")

    def prepare(self, pipe, condition, height: int, width: int, given_rows: int = 0,
                class_id: int | None = None) -> Job:
        """The user's input -> a Job for an output of height x width px (multiples of pipe.out_stride).
        given_rows, class_id: completion's; a conditional task samples every token (one call for all tasks)."""
        import torch

        if condition is None:
            raise ValueError(f"the {self.name} task needs {self.describe.format(n=pipe.label_channels)}")
        h, w = pipe.tokens(height, width)
        z = torch.zeros((1, h, w), dtype=torch.long, device=pipe.device)
        return Job(pipe.encode_condition(pipe.condition_tensor(condition, height, width), h, w), z, 0, height, width)

    def placeholder_cond_stage(self):
        """The VQGANConfig of the placeholder model's cond stage (None: unconditional)."""
        return None


# --------------------------------------------------------------------------- which model fits which task


def rgb_condition(config) -> bool:
    """A 3-channel condition image (super-resolution's, pose's)."""
    cs = config.cond_stage
    return cs is not None and not cs.n_labels and cs.in_channels == 3


def lowres_condition(config) -> bool:
    """A condition smaller than the output (super-resolution's)."""
    return config.cond_factor > 1 and config.cond_stage.resolution < config.first_stage.resolution


def describe_condition(cfg) -> str:
    cs = cfg.cond_stage
    if cs is None and getattr(cfg, "n_classes", 0):
        return f"a class id (one of {cfg.n_classes} classes) and nothing else"
    if cs is None:
        return "nothing (an unconditional model)"
    if cs.n_labels:
        return f"a label map with {cs.n_labels} classes"
    return f"a {cs.in_channels}-channel {cs.resolution} px input"


def check_fits(task: Task, tasks: Mapping[str, Task], model, extra: dict, name: str) -> None:
    """Raise TaskMismatch for a model that cannot sample for `task`, saying what it is and where it fits."""
    from ..data.labels import NUM_CLASSES
    from ..net2net import Net2NetTransformer

    if not isinstance(model, Net2NetTransformer):
        raise TaskMismatch(f"{name} is a {type(model).__name__}, not a conditional transformer: it cannot sample "
                           f"images for this tab (a VQGAN alone is a first stage: reconstruction, or training a "
                           f"transformer on top of it). Pick a Net2NetTransformer for {task.name}.")
    trained_for = extra.get("task")
    if trained_for in tasks and trained_for != task.name:
        raise TaskMismatch(f"{name} was trained for the {trained_for} tab, not {task.name}: pick it there")
    if not task.fits(model.config):
        fits = [t.name for t in tasks.values() if t.fits(model.config)]
        other = f"; it fits the {' or '.join(fits)} tab" if fits else ""
        raise TaskMismatch(f"{name} is conditioned on {describe_condition(model.config)}, but this tab gives "
                           f"{task.describe.format(n=NUM_CLASSES)}{other}")


# --------------------------------------------------------------------------- placeholders

PLACEHOLDER_IMAGE_SIZE = 64  # pixels; 8 x 8 tokens with a stride of 8
PLACEHOLDER_SEED = 0


def placeholder_vqgan(in_ch: int, resolution: int = PLACEHOLDER_IMAGE_SIZE, ch_mult=(1, 1, 2, 2),
                      n_labels: int | None = None, n_embed: int = 64):
    """A tiny VQGANConfig (stride 2 ** (len(ch_mult) - 1)) for placeholder models."""
    from ..vqgan import VQGANConfig

    return VQGANConfig(ch=32, ch_mult=tuple(ch_mult), num_res_blocks=1, attn_resolutions=(), z_channels=32,
                       resolution=resolution, in_channels=in_ch, out_ch=in_ch, embed_dim=32, n_embed=n_embed,
                       n_labels=n_labels)


def placeholder_model(task: Task):
    """A tiny, randomly initialised Net2NetTransformer with the task's condition layout (seeded): 64 x 64 px
    images, 8 x 8 tokens."""
    import torch

    from ..gpt import GPTConfig
    from ..net2net import Net2NetConfig, Net2NetTransformer

    S = PLACEHOLDER_IMAGE_SIZE
    first = placeholder_vqgan(3, S)  # stride 8 -> 8 x 8 tokens
    cond = task.placeholder_cond_stage()
    n_tok = (S // 8) ** 2
    n_cond = 1 if cond is None else n_tok
    gpt = GPTConfig(vocab_size=64, block_size=n_cond + n_tok, n_layer=2, n_head=2, n_embd=64)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(PLACEHOLDER_SEED)
        model = Net2NetTransformer(Net2NetConfig(first_stage=first, transformer=gpt, cond_stage=cond))
    return model.eval()
