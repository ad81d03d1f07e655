"""Fixtures of the asset-graph tests; the world itself is built in world.py."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from world import build_world

from serving.runtime import free_port


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


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's prometheus-pushgateway on 127.0.0.1 (tests/prometheus/setup.sh installs it), in memory."""
    port, log = free_port(), (tmp_path_factory.mktemp("pushgateway") / "log").open("wb")
    proc = subprocess.Popen(["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, f"no pushgateway: see {log.name}"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
