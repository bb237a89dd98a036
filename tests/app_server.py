"""Start the real app in a subprocess on a free loopback port (shared by the app tests)."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py --device cpu --port P` with its own examples folder and weights root.
    Weights: `weights` if given, else $TAMING_LITE_APP_WEIGHTS if set, else an empty folder (the tiny
    placeholder models: fast and the same on every machine)."""

    def __init__(self, tmp: Path, extra_args: list[str] | None = None, weights: str | Path | None = None,
                 env: dict[str, str] | None = None, cwd: Path | None = None):
        """`env`: variables set for the app on top of the defaults above (e.g. HF_HUB_OFFLINE="0");
        `cwd`: the folder holding the app.py to run (default: this repository)."""
        extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        weights = str(weights or os.environ.get("TAMING_LITE_APP_WEIGHTS") or tmp / "no_weights")
        Path(weights).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                   TAMING_LITE_EXAMPLES=str(tmp / "examples"), OMP_NUM_THREADS="1", GRADIO_TEMP_DIR=str(tmp / "gradio"))
        env.pop("GRADIO_SERVER_NAME", None)
        env.update(extra_env)
        self.log = open(tmp / "server.log", "w")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--device", "cpu", "--port", str(self.port),
                                      "--model", weights] + (extra_args or []),
                                     cwd=cwd or REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = tmp / "server.log"

    def wait(self, timeout: float = 120) -> "AppServer":
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()  # a server that did not start is stopped all the same
        raise RuntimeError(f"app did not start within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def queue_size(self) -> int:
        """Jobs waiting in the server's queue (Gradio's /queue/status; running jobs are not counted)."""
        with urllib.request.urlopen(self.url + "gradio_api/queue/status", timeout=10) as r:
            return int(json.loads(r.read())["queue_size"])

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (VmHWM), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@functools.lru_cache(maxsize=None)
def app_queue_settings() -> tuple[int, int]:
    """(CONCURRENCY, MAX_QUEUE) as app.py computes them in this environment (read in a subprocess:
    importing app here would import gradio with HF_HUB_OFFLINE=1 into the test process)."""
    out = subprocess.run([sys.executable, "-c", "import app; print(app.CONCURRENCY, app.MAX_QUEUE)"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    return int(out[-2]), int(out[-1])


# ----------------------------------------------------------------------------- inputs and API calls

ENDPOINTS = ("/complete", "/depth", "/labels", "/superres", "/pose")
CONTROLS = (1.0, 100, 1.0)  # temperature, top_k, top_p (seed and num_samples per call)


def example_inputs(folder: Path, size: int) -> dict:
    """The app's own examples (rendered by demos/examples.py into `folder`): an image, a depth map, a
    label map, a low-res image and the pose presets (JSON strings)."""
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TAMING_LITE_EXAMPLES", str(folder))
        from demos import examples

        ls = examples.landscapes(size)
        return dict(image=ls[0]["image"], depth=ls[1]["depth"], labels=ls[2]["labels"],
                    lowres=examples.superres(size, 4)[0], pose=examples.pose_presets(size)["waving"])


def endpoint_args(endpoint: str, inputs: dict, seed: int, size: int, num_samples: int = 1) -> list:
    """Positional arguments of each endpoint (docs/APP.md), with `inputs` from example_inputs()."""
    from gradio_client import handle_file

    ctrl = [seed, *CONTROLS, num_samples]
    if endpoint == "/complete":
        return [handle_file(inputs["image"]), 4, *ctrl, size, size]
    if endpoint == "/depth":
        return [handle_file(inputs["depth"]), False, *ctrl, size, size, None]
    if endpoint == "/labels":
        return [None, handle_file(inputs["labels"]), *ctrl, size, size]
    if endpoint == "/superres":
        return [handle_file(inputs["lowres"]), *ctrl]
    if endpoint == "/pose":
        return [inputs["pose"], *ctrl, size, size]
    raise KeyError(endpoint)


# ----------------------------------------------------------------------------- what the queue did

RUNNING_CODES = ("PROCESSING", "PROGRESS", "ITERATING", "LOG")


def run_interval(job) -> tuple[float, float] | None:
    """(start, end) wall-clock times of a finished gradio_client Job's run on the server, from the
    status messages its client received: the first "process_starts" (PROCESSING) and the
    "process_completed" (FINISHED). Use a Client with download_files=False, else the client stamps a
    message only after downloading the previews queued before it (seconds late under load).
    Precision: the client picks up messages every 50 ms. None if the job never started."""
    import asyncio

    updates, q = [], job.communicator.updates
    while True:
        try:
            updates.append(q.get_nowait())
        except asyncio.QueueEmpty:
            break
    times = [(u.code.name, u.time.timestamp()) for u in updates if getattr(u, "type", "") == "status" and u.time]
    starts = [t for code, t in times if code in RUNNING_CODES]
    ends = [t for code, t in times if code == "FINISHED"]
    if not starts or not ends:
        return None
    return min(starts), max(ends)


def concurrency_profile(intervals: list[tuple[float, float]], limit: int) -> dict:
    """How many jobs ran at once: `peak` over the whole run, and the `longest_over` stretch (seconds)
    during which more than `limit` ran. A stretch of a few tens of ms at a hand-over (one job's end
    and the next one's start reach two clients in either order) is message timing, not a breach."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    n = peak = 0
    over_since, longest_over, at_limit = None, 0.0, 0.0
    prev_t = events[0][0] if events else 0.0
    for t, d in events:
        if n == limit:
            at_limit += t - prev_t
        prev_t = t
        n += d
        peak = max(peak, n)
        if n > limit and over_since is None:
            over_since = t
        elif n <= limit and over_since is not None:
            longest_over, over_since = max(longest_over, t - over_since), None
    return dict(peak=peak, longest_over=longest_over, seconds_at_limit=at_limit)
