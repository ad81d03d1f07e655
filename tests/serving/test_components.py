"""The serving parts without Ray: request log, request ids, reload decisions, the replica's readiness."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from request_log_rows import FlakyStore
from request_log_rows import row as _row

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.client import Registry
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import issued_at_ms, new_request_id
from serving.api import request_time
from serving.api_models import ReadyOut
from serving.config import PredictorConfig, ServiceArgs
from serving.health import overall
from serving.logger import InferenceLogger
from serving.predictor import ChampionPredictor
from serving.replica import Replica
from serving.runtime import free_port
from serving.wal import SegmentLog

T0 = datetime(2030, 3, 4, 12, tzinfo=UTC)


def test_request_ids_are_time_ordered_uuids() -> None:
    now = int(time.time() * 1000)
    a, b = new_request_id(now), new_request_id(now + 1)
    assert uuid.UUID(a).version == 7 and issued_at_ms(a) == now and a < b
    assert issued_at_ms(str(uuid.uuid4())) is None and issued_at_ms("nope") is None


def test_client_time_is_refused_unless_allowed() -> None:
    def req(value: str | None) -> Any:  # the only part of a Request that request_time reads
        return SimpleNamespace(headers={} if value is None else {"x-request-time": value})

    strict = ServiceArgs()
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
        sections = predictor.sections()
        assert sections["registry"]["state"] == "down" and sections["registry"]["last_error"]
        assert sections["model"]["state"] == "ok" and sections["model"]["version"] == champion.version
        assert overall(sections) == "degraded"  # still answering, with a part down
        assert predictor.score_now([EXAMPLE_APPLICANT])[0].probability == before.probability
        predictor.check_health()  # an unreachable registry is reported, not fatal
    finally:
        asyncio.run(predictor.close())


def test_predictor_reports_a_missing_alias_and_follows_a_pin(registry, champion) -> None:
    predictor = ChampionPredictor(lambda: Registry(registry.tracking_uri), PredictorConfig())
    try:
        with pytest.raises(RuntimeError, match="no model loaded"):
            predictor.check_health()  # Serve replaces a replica whose health check raises
        assert predictor.sections()["model"]["state"] == "down" and overall(predictor.sections()) == "unready"
        predictor.load_initial()
        predictor.check_health()
        predictor.config = PredictorConfig(alias="no-such-alias")
        assert asyncio.run(predictor.check_once()) is False
        registry_part = predictor.sections()["registry"]
        assert registry_part["state"] == "degraded" and "no-such-alias" in registry_part["last_error"]
        predictor.config = PredictorConfig(pinned_version=champion.version)
        assert asyncio.run(predictor.check_once()) is False  # already serving that version
        assert predictor.sections()["model"]["version"] == champion.version
        assert predictor.sections()["registry"]["state"] == "ok"
    finally:
        asyncio.run(predictor.close())


def _logger(tmp_path: Path, store: LocalRequestStore, **kw: Any) -> InferenceLogger:
    """A request log that ships only when told (`flush()`), started outside any event loop."""
    log = InferenceLogger(lambda: store, SegmentLog(tmp_path / "wal", "r1"), flush_interval_s=60, **kw)
    log.wal.open()
    return log


def _replica(predictor: ChampionPredictor, log: InferenceLogger) -> Replica:
    return Replica(ServiceArgs(flush_interval_s=60), predictor, log, outcomes_token="t", replica_id="r1")


def test_a_request_answered_a_moment_ago_is_known_before_its_row_is_written(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    log = _logger(tmp_path, store)
    replica = _replica(ChampionPredictor(lambda: Registry("sqlite://"), PredictorConfig()), log)
    row = _row(0)
    asyncio.run(log.record(row))
    assert store.known_request_ids([row["request_id"]]) == set()
    assert asyncio.run(replica.is_known(row["request_id"])) is True
    stranger = str(uuid.uuid4())  # not one of our time-ordered ids: unknown at once, no flush grace
    assert asyncio.run(replica.unknown_ids([row["request_id"], stranger])) == {stranger}


def test_readyz_shape_follows_the_parts(registry, champion, tmp_path: Path) -> None:
    """unready without a model; degraded while the store refuses writes (with the backlog); ready after."""
    store = FlakyStore(tmp_path / "store", failures=1)
    predictor = ChampionPredictor(lambda: Registry(registry.tracking_uri), PredictorConfig())
    replica = _replica(predictor, _logger(tmp_path, store, backend="local-parquet"))

    async def scenario() -> None:
        body = replica.readiness()
        assert (body["status"], body["model"]["state"], body["model"]["version"]) == ("unready", "down", None)
        predictor.load_initial()
        await replica.logger.record(_row(0))
        assert await replica.logger.flush() == 0  # the store refuses
        body = replica.readiness()
        assert body["status"] == "degraded" and body["model"]["version"] == champion.version
        assert (body["store"]["state"], body["store"]["last_error"]) == ("down", "OSError: store down")
        assert (body["request_log"]["state"], body["request_log"]["backlog_rows"]) == ("degraded", 1)
        assert await replica.logger.flush() == 1
        body = replica.readiness()
        assert body["status"] == "ready" and body["request_log"]["written"] == 1
        assert {body[p]["state"] for p in ("model", "registry", "request_log", "store")} == {"ok"}
        ReadyOut.model_validate(body)
        await predictor.close()

    asyncio.run(scenario())


@pytest.fixture
def versions(two_versions: tuple, tmp_path: Path) -> tuple:
    """A copy of the session's small registry: v1 champion, v2 registered (both valid)."""
    from model_changes import copy_registry

    db, v1, v2 = two_versions
    return copy_registry(db, tmp_path / "reg"), (v1, v2)


@contextmanager
def damaged(changes, version: str, name: str, text: str | None) -> Iterator[None]:
    """Version `version`'s artifact file `name` replaced by `text` (removed if None), then put back:
    the files are shared by every copy of the session's registry."""
    from model_changes import artifact_folder

    path = artifact_folder(changes, version) / name
    kept = path.read_bytes()
    path.unlink() if text is None else path.write_text(text)
    try:
        yield
    finally:
        path.write_bytes(kept)


def _crowned(changes, version: str) -> None:
    """`version` becomes champion through change control (it passes the gate: it is not damaged yet)."""
    from model_changes import crown

    crown(changes, version)


INVALID_THRESHOLD = json.dumps({"threshold": 1.5})  # every applicant would be approved


def test_a_version_failing_validation_is_never_swapped_in(versions: tuple) -> None:
    changes, (v1, v2) = versions
    predictor = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri), PredictorConfig())
    try:
        predictor.load_initial()
        _crowned(changes, v2)
        with damaged(changes, v2, "model_meta.json", INVALID_THRESHOLD):
            assert asyncio.run(predictor.check_once()) is False
        model = predictor.sections()["model"]
        assert model["version"] == v1 and model["state"] == "degraded"
        assert f"version {v2} failed validation: threshold 1.5" in model["last_error"]
        assert predictor.score_now([EXAMPLE_APPLICANT])[0].loaded.version == v1
    finally:
        asyncio.run(predictor.close())


def test_a_broken_version_is_retried_with_backoff_and_leaves_no_files(versions: tuple) -> None:
    changes, (v1, v2) = versions
    predictor = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri), PredictorConfig())
    loads: list[str] = []
    real_load = predictor.load_version
    predictor.load_version = lambda v, d=None: (loads.append(v), real_load(v, d))[1]  # type: ignore[method-assign]
    try:
        predictor.load_initial()
        _crowned(changes, v2)
        with damaged(changes, v2, "booster.json", None):  # the artifact does not load
            for _ in range(3):  # three reload checks in a row: one download, then back-off
                assert asyncio.run(predictor.check_once()) is False
        assert loads == [v1, v2]
        versions_left = [p.name.split("-")[0] for p in predictor.loader.workdir.iterdir() if p.is_dir()]
        assert versions_left == [f"v{v1}"]  # beside the folder's owner.lock
        assert predictor.sections()["model"]["version"] == v1
    finally:
        asyncio.run(predictor.close())


def test_a_new_replica_with_a_broken_champion_serves_the_previous_one(versions: tuple) -> None:
    changes, (v1, v2) = versions
    _crowned(changes, v2)  # v1 becomes @previous
    predictor = ChampionPredictor(lambda: Registry(changes.registry.tracking_uri), PredictorConfig())
    try:
        with damaged(changes, v2, "model_meta.json", INVALID_THRESHOLD):
            predictor.load_initial()  # raised "no model" before: a replica with nothing to serve
        model = predictor.sections()["model"]
        assert model["version"] == v1 and model["state"] == "degraded"
        assert f"champion version {v2} could not be served" in model["last_error"]
        assert predictor.sections()["registry"]["alias_version"] == v2
    finally:
        asyncio.run(predictor.close())


class CountingStore(LocalRequestStore):
    lookups = 0

    def known_request_ids(self, request_ids: Any) -> set[str]:
        self.lookups += 1
        return super().known_request_ids(request_ids)


def test_a_batch_of_unknown_ids_costs_one_store_query(tmp_path: Path) -> None:
    """5,000 unknown ids: one lookup (was one full scan per id); fresh ids: one more after the grace."""
    store = CountingStore(tmp_path / "store")
    replica = Replica(ServiceArgs(flush_interval_s=0.1), ChampionPredictor(lambda: Registry("sqlite://"),
                      PredictorConfig()), _logger(tmp_path, store), outcomes_token="t", replica_id="r1")
    now = int(time.time() * 1000)
    old = [new_request_id(now - 3_600_000 + i) for i in range(5000)]
    assert asyncio.run(replica.unknown_ids(old)) == set(old) and store.lookups == 1
    fresh = [new_request_id(now + i) for i in range(10)]
    started = time.monotonic()
    assert asyncio.run(replica.unknown_ids(fresh)) == set(fresh) and store.lookups == 3
    assert time.monotonic() - started < 2 * 0.1 + 2.0 + 1.0  # one grace for the whole batch


def test_readyz_shows_errors_and_details_only_with_the_outcomes_token(tmp_path: Path) -> None:
    """Before: anyone got each part's last error (up to 300 characters: addresses, paths, run ids)."""
    from fastapi.testclient import TestClient

    from serving.api import build_api

    store = FlakyStore(tmp_path / "store", failures=1)
    replica = _replica(ChampionPredictor(lambda: Registry("sqlite://"), PredictorConfig()),
                       _logger(tmp_path, store, backend="local-parquet"))

    async def refused_write() -> None:
        await replica.logger.record(_row(0))
        assert await replica.logger.flush() == 0  # the store refuses: its error is recorded

    asyncio.run(refused_write())
    with TestClient(build_api(replica)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.get("/readyz", headers=headers)
            body = r.json()
            assert r.status_code == 503 and body["status"] == "unready"  # no model: the status stays public
            assert {p: set(body[p]) for p in ("registry", "request_log", "store")} == dict.fromkeys(
                ("registry", "request_log", "store"), {"state", "since"})
            assert set(body["model"]) == {"state", "since", "version"} and body["store"]["state"] == "down"
            assert "store down" not in r.text and "wal" not in r.text
        ReadyOut.model_validate(body)  # the documented shape, details absent
        full = c.get("/readyz", headers={"Authorization": "Bearer t"}).json()
        assert full["store"]["last_error"] == "OSError: store down"
        assert full["request_log"]["backlog_rows"] == 1
        ReadyOut.model_validate(full)
