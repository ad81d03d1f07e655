"""The serving parts without Ray: request log batching and flush, request ids, reload decisions."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException

from creditrisk.registry import Registry
from creditrisk.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from serving.api import request_time
from serving.config import PredictorConfig, ServiceArgs
from serving.logger import InferenceLogger, issued_at_ms, new_request_id
from serving.predictor import ChampionPredictor
from serving.runtime import free_port

T0 = datetime(2030, 3, 4, 12, tzinfo=UTC)


def _row(i: int) -> dict[str, Any]:
    return {**EXAMPLE_APPLICANT, "request_id": new_request_id(), "ts": T0 + timedelta(seconds=i),
            "probability": 0.5, "prediction": 1, "decision": "denied", "threshold": 0.4, "model_name": "m",
            "model_version": "1", "reasons": "[]", "latency_ms": 1.0}


class FlakyStore(LocalRequestStore):
    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def append_requests(self, rows: Any) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError("store down")
        return super().append_requests(rows)


def test_logger_buffers_flushes_in_background_and_on_close(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path)

    async def scenario() -> None:
        log = InferenceLogger(lambda: store, flush_interval_s=0.2, flush_max_rows=1000)
        log.start()
        rows = [_row(i) for i in range(7)]
        for r in rows:
            log.add(r)
        assert all(log.contains(r["request_id"]) for r in rows) and store.count() == 0  # nothing on the path
        await asyncio.sleep(0.5)
        assert store.count() == 7 and not log.contains(rows[0]["request_id"])
        for i in range(7, 12):
            log.add(_row(i))
        await log.close()  # shutdown: the tail is written
        assert store.count() == 12

    asyncio.run(scenario())


def test_logger_keeps_rows_while_the_store_fails(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path, failures=2)

    async def scenario() -> None:
        log = InferenceLogger(lambda: store, flush_interval_s=0.05)
        rows = [_row(i) for i in range(3)]
        for r in rows:
            log.add(r)
        assert await log.flush() == 0 and log.snapshot()["last_error"] == "OSError: store down"
        assert log.contains(rows[0]["request_id"]) and log.snapshot()["buffered"] == 3
        await log.close()  # retries: the second failure is followed by a success
        assert store.count() == 3 and log.snapshot()["last_error"] is None

    asyncio.run(scenario())


def test_request_ids_are_time_ordered_uuids() -> None:
    now = int(time.time() * 1000)
    a, b = new_request_id(now), new_request_id(now + 1)
    assert uuid.UUID(a).version == 7 and issued_at_ms(a) == now and a < b
    assert issued_at_ms(str(uuid.uuid4())) is None and issued_at_ms("nope") is None


def test_client_time_is_refused_unless_allowed() -> None:
    def req(value: str | None) -> Any:  # the only part of a Request that request_time reads
        return SimpleNamespace(headers={} if value is None else {"x-request-time": value})

    strict = ServiceArgs()
    assert ServiceArgs().allow_client_time is False
    assert abs((request_time(strict, req(None)) - datetime.now(UTC)).total_seconds()) < 5
    with pytest.raises(HTTPException) as err:
        request_time(strict, req("2030-01-01T00:00:00Z"))
    assert err.value.status_code == 400 and "allow_client_time" in err.value.detail
    demo = ServiceArgs(allow_client_time=True)
    assert request_time(demo, req("2030-01-01T10:00:00+02:00")) == datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert request_time(demo, req("2030-01-01T10:00:00")) == datetime(2030, 1, 1, 10, tzinfo=UTC)


def test_predictor_keeps_serving_when_the_registry_is_unreachable(registry, champion, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    predictor = ChampionPredictor(lambda: Registry(registry.tracking_uri), PredictorConfig())
    try:
        predictor.load_initial()
        before = predictor.score_now([EXAMPLE_APPLICANT])[0]
        assert before.loaded.version == champion.version
        assert asyncio.run(predictor.check_once()) is False  # alias unchanged: no reload
        predictor.registry = Registry(f"http://127.0.0.1:{free_port()}")  # nothing listens there
        assert asyncio.run(predictor.check_once()) is False
        status = predictor.status()
        assert status["registry"]["reachable"] is False and status["registry"]["error"]
        assert status["model"]["version"] == champion.version
        assert predictor.score_now([EXAMPLE_APPLICANT])[0].probability == before.probability
        predictor.check_health()  # an unreachable registry is reported, not fatal
    finally:
        asyncio.run(predictor.close())


def test_predictor_reports_a_missing_alias_and_follows_a_pin(registry, champion) -> None:
    predictor = ChampionPredictor(lambda: Registry(registry.tracking_uri), PredictorConfig())
    try:
        with pytest.raises(RuntimeError, match="no model loaded"):
            predictor.check_health()  # Serve replaces a replica whose health check raises
        predictor.load_initial()
        predictor.check_health()
        predictor.config = PredictorConfig(alias="no-such-alias")
        assert asyncio.run(predictor.check_once()) is False
        assert predictor.status()["registry"]["reachable"] is True
        assert "no-such-alias" in predictor.status()["registry"]["error"]
        predictor.config = PredictorConfig(pinned_version=champion.version)
        assert asyncio.run(predictor.check_once()) is False  # already serving that version
        assert predictor.status()["model"]["version"] == champion.version
    finally:
        asyncio.run(predictor.close())
