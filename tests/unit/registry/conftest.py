"""Fixtures shared by the change-control tests: tiny training data and a deployment's home."""
from __future__ import annotations

from pathlib import Path

import pytest
from model_changes import TINY_FLOOR

from creditrisk.applicants.data import load_base_data


@pytest.fixture(scope="module")
def data() -> tuple:
    raw, clean, _ = load_base_data(None, rows=2_000, seed=3)
    return raw, clean


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CREDITRISK_HOME in a temp folder, the floor tiny versions reach, no policy or identity left over."""
    for k, v in {"CREDITRISK_HOME": str(tmp_path), **TINY_FLOOR}.items():
        monkeypatch.setenv(k, v)
    for k in ("CREDITRISK_MLFLOW_URI", "CREDITRISK_PROMOTION", "CREDITRISK_ACTOR"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path
