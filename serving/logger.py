"""Inference log: every answered `/predict` goes to the request store, off the request's path.

`add()` only appends a dict to an in-memory buffer (microseconds); a background task writes the
buffer to the store every `flush_interval_s`, or sooner when `flush_max_rows` rows are waiting,
in a worker thread so the event loop keeps answering. A failed write puts the rows back and is
retried (reported in `/readyz`); `close()` writes what is left, so after N answered requests and
a shutdown the store holds exactly N rows.

Request ids are time-ordered UUIDs (version-7 layout: the first 48 bits are the issue time in ms).
That lets `/outcomes` tell "unknown" from "answered a moment ago by another replica whose buffer
has not been flushed yet": for a fresh id it waits until every replica's buffer must have been
written, then looks again.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from creditrisk.request_ids import issued_at_ms, new_request_id  # noqa: F401 - re-exported
from creditrisk.store.base import RequestStore
from serving.health import PartHealth, now_iso

log = logging.getLogger("ray.serve")


class InferenceLogger:
    def __init__(self, store_factory: Callable[[], RequestStore], flush_interval_s: float = 1.0,
                 flush_max_rows: int = 1000, backend: str = "") -> None:
        self._store_factory = store_factory
        self.backend = backend  # shown in /readyz
        self._store: RequestStore | None = None
        self.flush_interval_s = flush_interval_s
        self.flush_max_rows = flush_max_rows
        self._buffer: list[dict[str, Any]] = []
        self._ids: set[str] = set()  # buffered + being written: "known" to /outcomes
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one write at a time: the loop's and close()'s never overlap
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.last_flush_at: str | None = None
        self.health = PartHealth("ok")  # the buffer: degraded while rows wait on a failing store
        self.store_health = PartHealth("ok")  # the store itself, as its last write or read found it

    @property
    def store(self) -> RequestStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def add(self, row: dict[str, Any]) -> None:
        self._buffer.append(row)
        self._ids.add(row["request_id"])
        if len(self._buffer) >= self.flush_max_rows:
            self._wake.set()

    def contains(self, request_id: str) -> bool:
        return request_id in self._ids

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
            if self.health.state != "ok":
                await asyncio.sleep(min(5.0, self.flush_interval_s))  # back off while the store is down

    async def flush(self) -> int:
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            try:
                written = await asyncio.to_thread(self.store.append_requests, rows)
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the rows, retry later
                self._buffer = rows + self._buffer
                self.store_health.set("down", exc)
                self.health.set("degraded", f"{len(self._buffer)} rows waiting: {type(exc).__name__}: {exc}")
                log.warning("request log flush of %d rows failed (will retry): %s", len(rows), exc)
                return 0
            self._ids.difference_update(r["request_id"] for r in rows)
            self.written += written
            self.last_flush_at = now_iso()
            self.store_health.set("ok")
            self.health.set("ok")
            return written

    async def close(self) -> None:
        """Stop the loop and write everything still buffered (called on replica shutdown)."""
        if self._task is not None:
            async with self._lock:  # cancel between writes, never in the middle of one
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for _ in range(3):  # a transient store error should not lose the tail of the log
            await self.flush()
            if not self._buffer:
                break
            await asyncio.sleep(0.5)
        if self._buffer:
            log.error("request log: %d rows could not be written at shutdown: %s", len(self._buffer),
                      self.health.last_error)
        if self._store is not None:
            self._store.close()

    def check_health(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            raise RuntimeError(f"request log writer stopped: {self._task.exception()!r}")

    def sections(self) -> dict[str, dict[str, Any]]:
        """The `request_log` and `store` sections of `/readyz`."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self.health.set("down", "the writer task stopped")
        return {"request_log": self.health.section(buffered=len(self._buffer), written=self.written,
                                                   last_flush_at=self.last_flush_at,
                                                   flush_interval_s=self.flush_interval_s),
                "store": self.store_health.section(backend=self.backend)}
