import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("TAMING_LITE_REFERENCE", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "README.md").is_file():
        pytest.fail(f"reference fixtures not found at {REFERENCE}; set TAMING_LITE_REFERENCE")
    return REFERENCE


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
