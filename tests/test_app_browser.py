"""A real browser (Debian's Chromium, driven by Playwright) opens each tab, runs its example,
waits for the result image and takes a screenshot. Playwright never downloads a browser here.

Screenshots go to a temporary folder; with TAMING_LITE_SCREENSHOTS=docs/screenshots they replace
the committed ones (do that when the trained weights change, with TAMING_LITE_APP_WEIGHTS=$PWD/weights:
without it the app runs the untrained placeholders)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")]

playwright_api = pytest.importorskip("playwright.sync_api")


REPO = Path(__file__).resolve().parents[1]
TABS = [("completion", "Image completion", "Complete"), ("depth", "Depth to image", "Generate"),
        ("labels", "Label map to landscape", "Generate"), ("superres", "Super-resolution", "Upscale"),
        ("pose", "Pose to human", "Generate")]


def open_app(url: str, height: int = 1000):
    """A page of the app at `url` in Debian's Chromium with a fresh profile, once its tabs are there."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    profile = tempfile.mkdtemp(prefix="chromium_profile_")
    with playwright_api.sync_playwright() as p:
        # a persistent context is how Playwright takes a fresh --user-data-dir
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, viewport={"width": 1280, "height": height},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        pg = browser.new_page()
        pg.goto(url, wait_until="domcontentloaded")
        pg.get_by_role("tab", name="Image completion").wait_for(timeout=60_000)
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def page(server):
    yield from open_app(server.url)


def shots_dir() -> Path:
    d = os.environ.get("TAMING_LITE_SCREENSHOTS")
    out = (REPO / d) if d else Path(tempfile.mkdtemp(prefix="taming_lite_shots_"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.parametrize("task,tab,button", TABS, ids=[t[0] for t in TABS])
def test_tab_runs_its_example_in_the_browser(page, task, tab, button):
    page.get_by_role("tab", name=tab).click()
    panel = page.locator(f"#tab-{task}")  # the gr.Tab's id
    panel.wait_for(state="visible", timeout=30_000)
    if task != "pose":  # pose starts with a preset; the others with an empty input: click the first example
        panel.locator(".gallery-item, button.gallery, tr.tr-body").first.click()
        # the example reaches the input image asynchronously (slow on a loaded machine): wait for it,
        # or the click below runs on an empty input
        panel.locator("[data-testid='image'] img").first.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(500)
    panel.get_by_role("button", name=button, exact=True).click()
    done = panel.get_by_text("done", exact=False).first
    error = page.locator(".toast-body.error").first  # a gr.Error: fail at once with its message
    done.or_(error).wait_for(timeout=90_000)
    if error.is_visible():
        pytest.fail(f"the {task} tab showed an error: {error.inner_text()}")
    gallery = panel.locator(".grid-wrap img, .gallery img, [data-testid='gallery'] img")
    gallery.first.wait_for(state="visible", timeout=30_000)
    if task == "depth":
        panel.locator("img[src*='orbit']").first.wait_for(timeout=30_000)  # the 3D orbit GIF
        assert_mesh_rendered(page, panel)
    if task == "superres":  # the tiny low-resolution input is shown enlarged, its pixels sharp (app.CSS)
        img = panel.locator("#superres-input img").first
        box = img.bounding_box()
        assert box and box["height"] >= 100, box
        assert img.evaluate("e => getComputedStyle(e).imageRendering") == "pixelated"
    page.wait_for_timeout(800)
    assert panel.get_by_text("untrained placeholder", exact=False).count() >= 1 or "weights" in panel.inner_text()
    page.screenshot(path=str(shots_dir() / f"{task}.png"), full_page=True)


def assert_mesh_rendered(page, panel):
    """The gr.Model3D panel draws the mesh: headless Chromium gets WebGL 2 (SwiftShader, also with
    --disable-gpu), and the panel's canvas, as composited on screen, is not one flat colour (the clear
    colour alone would be; the middle of the canvas is read, away from the label and buttons drawn over it)."""
    import io

    import numpy as np
    from PIL import Image

    assert page.evaluate("() => !!document.createElement('canvas').getContext('webgl2')"), "no WebGL 2 context"
    canvas = panel.locator("canvas >> visible=true").first  # (the sketchpad's canvas sits in a closed accordion)
    try:
        canvas.wait_for(state="visible", timeout=30_000)
    except Exception:
        pytest.fail(f"no visible canvas in the depth tab; canvases: {panel.locator('canvas').count()}, "
                    f"Model3D blocks: {panel.get_by_text('3D mesh', exact=False).count()}")
    spread = 0.0
    for _ in range(20):  # the viewer loads the .glb and draws it asynchronously
        page.wait_for_timeout(500)
        pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.float64)
        H, W = pixels.shape[:2]
        middle = pixels[H // 4 : 3 * H // 4, W // 4 : 3 * W // 4]  # where the mesh is; not the panel's buttons
        spread = float(middle.reshape(-1, 3).std(0).max())
        if spread > 10:
            break
    assert spread > 10, f"the 3D mesh panel stayed blank (pixel std {spread:.1f} of 255)"
