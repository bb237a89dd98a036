from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "fixtures" / "original"  # outputs of the original code: its README.md says which


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "README.md").is_file():
        pytest.fail(f"reference fixtures not found at {REFERENCE} (the repository ships them)")
    return REFERENCE


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app (app.py) in a subprocess on a free loopback port, placeholder models (tests/app_server.py),
    one per test module."""
    from app_server import AppServer

    srv = AppServer(tmp_path_factory.mktemp("app")).wait()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
