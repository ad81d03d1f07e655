"""The disk-full drill: a write-ahead log whose writes fail partway, and what reaches the store.

A small file system cannot be mounted here, so the failure is injected: every `every`-th write to
the log's active segment puts only its first `k` bytes on disk, then fails with ENOSPC as a full
disk does. The baseline runs the same traffic through a log whose cut-back is disabled (the code
before issue 19), in the same run, so the row shows what the fix changes and nothing else.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from serving.logger import InferenceLogger, LogRefused
from serving.wal import SegmentLog

DAY = datetime(2031, 2, 3, tzinfo=UTC)


class UncutLog(SegmentLog):
    """The log as it was before issue 19: a torn write stays, and the next row is glued to it."""

    def _cut_back(self, *, quiet: bool = False) -> None:
        return None


def _row(i: int) -> dict[str, Any]:
    ts = DAY + timedelta(milliseconds=10 * i)
    return {**EXAMPLE_APPLICANT, "request_id": id_for(ts), "ts": ts, "probability": 0.5, "prediction": 1,
            "decision": "denied", "threshold": 0.4, "model_name": "m", "model_version": "1",
            "reasons": "[]", "latency_ms": 1.0}


def _drill(folder: Path, wal: SegmentLog, requests: int, every: int, k: int) -> dict[str, int]:
    store = LocalRequestStore(folder / "store")
    log = InferenceLogger(lambda: store, wal, flush_interval_s=3600)
    real_write, writes = os.write, 0

    def full_now_and_then(fd: int, data: bytes) -> int:
        nonlocal writes
        if fd != wal._fd:
            return real_write(fd, data)
        writes += 1
        if writes % every:
            return real_write(fd, data)
        real_write(fd, bytes(data[:k]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async def traffic() -> list[str]:
        answered: list[str] = []
        log.start()
        for i in range(requests):
            row = _row(i)
            try:
                await log.record(row)
                answered.append(row["request_id"])
            except LogRefused:
                pass  # the client got a 503
            if i % 250 == 249:
                await log.flush()
        await log.close()
        return answered

    os.write = full_now_and_then  # type: ignore[assignment]
    try:
        answered = asyncio.run(traffic())
    finally:
        os.write = real_write
    stored = len(store.known_request_ids(answered))
    return {"requests": requests, "refused": requests - len(answered), "answered": len(answered),
            "stored": stored, "lost": len(answered) - stored, "torn": log.torn}


def drill_disk_full(requests: int = 5_000, every: int = 10, k: int = 40) -> dict[str, Any]:
    """The drill with today's log, and its baseline with the cut-back disabled."""
    shipper = logging.getLogger("ray.serve")
    level = shipper.level
    shipper.setLevel(logging.ERROR)  # the baseline's shipper warns once per torn segment: counted below
    try:
        with tempfile.TemporaryDirectory(prefix="disk-full-") as tmp:
            now, before = Path(tmp) / "now", Path(tmp) / "before"
            fixed = _drill(now, SegmentLog(now / "wal", "r1"), requests, every, k)
            baseline = _drill(before, UncutLog(before / "wal", "r1"), requests, every, k)
    finally:
        shipper.setLevel(level)
    return {**fixed, "every": every, "k": k, "baseline": baseline}
