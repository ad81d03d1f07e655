"""The log on a root every node shares: a dead node's rows shipped by a replica on another node, no
adopter taking a starting owner's folder, and an unshipped row older than its bound alerting."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from request_log_rows import Recorder, die_with_rows, row

from creditrisk.settings import get_settings
from creditrisk.store.local import LocalRequestStore
from serving import flocks
from serving.health import overall
from serving.logger import InferenceLogger
from serving.wal import SegmentLog, check_node, encode


def test_a_dead_nodes_rows_are_shipped_by_a_replica_on_another_node(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    die_with_rows(root, 40, node="node-b")
    assert (root / "node-b" / "dead-replica" / "owner.lock").exists()  # each node writes its own folder
    store = LocalRequestStore(tmp_path / "store")

    async def scenario() -> tuple[int, int]:
        live = InferenceLogger(lambda: store, SegmentLog(root, "live", node="node-a"), flush_interval_s=60)
        live.start()
        first, again = await live.flush(), await live.flush()
        await live.close()
        return first, again

    assert asyncio.run(scenario()) == (40, 0)  # shipped once, nothing twice
    assert store.count() == 40 and not (root / "node-b" / "dead-replica").exists()


def test_the_flat_layout_before_nodes_is_still_adopted(tmp_path: Path) -> None:
    """Segments left by a replica of the version before nodes (`<root>/<owner>/`) are shipped too."""
    old = tmp_path / "before"
    old.mkdir()
    (old / "owner.lock").touch()
    (old / "seg-000000000001.jsonl").write_bytes(encode([row(0), row(1)]))
    live = SegmentLog(tmp_path, "live", node="node-a")
    live.open()
    assert [p.name for p in live.adopt_orphans()] == ["adopted-before-seg-000000000001.jsonl"]
    live.close()


def test_an_adopter_never_removes_a_starting_owners_lock(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewed race: an adopter's pass lands between a starting owner's first lock calls."""
    adopter, starting = SegmentLog(tmp_path, "adopter"), SegmentLog(tmp_path, "starting")
    adopter.open()
    real_flock, raced = fcntl.flock, []

    def adopter_runs_first(fd: int, op: int) -> None:
        if not raced:  # the starting owner's first flock call: the adopter's whole pass goes first
            raced.append([])
            raced[0] = adopter.adopt_orphans()
        real_flock(fd, op)

    monkeypatch.setattr(flocks.fcntl, "flock", adopter_runs_first)
    starting.open()
    monkeypatch.setattr(flocks.fcntl, "flock", real_flock)
    starting.append(b'{"request_id": "x"}\n', 1)
    starting.seal()
    assert raced == [[]] and (starting.folder / "owner.lock").exists()
    assert adopter.adopt_orphans() == []  # alive: its folder and lock are its own
    with pytest.raises(RuntimeError, match="another live process"):
        SegmentLog(tmp_path, "starting").open()
    starting.close()  # leaves its sealed segment, as a dead owner would
    assert [p.name for p in adopter.adopt_orphans()] == ["adopted-starting-seg-000000000001.jsonl"]
    adopter.close()


def test_node_names_are_one_folder_each() -> None:
    assert check_node("gke-pool-1-a1b2") == "gke-pool-1-a1b2"
    for bad in ("", "..", "a/b", "quarantine", "-x"):
        with pytest.raises(ValueError, match="CREDITRISK_NODE"):
            check_node(bad)
    settings = get_settings({"CREDITRISK_HOME": "/h"})
    assert (settings.node, settings.wal_dir) == ("local", Path("/h/wal"))
    shared = get_settings({"CREDITRISK_HOME": "/h", "CREDITRISK_WAL_DIR": "/mnt/wal",
                           "CREDITRISK_NODE": "n1"})
    assert (shared.node, shared.wal_dir) == ("n1", Path("/mnt/wal"))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_old_unshipped_row_alerts_once_and_keeps_the_replica_ready(tmp_path: Path) -> None:
    root, store, alerts, ages = tmp_path / "wal", LocalRequestStore(tmp_path / "store"), Recorder(), []
    stuck = SegmentLog(root, "stuck", node="node-b")  # alive (holds its lock) but not shipping
    stuck.open()
    stuck.append(encode([row(0)]), 1)
    old = stuck.seal()
    assert old is not None
    os.utime(old, (time.time() - 600, time.time() - 600))  # written ten minutes ago
    log = InferenceLogger(lambda: store, SegmentLog(root, "r1", node="node-a"), flush_interval_s=60,
                          alerter=alerts, stale_after_s=300, on_age=ages.append)
    records = Records()
    logging.getLogger("ray.serve").addHandler(records)

    async def scenario() -> list[dict[str, Any]]:
        log.start()
        seen = []
        for _ in range(2):  # two passes, one episode
            await log.flush()
            seen.append(log.sections())
        stuck.remove(old)  # shipped at last
        await log.flush()
        seen.append(log.sections())
        await asyncio.sleep(0.1)  # the alert is sent off the event loop
        await log.close()
        return seen

    try:
        first, second, after = asyncio.run(scenario())
    finally:
        logging.getLogger("ray.serve").removeHandler(records)
        stuck.close()
    section = first["request_log"]
    assert section["stale"] is True and section["oldest_unshipped_age_s"] >= 599
    assert section["state"] == "degraded" and "has waited" in section["last_error"]
    assert overall(first) == "degraded"  # not unready: pulling the replica would ship nothing
    assert second["request_log"]["stale"] is True
    assert after["request_log"]["stale"] is False and after["request_log"]["state"] == "ok"
    assert alerts.sent == ["request log: unshipped rows older than their bound"]  # type: ignore[attr-defined]
    assert [r.levelname for r in records.records if "has waited" in r.getMessage()] == ["ERROR"]
    assert ages[0] >= 599 and ages[-1] == 0.0


def test_the_prestop_drain_waits_for_the_nodes_log_and_no_longer(tmp_path: Path) -> None:
    from serving.drain import wait_shipped

    owner = SegmentLog(tmp_path, "r1", node="node-a")
    owner.open()
    owner.append(encode([row(0), row(1)]), 2)
    segment = owner.seal()
    assert segment is not None
    threading.Timer(0.3, owner.remove, args=(segment,)).start()  # the stopping replica ships it
    t0 = time.monotonic()
    assert wait_shipped(tmp_path / "node-a", timeout_s=10, poll_s=0.05) == 0
    assert time.monotonic() - t0 < 5
    owner.append(encode([row(2)]), 1)  # a replica that cannot ship: the hook gives up, the row stays
    t0 = time.monotonic()
    assert wait_shipped(tmp_path / "node-a", timeout_s=0.3, poll_s=0.05) == 1
    assert time.monotonic() - t0 < 2 and wait_shipped(tmp_path / "node-b", timeout_s=10) == 0
    owner.close()
