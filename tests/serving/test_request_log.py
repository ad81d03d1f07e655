"""The request log without Ray: write-ahead segments, shipping, outages, budget, quarantine, adoption."""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from request_log_rows import FlakyStore, Recorder, die_with_rows, row

from creditrisk.store.local import LocalRequestStore
from serving.config import ServiceArgs
from serving.health import overall
from serving.logger import InferenceLogger, LogRefused
from serving.runtime import ship_what_replicas_left
from serving.wal import SegmentLog, read_segment


def logger(tmp_path: Path, store: LocalRequestStore, owner: str = "r1", **kw: Any) -> InferenceLogger:
    wal = SegmentLog(tmp_path / "wal", owner, fsync=kw.pop("fsync", False))
    return InferenceLogger(lambda: store, wal, flush_interval_s=kw.pop("flush_interval_s", 60), **kw)


def test_a_recorded_row_is_on_disk_before_the_store_and_shipped_once(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")

    async def scenario() -> None:
        log = logger(tmp_path, store)
        log.start()
        rows = [row(i) for i in range(5)]
        for r in rows:
            await log.record(r)
        on_disk = read_segment(log.wal.folder / "seg-000000000001.jsonl")[0]
        assert [r["request_id"] for r in on_disk] == [r["request_id"] for r in rows]
        assert store.count() == 0 and all(log.contains(r["request_id"]) for r in rows)
        assert await log.flush() == 5
        assert store.count() == 5 and not log.contains(rows[0]["request_id"]) and log.wal.sealed() == []
        await log.record(row(5))
        await log.close()  # the tail is shipped at shutdown, and no folder is left to adopt
        assert store.count() == 6 and not (tmp_path / "wal" / "local" / "r1").exists()

    asyncio.run(scenario())


def test_store_outage_keeps_answering_reports_the_backlog_and_loses_nothing(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "store", failures=10**6)

    async def scenario() -> None:
        log = logger(tmp_path, store)
        log.start()
        for i in range(3):
            await log.record(row(i))
        assert await log.flush() == 0
        part = log.sections()
        assert (part["store"]["state"], part["store"]["last_error"]) == ("down", "OSError: store down")
        assert (part["request_log"]["state"], part["request_log"]["backlog_rows"]) == ("degraded", 3)
        assert part["request_log"]["backlog_bytes"] > 0
        assert overall({**part, "model": {"state": "ok"}}) == "degraded"
        await log.record(row(3))  # still answering
        assert await log.flush() == 0 and store.count() == 0
        store.failures = 0  # the store is back
        assert await log.flush() == 4
        healed = log.sections()
        assert store.count() == 4 and healed["request_log"]["state"] == healed["store"]["state"] == "ok"
        assert healed["request_log"]["backlog_rows"] == 0
        await log.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("policy", ["refuse", "queue"])
def test_beyond_the_disk_budget_the_policy_decides(tmp_path: Path, policy: str) -> None:
    store, alerts = FlakyStore(tmp_path / "store", failures=10**6), Recorder()

    async def scenario() -> int:
        log = logger(tmp_path, store, budget_bytes=4096, when_full=policy, alerter=alerts)
        log.start()
        answered = 0
        for i in range(40):  # ~600 bytes a row: the budget is crossed after a handful
            try:
                await log.record(row(i))
                answered += 1
            except LogRefused as exc:
                assert "over its budget" in str(exc)
            if i % 5 == 4:
                await log.flush()
        state = log.sections()["request_log"]["state"]
        assert state == ("down" if policy == "refuse" else "degraded")
        assert overall({**log.sections(), "model": {"state": "ok"}}) == \
            ("unready" if policy == "refuse" else "degraded")
        await asyncio.sleep(0.05)  # the alert goes out off the event loop
        store.failures = 0
        await log.close()
        return answered

    answered = asyncio.run(scenario())
    assert store.count() == answered  # what was answered was logged, in both policies
    assert (answered < 40) if policy == "refuse" else (answered == 40)
    assert alerts.sent == ["request log over its disk budget"]


def test_a_row_the_store_refuses_is_quarantined_and_blocks_nothing(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    bad = {**row(1), "ts": "0001-01-01T00:00:00+00:00"}

    async def scenario() -> None:
        log = logger(tmp_path, store)
        log.start()
        for r in (row(0), bad, row(2)):
            await log.record(r)
        assert await log.flush() == 2
        assert log.sections()["request_log"]["quarantined_rows"] == 1
        await log.close()

    asyncio.run(scenario())
    assert store.count() == 2
    kept = [json.loads(line) for f in (tmp_path / "wal" / "quarantine").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert [k["row"]["request_id"] for k in kept] == [bad["request_id"]] and "ts" in kept[0]["error"]


def test_a_full_disk_refuses_the_answer(tmp_path: Path) -> None:
    class FullDisk(SegmentLog):
        def _open_next(self) -> None:
            super()._open_next()
            os.close(self._fd)  # type: ignore[arg-type]
            self._fd = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC

    async def scenario() -> None:
        log = InferenceLogger(lambda: LocalRequestStore(tmp_path / "s"), FullDisk(tmp_path / "wal", "r1"))
        log.start()
        with pytest.raises(LogRefused, match="No space left"):
            await log.record(row(0))
        assert log.sections()["request_log"]["state"] == "down" and not log.contains(row(0)["request_id"])

    asyncio.run(scenario())


def test_fsync_group_commit_shares_one_sync_among_concurrent_requests(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")

    async def scenario() -> int:
        log = logger(tmp_path, store, fsync=True)
        syncs = 0
        real = log.wal.sync

        def counted() -> None:
            nonlocal syncs
            syncs += 1
            real()

        log.wal.sync = counted  # type: ignore[method-assign]
        log.start()
        await asyncio.gather(*(log.record(row(i)) for i in range(64)))
        assert log.commit.synced >= 64  # every row was covered by an fsync before its record() returned
        await log.close()
        return syncs

    syncs = asyncio.run(scenario())
    assert 1 <= syncs <= 8 and store.count() == 64


def test_a_killed_owner_leaves_segments_that_the_next_one_ships_exactly_once(tmp_path: Path) -> None:
    """A real SIGKILL: the kernel drops the dead process's lock; its rows reach the store once."""
    die_with_rows(tmp_path / "wal", 50, torn=True)
    store = LocalRequestStore(tmp_path / "store")

    async def scenario() -> None:
        live = logger(tmp_path, store, owner="live")
        live.start()
        assert await live.flush() == 50 and live.torn == 1
        assert await live.flush() == 0  # nothing is shipped twice
        await live.close()

    asyncio.run(scenario())
    assert store.count() == 50 and not (tmp_path / "wal" / "local" / "dead-replica").exists()


def test_a_live_owner_is_never_adopted(tmp_path: Path) -> None:
    a, b = SegmentLog(tmp_path, "a"), SegmentLog(tmp_path, "b")
    a.open()
    b.open()
    a.append(b'{"request_id": "x"}\n', 1)
    a.seal()
    assert b.adopt_orphans() == [] and len(a.sealed()) == 1
    with pytest.raises(RuntimeError, match="another live process"):
        SegmentLog(tmp_path, "a").open()
    a.close()
    b.close()
    c = SegmentLog(tmp_path, "c")
    c.open()
    assert [p.name for p in c.adopt_orphans()] == ["adopted-a-seg-000000000001.jsonl"]
    c.close()


def test_the_stopping_service_ships_what_its_replicas_left(tmp_path: Path) -> None:
    """Once Ray is down no replica is left to adopt a dead one's rows: the stop ships them itself."""
    die_with_rows(tmp_path / "wal", 30)
    args = ServiceArgs(mlflow_uri="sqlite:///unused.db", store_dir=str(tmp_path / "store"),
                       wal_dir=str(tmp_path / "wal"))
    assert ship_what_replicas_left(args) == 30
    assert LocalRequestStore(tmp_path / "store").count() == 30
    assert list((tmp_path / "wal").rglob("*.jsonl")) == []
    assert ship_what_replicas_left(args) == 0  # nothing is shipped twice
