"""Start the real app in a subprocess on a free loopback port (shared by the app tests)."""

from __future__ import annotations

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
    Weights: $TAMING_LITE_APP_WEIGHTS if set, else an empty folder (the tiny placeholder models:
    fast and the same on every machine)."""

    def __init__(self, tmp: Path, extra_args: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        weights = os.environ.get("TAMING_LITE_APP_WEIGHTS") or str(tmp / "no_weights")
        Path(weights).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                   TAMING_LITE_EXAMPLES=str(tmp / "examples"), OMP_NUM_THREADS="1", GRADIO_TEMP_DIR=str(tmp / "gradio"))
        env.pop("GRADIO_SERVER_NAME", None)
        self.log = open(tmp / "server.log", "w")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--device", "cpu", "--port", str(self.port),
                                      "--model", weights] + (extra_args or []),
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
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
        raise RuntimeError(f"app did not start within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
