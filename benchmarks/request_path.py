"""How many of our files and functions one labels request crosses (issue 40: "one readable path").

One request of the labels tab (`demos.labels.run`, what the HTTP endpoint /labels calls) on a painted
label map, on the untrained placeholder model (no weights needed), traced with `sys.setprofile` after a
warm-up request (so the model load is not counted). Counts the distinct functions of this repository that
run, and their files, in three groups: the layers above the models (app, pipeline, tasks, sampling,
inputs), the model files (gpt, vqgan, net2net, cond_encoder, quantize) and everything in the repo.
It runs on any commit that has `demos/labels.py` with the same `run` signature, so a before/after is:

    python -m benchmarks.request_path                     # this checkout
    git worktree add /tmp/before <commit> && (cd /tmp/before && python -m benchmarks.request_path)

Prints a Markdown table; `--list` also prints the functions above the models, in the order first called.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")  # not functions a reader follows
MODEL_FILES = {"gpt.py", "vqgan.py", "net2net.py", "cond_encoder.py", "quantize.py", "cpu_kernels.py"}


def painted_map(size: int) -> np.ndarray:
    """Sky over mountains over sea, with a sand stroke, in the palette a user paints with: (size, size, 3) uint8."""
    from taming_lite.data.labels import LANDSCAPE_CLASSES

    rgb = {name: np.array(c, np.uint8) for _, name, c in LANDSCAPE_CLASSES}
    img = np.empty((size, size, 3), np.uint8)
    img[:] = rgb["sky-other"]
    img[size // 3:] = rgb["mountain"]
    img[2 * size // 3:] = rgb["sea"]
    img[2 * size // 3 - 2:2 * size // 3 + 2, : size // 2] = rgb["sand"]
    return img


def one_request(store, path: str, size: int) -> None:
    from demos import labels

    for _ in labels.run(store, None, path, 1, 1.0, 100, 1.0, 1, size, size):
        pass


def trace(fn) -> list[tuple[str, str]]:
    """The repo functions `fn` calls (file relative to the repo, qualified name), first call first."""
    seen: dict[tuple[str, str], None] = {}
    root = str(REPO) + os.sep

    def prof(frame, event, arg):
        if event != "call":
            return
        f = frame.f_code.co_filename
        name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        if f.startswith(root) and "/tests/" not in f and "/benchmarks/" not in f and not name.endswith(COMPREHENSIONS):
            seen.setdefault((f[len(root):], name), None)

    threading.setprofile(prof)
    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return list(seen)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the functions above the models too")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("TAMING_LITE_EXAMPLES", tempfile.mkdtemp())
    from PIL import Image

    from demos import models

    with tempfile.TemporaryDirectory() as tmp:
        store = models.ModelStore(weights_root=Path(tmp) / "empty", device="cpu")  # the placeholder model
        size = 64
        path = str(Path(tmp) / "painted.png")
        Image.fromarray(painted_map(size)).save(path)
        one_request(store, path, size)  # warm-up: loads the model
        calls = trace(lambda: one_request(store, path, size))
    groups = {"above the models": [c for c in calls if Path(c[0]).name not in MODEL_FILES],
              "model files": [c for c in calls if Path(c[0]).name in MODEL_FILES],
              "all": calls}
    print("| functions of this repo one /labels request runs | functions | files |")
    print("|---|---|---|")
    for name, cs in groups.items():
        print(f"| {name} | {len(cs)} | {len({f for f, _ in cs})} |")
    if args.list:
        print()
        for f, q in groups["above the models"]:
            print(f"{f}: {q}")


if __name__ == "__main__":
    main()
