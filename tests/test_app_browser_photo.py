"""The photo path in a real browser (Debian's Chromium, driven by Playwright; never a downloaded browser), with
tiny random estimators of the real transformers classes picked by folder (taming_lite.photo.save_tiny):
the depth tab's Generate shows the detected depth map first, then the samples; the labels tab's Detect loads
the detected label map onto the canvas and sets the preprocessor back to None, and Generate then paints from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")]

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).resolve().parent))

PHOTO = Path(__file__).resolve().parents[1] / "demos" / "photos" / "chelsea.jpg"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from taming_lite import photo

    root = tmp_path_factory.mktemp("photo_models")
    return {task: str(photo.save_tiny(task, root / task)) for task in ("depth", "labels")}


@pytest.fixture(scope="module")
def page(tmp_path_factory, tiny):
    from app_server import AppServer

    from test_app_browser import open_app

    srv = AppServer(tmp_path_factory.mktemp("app"), extra_args=["--allow-local-models"]).wait(300)
    try:
        yield from open_app(srv.url, height=1400)
    finally:
        srv.stop()


def open_photo(page, task: str, tab: str, folder: str):
    page.get_by_role("tab", name=tab).click()
    panel = page.locator(f"#tab-{task}")
    panel.wait_for(state="visible", timeout=30_000)
    panel.locator(f"#{task}-photo-accordion .label-wrap").first.click()  # open the accordion (its header)
    panel.locator(f"#{task}-photo input[type=file]").set_input_files(str(PHOTO))
    panel.locator(f"#{task}-photo img").first.wait_for(state="visible", timeout=60_000)
    choice = panel.locator(f"#{task}-preprocessor input").first
    choice.fill(folder)
    choice.press("Enter")
    page.wait_for_timeout(500)
    return panel, choice


def wait_done(page, panel, text: str):
    done = panel.get_by_text(text, exact=False).first
    error = page.locator(".toast-body.error").first
    done.or_(error).wait_for(timeout=120_000)
    if error.is_visible():
        pytest.fail(f"the tab showed an error: {error.inner_text()}")


def test_depth_generate_shows_the_detected_map_first(page, tiny):
    panel, _ = open_photo(page, "depth", "Depth to image", tiny["depth"])
    panel.get_by_role("button", name="Generate", exact=True).click()
    wait_done(page, panel, "**done**".strip("*"))
    assert panel.get_by_text("detected depth map", exact=False).count() >= 1
    assert "estimated from the photo" in panel.inner_text()


def test_labels_detect_loads_the_canvas_then_generate_uses_it(page, tiny):
    panel, choice = open_photo(page, "labels", "Label map to landscape", tiny["labels"])
    panel.locator("#labels-detect").click()
    wait_done(page, panel, "loaded onto the canvas")
    page.wait_for_timeout(500)
    assert choice.input_value().startswith("None")  # the choice went back to None (its label is shown)
    panel.get_by_role("button", name="Generate", exact=True).click()
    wait_done(page, panel, "done")
    assert panel.get_by_text("detected label map", exact=False).count() == 0  # the canvas was the condition
