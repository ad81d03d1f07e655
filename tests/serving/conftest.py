"""One real Ray Serve instance for the serving tests, on 127.0.0.1, started once per session.

It serves the session's `champion` (tests/conftest.py, a temp SQLite MLflow) with short reload and
flush intervals, client time allowed (the tests write into their own simulated days, so "exactly
N rows" holds however many other requests the session sends), and a known outcomes token.
Its per-client rate limit is on, through HAProxy, with 127.0.0.1 exempt: every other test connects
from 127.0.0.1 and is never throttled; `test_public_predict.py` connects from 127.0.0.2 and up.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

OUTCOMES_TOKEN = "test-outcomes-token-" + uuid.uuid4().hex[:8]
RELOAD_INTERVAL_S = 1.0
FLUSH_INTERVAL_S = 0.3
# Loopback clients other than 127.0.0.1 get RATE_PER_MINUTE requests a minute, RATE_BURST at once.
RATE_PER_MINUTE = 60.0
RATE_BURST = 5
LIMITS = {"enabled": True, "requests_per_minute": RATE_PER_MINUTE, "burst": RATE_BURST,
          "trusted_proxies": ["127.0.0.1/32"], "exempt": ["127.0.0.1/32"]}


@dataclass
class Served:
    base_url: str
    store_dir: Path
    token: str
    registry: object  # creditrisk.registry.client.Registry
    champion_version: str
    wal_dir: Path
    metrics_url: str = ""  # Ray's metrics agent of the session's one node
    reload_interval_s: float = RELOAD_INTERVAL_S
    flush_interval_s: float = FLUSH_INTERVAL_S
    rate_per_minute: float = RATE_PER_MINUTE  # for clients other than 127.0.0.1
    rate_burst: int = RATE_BURST

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **kw)  # type: ignore[arg-type]

    def store(self):  # -> LocalRequestStore
        from creditrisk.store.local import LocalRequestStore

        return LocalRequestStore(self.store_dir)


@pytest.fixture(scope="session")
def served(registry, champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from serving.config import PredictorConfig, ServiceArgs
    from serving.runtime import LocalService, free_port

    store_dir, wal_dir = tmp_path_factory.mktemp("request-store"), tmp_path_factory.mktemp("wal")
    args = ServiceArgs(mlflow_uri=registry.tracking_uri, store_dir=str(store_dir), wal_dir=str(wal_dir),
                       predictor=PredictorConfig(reload_interval_s=RELOAD_INTERVAL_S),
                       flush_interval_s=FLUSH_INTERVAL_S, allow_client_time=True, max_replicas=1,
                       rate_limit=LIMITS)
    # Ray reports metrics to its agent every 10 s by default: 0.5 s lets a test see its requests counted.
    service = LocalService(args, free_port(), metrics_port=free_port(),
                           extra_env={"CREDITRISK_OUTCOMES_TOKEN": OUTCOMES_TOKEN,
                                      "RAY_metrics_report_interval_ms": "500"})
    service.start()
    try:
        yield Served(service.base_url, store_dir, OUTCOMES_TOKEN, registry, champion.version, wal_dir,
                     metrics_url=f"http://127.0.0.1:{service.metrics_port}/metrics")
    finally:
        service.stop()


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with served.client() as c:
        yield c
