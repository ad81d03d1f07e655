"""Fixtures of the asset-graph tests; the world itself is built in world.py."""
from __future__ import annotations

import pytest
from world import build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(autouse=True)
def deployment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment's settings a run may not change come from the environment, as in production:
    the world's base data, and no change-policy variable left over from elsewhere."""
    for k in ("CREDITRISK_PROMOTION", "CREDITRISK_DATA", "CREDITRISK_ACTOR", "CREDITRISK_MIN_EVALUATION_ROWS",
              "CREDITRISK_MIN_AUC_GAIN", "CREDITRISK_MAX_BRIER_INCREASE", "CREDITRISK_MIN_CANDIDATE_AUC"):
        monkeypatch.delenv(k, raising=False)
    if "world" in request.fixturenames:
        monkeypatch.setenv("CREDITRISK_DATA", str(request.getfixturevalue("world")["base_csv"]))
