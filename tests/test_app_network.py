"""Online on a Space, offline at home: the app's download mode (app.py) and what the pickers' status
line says about it (demos/picker.py network_line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MODES = r"""
import importlib, json, os
def mode(env, argv=()):
    for k in ("SPACE_ID", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(k, None)
    os.environ.update(env)
    import app
    importlib.reload(app)  # the import-time default, as `python app.py` starts
    args = app.parse_args(list(argv))
    if args.online or args.offline:
        app.set_downloads(args.online)
    from huggingface_hub import constants
    return os.environ["HF_HUB_OFFLINE"], constants.HF_HUB_OFFLINE if argv else None
print(json.dumps({
    "local": mode({}), "space": mode({"SPACE_ID": "someone/taming-lite"}),
    "space, owner says offline": mode({"SPACE_ID": "someone/taming-lite", "HF_HUB_OFFLINE": "1"}),
    "local, HF_HUB_OFFLINE=0": mode({"HF_HUB_OFFLINE": "0"}),
    "local --online": mode({}, ["--online"]), "space --offline": mode({"SPACE_ID": "a/b"}, ["--offline"]),
}))
"""


def test_downloads_off_at_home_on_on_a_space_and_the_flags_decide():
    out = subprocess.run([sys.executable, "-c", MODES], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "GRADIO_ANALYTICS_ENABLED": "False",
                              "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    modes = json.loads(out.stdout.strip().splitlines()[-1])
    assert modes["local"][0] == "1" and modes["space"][0] == "0"
    assert modes["space, owner says offline"][0] == "1" and modes["local, HF_HUB_OFFLINE=0"][0] == "0"
    assert modes["local --online"] == ["0", False] and modes["space --offline"] == ["1", True]


def test_the_status_line_says_the_mode_and_how_to_change_it(monkeypatch, tmp_path):
    from demos import picker
    from taming_lite import registry

    for var in ("SPACE_ID", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TAMING_LITE_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = picker.network_line()
    assert "Downloads off" in line and "--online" in line and "HF_HUB_OFFLINE=0" in line

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TAMING_LITE_CACHE", str(tmp_path / "cache"))
    line = picker.network_line()
    assert "Downloads on" in line and str(tmp_path / "cache") in line and "without --online" in line

    monkeypatch.setenv("SPACE_ID", "someone/taming-lite")
    monkeypatch.setattr(registry, "SPACE_STORAGE", tmp_path / "no_data")
    line = picker.network_line()
    assert "on a Space" in line and "lost at each restart" in line and "HF_HUB_OFFLINE=1" in line
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(registry, "SPACE_STORAGE", tmp_path / "data")
    monkeypatch.delenv("TAMING_LITE_CACHE")
    line = picker.network_line()
    assert "persistent storage, kept across restarts" in line and str(tmp_path / "data") in line

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = picker.network_line()
    assert "Downloads off** on this Space" in line and "Remove HF_HUB_OFFLINE" in line
