"""Small helpers shared by the notebooks: find the repository, fast mode, loading the shipped
weights, turning tensors into pictures, GIFs and a 3D point view. Nothing here is part of the
method; every notebook shows the method's own calls (`taming_lite.*`) in its cells.

    import _nbutils as nb
    device = nb.setup()                  # threads, device, fast/full mode, matplotlib defaults
    vq = nb.load_weights("vqgan_image")  # None (with a printed note) if weights/vqgan_image is missing
    nb.show([img1, img2], ["input", "reconstruction"])   # returns None: no figure drawn twice
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import numpy as np


def find_repo(start: str | os.PathLike | None = None) -> Path:
    """The repository root: the first folder at or above `start` (default: cwd) holding
    taming_lite/__init__.py, or a `taming-lite` clone next to it (Colab)."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "taming_lite" / "__init__.py").is_file():
            return d
        if (d / "taming-lite" / "taming_lite" / "__init__.py").is_file():
            return d / "taming-lite"
    mine = Path(__file__).resolve().parent.parent  # notebooks/.. when imported from the repo
    if (mine / "taming_lite" / "__init__.py").is_file():
        return mine
    raise FileNotFoundError(f"cannot find the taming-lite repository at or above {here}; "
                            "run the notebook from the repository's notebooks/ folder")


REPO = find_repo()
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `import taming_lite` works without `pip install -e .`

FAST = os.environ.get("TAMING_LITE_FAST", "0").strip().lower() not in ("", "0", "false", "no", "off")


def fast(fast_value, full_value):
    """The fast-mode value (CI, a 2-core CPU) or the full-mode value (Colab with a GPU, patience)."""
    return fast_value if FAST else full_value


def setup(threads: int = 1, seed: int = 0):
    """One thread on CPU (a shared 2-core machine is faster that way), the device (CUDA > MPS > CPU,
    or $TAMING_LITE_DEVICE), matplotlib defaults. Returns the device."""
    import matplotlib
    import matplotlib.pyplot as plt
    import torch

    from taming_lite import pick_device

    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: text bars
    _inline_figures()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    device = pick_device()
    plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 9, "font.size": 9, "image.interpolation": "nearest"})
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "no GPU"
    print(f"device: {device} ({name}); torch {torch.__version__}; repository: {REPO}")
    print(f"mode: {'FAST (TAMING_LITE_FAST=1: few samples, small sizes)' if FAST else 'full'}; "
          f"matplotlib backend {matplotlib.get_backend()}")
    return device


def _inline_figures():
    """Figures inline in a Jupyter kernel even when MPLBACKEND=Agg is exported (CI does that)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None and getattr(ip, "kernel", None) is not None:
        ip.run_line_magic("matplotlib", "inline")


def weights_dir(name: str) -> Path:
    """weights/<name> in the repository ($TAMING_LITE_WEIGHTS names another weights folder, as for the app)."""
    return Path(os.environ.get("TAMING_LITE_WEIGHTS") or REPO / "weights") / name


def have_weights(name: str) -> bool:
    return (weights_dir(name) / "config.json").is_file() and (weights_dir(name) / "model.safetensors").is_file()


def load_weights(name: str, device=None):
    """`load_pretrained("weights/<name>")` from the repository root, in eval mode; None with a note
    when the folder is not there (e.g. a checkout made before the weights were trained)."""
    from taming_lite import load_pretrained

    if not have_weights(name):
        print(f"NOTE: weights/{name} is missing (no config.json + model.safetensors there); "
              "the parts of this notebook that need it are skipped or use a stand-in, as said below.")
        return None
    model = load_pretrained(weights_dir(name), device=device)
    extra = _extra(name)
    n = sum(p.numel() for p in model.parameters())
    print(f"loaded weights/{name}: {type(model).__name__}, {n / 1e6:.2f}M parameters"
          + (f", task {extra.get('task')}" if extra.get("task") else "")
          + (f", {extra.get('image_size')} px images" if extra.get("image_size") else ""))
    return model


def _extra(name: str) -> dict:
    import json

    try:
        return json.loads((weights_dir(name) / "config.json").read_text()).get("extra") or {}
    except (OSError, ValueError):
        return {}


# ----------------------------------------------------------------------------- pictures


def to_rgb(x) -> np.ndarray:
    """A tensor (3, H, W) / (B, 3, H, W) / (1, H, W) in [-1, 1], or a uint8 array -> uint8 (H, W, 3)
    or (B, H, W, 3). One-channel inputs become grey."""
    if isinstance(x, np.ndarray):
        return x
    x = x.detach().float().cpu().clamp(-1, 1)
    if x.dim() == 3:
        x = x[None]
        single = True
    else:
        single = False
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    out = ((x + 1) * 127.5).round().to(dtype=__import__("torch").uint8).permute(0, 2, 3, 1).numpy()
    return out[0] if single else out


def show(images, titles=None, cols: int | None = None, size: float = 1.8, suptitle: str | None = None,
         cmap=None, row_labels=None) -> None:
    """Show a list of images (tensors or arrays) in a grid. Returns None on purpose: a figure returned as
    the last value of a cell would be drawn a second time by Jupyter. `image_grid` builds the same figure
    without showing it, for a caller that wants to add to it."""
    import matplotlib.pyplot as plt

    image_grid(images, titles, cols, size, suptitle, cmap, row_labels)
    plt.show()


def image_grid(images, titles=None, cols: int | None = None, size: float = 1.8, suptitle: str | None = None,
               cmap=None, row_labels=None):
    """The figure of `show`, not shown yet (call plt.show() when done); returns (fig, axes)."""
    import matplotlib.pyplot as plt

    images = list(images)
    n = len(images)
    cols = cols or n
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (0.3 if suptitle else 0)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        im = images[k]
        im = im if isinstance(im, np.ndarray) else to_rgb(im)
        ax.imshow(im, cmap=cmap)
        if titles is not None and k < len(titles) and titles[k]:
            ax.set_title(titles[k])
        if row_labels is not None and k % cols == 0:
            ax.set_ylabel(row_labels[k // cols])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig, axes


def gif(frames, ms: int = 120, scale: int = 2):
    """Frames (uint8 (H, W, 3) arrays) -> an animated GIF shown in the notebook (IPython Image)."""
    from IPython.display import Image as IPImage
    from PIL import Image

    ims = [Image.fromarray(np.asarray(f)) for f in frames]
    if scale > 1:
        ims = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in ims]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=ms, loop=0)
    return IPImage(data=buf.getvalue(), format="gif")


def fig_to_array(fig) -> np.ndarray:
    """Render a matplotlib figure to a uint8 RGB array (for GIF frames)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def depth_points(rgb: np.ndarray, depth01: np.ndarray, depth_range: float = 4.0, sky: float = 0.02):
    """A coloured point cloud from an image and its disparity (near = 1, sky = 0): pixel (u, v) is put
    on its camera ray at distance 1 + (1 - d) * depth_range. Sky pixels (d < sky) are dropped.
    Returns x (right), y (forward, away from the camera), z (up) and colours in [0, 1]."""
    H, W = depth01.shape
    dist = 1.0 + (1.0 - depth01) * depth_range
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    f = max(H, W)
    x = (u - (W - 1) / 2) / f * dist
    z = -(v - (H - 1) / 2) / f * dist
    keep = depth01.reshape(-1) >= sky
    cols = rgb.reshape(-1, 3)[keep] / 255.0
    return x.reshape(-1)[keep], dist.reshape(-1)[keep], z.reshape(-1)[keep], cols


def orbit_views(rgb: np.ndarray, depth01: np.ndarray, azimuths, size: float = 2.6, point_size: float = 6.0):
    """Render the point cloud of `depth_points` from a list of azimuths (degrees, 0 = seen from the
    camera); returns the list of frames (uint8 arrays)."""
    import matplotlib.pyplot as plt

    x, y, z, cols = depth_points(rgb, depth01)
    frames = []
    for az in azimuths:
        fig = plt.figure(figsize=(size, size))
        ax = fig.add_subplot(projection="3d")
        ax.scatter(x, y, z, c=cols, s=point_size, marker="s", linewidths=0, depthshade=False)
        ax.view_init(elev=15, azim=-90 + az)  # azim -90: looking along +y, i.e. from the camera
        ax.set_box_aspect((np.ptp(x), np.ptp(y), np.ptp(z)))
        ax.set_axis_off()
        fig.subplots_adjust(0, 0, 1, 1)
        frames.append(fig_to_array(fig))
        plt.close(fig)
    return frames


def sync(device=None):
    """Wait for queued GPU work, so that wall-clock timings mean something on CUDA."""
    import torch

    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        torch.cuda.synchronize()


class Timer:
    """with Timer(device) as t: ...; t.seconds (synchronises CUDA before and after)"""

    def __init__(self, device=None):
        self.device = device

    def __enter__(self):
        sync(self.device)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        sync(self.device)
        self.seconds = time.perf_counter() - self.t0
        return False


def held_out(task: str, size: int, n: int, start: int = 0):
    """Items `start .. start + n` of the procedural data set of `task`, with base seed 1: never seen
    in training (the trainers use seed 0), as `taming_lite.evaluate` does."""
    from taming_lite.data.datasets import make_dataset

    ds = make_dataset(task, size=size, length=start + n, seed=1)
    return [ds[i] for i in range(start, start + n)]


def stack(items, key: str):
    import torch

    return torch.stack([it[key] for it in items])


def untrained_stand_in(task: str, device=None):
    """A Net2NetTransformer of the shipped preview shape (64x64 input images, 16x16 tokens, GPT 4 x 256) whose GPT
    and condition encoder are *untrained* (random weights), on the shipped image VQGAN when it exists (its decoder
    then draws 128 px, as shipped). Conditioned tasks are aligned, as the shipped models (a CondEncoder of the raw
    condition); completion starts from a start token. Its samples are noise; it only lets the mechanics
    (sequence layout, cache, timings) run when weights/<task> is missing."""
    import torch

    from taming_lite import load_pretrained
    from taming_lite.cond_encoder import CondEncoderConfig
    from taming_lite.data.labels import NUM_CLASSES
    from taming_lite.gpt import GPTConfig
    from taming_lite.net2net import Net2NetConfig, Net2NetTransformer
    from taming_lite.vqgan import VQGANConfig

    first = load_pretrained(weights_dir("vqgan_image")) if have_weights("vqgan_image") else None
    first_cfg = first.config if first is not None else VQGANConfig(
        ch=32, ch_mult=(1, 2, 4), num_res_blocks=1, attn_resolutions=(), z_channels=64, resolution=64, embed_dim=32,
        n_embed=512)
    cond = {"depth": dict(in_channels=1), "labels": dict(in_channels=NUM_CLASSES, n_labels=NUM_CLASSES),
            "pose": dict(in_channels=3), "superres": dict(in_channels=3, resolution=16, downsample=1)}.get(task)
    kw = {}
    if cond is not None:
        kw = dict(conditioning="aligned", cond_upsample=2 if task == "superres" else 1,
                  cond_stage=CondEncoderConfig(**dict(dict(n_embd=256, resolution=64, downsample=4), **cond)))
    torch.manual_seed(0)
    gpt = GPTConfig(vocab_size=first_cfg.n_embed, block_size=256, n_layer=4, n_head=8, n_embd=256)
    net = Net2NetTransformer(Net2NetConfig(first_stage=first_cfg, transformer=gpt, **kw))
    if first is not None:
        net.first_stage_model.load_state_dict(first.state_dict())
    print(f"NOTE: using an UNTRAINED stand-in for weights/{task} (random GPT weights): its samples are noise; "
          "the sequence layout, cache and timings shown are still real.")
    return net.eval().to(device)


def workdir(prefix: str) -> Path:
    """A fresh temporary folder for a notebook's training runs, removed when the kernel exits."""
    import atexit
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
