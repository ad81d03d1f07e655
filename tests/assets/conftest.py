"""Fixtures of the asset-graph tests; the world itself is built in world.py."""
from __future__ import annotations

import pytest
from world import build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_world(tmp_path_factory.mktemp("world"))
