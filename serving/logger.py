"""Inference log: every answered `/predict` is on the replica's disk before its response leaves.

`record()` appends the row to this replica's write-ahead log (`serving.wal`) with one `write`
(microseconds; it then survives a SIGKILL or OOM of the process) and, when fsync is on, waits for
a group commit: one `fsync` in a worker thread covers every row appended before it started, so
concurrent requests share it. A background shipper seals the active segment every
`flush_interval_s` (or at `flush_max_rows`), writes sealed segments to the request store and
deletes them once the store confirmed; segments of dead replicas on the same disk are adopted
and shipped the same way. A store outage therefore costs no answers while the backlog stays
under its disk budget; beyond it `when_full` decides: `queue` (answer, alert) or `refuse` (503).
Rows the store refuses are quarantined with their error and never block the others.

A row that waits longer than `stale_after_s` anywhere under the log's root (a stranded dead node's
folder, a shipper that cannot ship) makes the log `degraded` in `/readyz` with the age, logs one
ERROR and sends one alert per episode, and sets the gauge `on_age` is given (the replica's Prometheus
metric). It never makes the replica unready: taking it out of the load balancer would ship nothing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from creditrisk.alerts import Alerter
from creditrisk.store.base import RequestStore
from creditrisk.store.request_ids import issued_at_ms, new_request_id  # noqa: F401 - re-exported
from creditrisk.store.rows import StoreError, request_frame, split_valid_requests
from serving.commit import GroupCommit
from serving.health import PartHealth, now_iso
from serving.wal import SegmentLog, encode, read_segment

log = logging.getLogger("ray.serve")
WhenFull = Literal["queue", "refuse"]


class LogRefused(RuntimeError):
    """This replica cannot make a decision durable right now: the request must not be answered."""


class InferenceLogger:
    """The replica's write-ahead log, its shipper to the request store, and their health."""

    def __init__(self, store_factory: Callable[[], RequestStore], wal: SegmentLog, *,
                 flush_interval_s: float = 1.0, flush_max_rows: int = 1000,
                 budget_bytes: int = 256 * 2**20, when_full: WhenFull = "refuse", backend: str = "",
                 alerter: Alerter | None = None, stale_after_s: float = 300.0,
                 on_age: Callable[[float], None] | None = None) -> None:
        self._store_factory = store_factory
        self._store: RequestStore | None = None
        self.wal, self.backend = wal, backend
        self.flush_interval_s, self.flush_max_rows = flush_interval_s, flush_max_rows
        self.budget_bytes, self.when_full = budget_bytes, when_full
        self.alerter = alerter or Alerter()
        self.stale_after_s, self._on_age = stale_after_s, on_age
        self._oldest_at: float | None = None  # the oldest unshipped row under the root, as last seen
        self._stale = False
        self._pending: set[str] = set()  # ids on disk, not yet in the store: "known" to /outcomes
        self._wake = asyncio.Event()
        self._ship_lock = asyncio.Lock()  # one shipping pass at a time (the loop's and close()'s)
        self.commit = GroupCommit(wal)
        self._task: asyncio.Task[None] | None = None
        self._sealed_bytes = 0
        self.written = self.torn = 0
        self.ship_failures = 0  # segment shipments the store failed (exported by `serving.metrics`)
        self.quarantined_rows = self.quarantined_files = 0
        self.last_flush_at: str | None = None
        self._wal_error: str | None = None
        self._store_error: str | None = None
        self._alerted = False
        self._last_record = float("-inf")
        self.health = PartHealth("ok")  # the log: degraded while a backlog waits, down when refusing
        self.store_health = PartHealth("ok")  # the store, as its last write or read found it

    @property
    def store(self) -> RequestStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def start(self) -> None:
        """Open the WAL and start the shipper (whose first pass adopts what dead replicas left)."""
        self.wal.open()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def backlog_bytes(self) -> int:
        return self._sealed_bytes + self.wal.active_bytes

    def over_budget(self) -> bool:
        return self.backlog_bytes() > self.budget_bytes

    async def record(self, row: Mapping[str, Any]) -> None:
        """Make `row` durable (raises LogRefused when it cannot be, or the budget policy refuses)."""
        if self.over_budget() and self.when_full == "refuse":
            self._refresh()
            raise LogRefused(f"request log backlog {self.backlog_bytes()} bytes is over its budget "
                             f"({self.budget_bytes}) while the store is unreachable")
        try:
            self.wal.append(encode([row]), 1)
            self.commit.written()
            if self.wal.fsync:
                await self.commit.durable()
        except (OSError, TypeError, RuntimeError) as exc:
            self._wal_error = f"{type(exc).__name__}: {exc}"
            self._refresh()
            raise LogRefused(f"the request log cannot be written: {exc}") from exc
        self._pending.add(str(row["request_id"]))
        self._last_record = time.monotonic()
        if self._wal_error is not None or self.over_budget():
            self._wal_error = None
            self._refresh()
        if self.wal.active_rows >= self.flush_max_rows:
            self._wake.set()

    def _refresh(self) -> None:
        """Derive the log's state from the facts: WAL writable, backlog vs budget, store reachable."""
        over = self.over_budget()
        budget = (f"backlog {self.backlog_bytes()} bytes over the {self.budget_bytes}-byte budget "
                  f"(policy {self.when_full})")
        if self._wal_error is not None:
            self.health.set("down", f"write-ahead log unwritable: {self._wal_error}")
        elif over:
            self.health.set("down" if self.when_full == "refuse" else "degraded", budget)
        elif self._store_error is not None:
            waiting = f"{len(self._pending)} rows waiting for the store: {self._store_error}"
            self.health.set("degraded", waiting)
        elif self._stale:
            self.health.set("degraded", self._stale_detail())
        else:
            self.health.set("ok")
        if over and not self._alerted:  # once per crossing, off the event loop (a webhook may be slow)
            self._alert("request log over its disk budget", budget)
        self._alerted = over

    def _alert(self, title: str, detail: str) -> None:
        details = {"wal": str(self.wal.folder), "detail": detail}
        asyncio.get_running_loop().run_in_executor(None, self.alerter.send, title, details)

    def _stale_detail(self) -> str:
        return (f"the oldest unshipped row under {self.wal.root} has waited {self.oldest_age_s():.0f} s "
                f"(bound {self.stale_after_s:.0f} s)")

    def oldest_age_s(self) -> float:
        """Seconds the oldest unshipped row under the root has waited (0 when none), as of now."""
        return 0.0 if self._oldest_at is None else max(0.0, time.time() - self._oldest_at)

    async def _check_age(self) -> None:
        """Age of the oldest unshipped row under the root: the gauge, and one ERROR and alert per episode."""
        self._oldest_at = await asyncio.to_thread(self.wal.oldest_unshipped_at)
        if self._on_age is not None:
            self._on_age(self.oldest_age_s())
        stale = self.oldest_age_s() > self.stale_after_s
        if stale and not self._stale:
            log.error("request log: %s", self._stale_detail())
            self._alert("request log: unshipped rows older than their bound", self._stale_detail())
        self._stale = stale

    def seconds_since_last_record(self) -> float:
        return time.monotonic() - self._last_record

    def contains(self, request_id: str) -> bool:
        return request_id in self._pending

    async def _run(self) -> None:
        while True:
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - e.g. the WAL folder unreadable: report, try again
                self._store_error = f"{type(exc).__name__}: {exc}"
                self._refresh()
                log.exception("request log: shipping pass failed")
            if self.store_health.state != "ok":
                await asyncio.sleep(min(5.0, self.flush_interval_s))  # back off while the store is down
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def flush(self) -> int:
        """One shipping pass: seal, adopt orphans, ship every sealed segment. Returns rows written."""
        async with self._ship_lock:
            await self.commit.seal()
            for seg in await asyncio.to_thread(self.wal.adopt_orphans):
                self._pending.update(str(r.get("request_id")) for r in read_segment(seg)[0])
            written, failed = 0, 0
            for seg in self.wal.sealed():
                n = await self._ship(seg)
                written, failed = written + max(n, 0), failed + (n < 0)
            self._sealed_bytes = await asyncio.to_thread(lambda: sum(p.stat().st_size
                                                                     for p in self.wal.sealed()))
            if not failed:
                self.store_health.set("ok")
                self._store_error = None
            try:
                self.quarantined_files = await asyncio.to_thread(self.store.quarantined_files)
            except Exception as exc:  # noqa: BLE001 - a listing failure is the store's health, not ours
                self.store_health.set("down", exc)
            await self._check_age()
            self._refresh()
            return written

    async def _ship(self, seg: Path) -> int:
        """Write one segment to the store and delete it; -1 (kept for a retry) when the store fails."""
        rows: list[dict[str, Any]] = []
        try:
            rows, torn = await asyncio.to_thread(read_segment, seg)
            if torn:
                self.torn += torn
                log.warning("request log: %s had %d torn line(s) (a write cut by a crash)", seg, torn)
            written = await asyncio.to_thread(self._write, rows, seg) if rows else 0
        except Exception as exc:  # noqa: BLE001 - any store failure: keep the segment, retry later
            self.store_health.set("down", exc)
            self.ship_failures += 1
            self._store_error = f"{type(exc).__name__}: {exc}"
            if self.health.state == "ok":  # with the store's state, so /readyz never shows one alone
                self.health.set("degraded", f"{len(self._pending)} rows waiting for the store: "
                                            f"{self._store_error}")
            log.warning("request log: shipping %s (%d rows) failed, will retry: %s", seg.name, len(rows), exc)
            return -1
        self.wal.remove(seg)
        self._pending.difference_update(str(r.get("request_id")) for r in rows)
        self.written += written
        self.last_flush_at = now_iso()
        return written

    def _write(self, rows: list[dict[str, Any]], seg: Path) -> int:
        """Rows the store's schema refuses go to quarantine first, so they never block the others."""
        try:
            request_frame(rows)
        except (StoreError, ValueError, TypeError, OverflowError):
            rows, refused = split_valid_requests(rows)
            if refused:
                where = self.wal.quarantine(seg, refused)
                self.quarantined_rows += len(refused)
                log.error("request log: %d row(s) refused by the store schema, kept in %s: %s",
                          len(refused), where, refused[0][1])
        return self.store.append_requests(rows) if rows else 0

    async def close(self) -> None:
        """Stop the shipper, ship what is left (a few tries); whatever stays is shipped at next start."""
        if self._task is not None:
            async with self._ship_lock:  # cancel between passes, never in the middle of one
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for _ in range(3):
            await self.flush()
            if not self.wal.sealed():
                break
            await asyncio.sleep(0.5)
        if self.wal.sealed():
            log.error("request log: %d rows stay on disk in %s for the next replica: %s",
                      len(self._pending), self.wal.folder, self.store_health.last_error)
        self.wal.close()
        if self._store is not None:
            self._store.close()

    def check_health(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            raise RuntimeError(f"request log shipper stopped: {self._task.exception()!r}")

    def sections(self) -> dict[str, dict[str, Any]]:
        """The `request_log` and `store` sections of `/readyz`."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self.health.set("down", "the shipper task stopped")
        return {"request_log": self.health.section(
                    backlog_rows=len(self._pending), backlog_bytes=self.backlog_bytes(),
                    budget_bytes=self.budget_bytes, when_full=self.when_full, fsync=self.wal.fsync,
                    written=self.written, quarantined_rows=self.quarantined_rows, torn_lines=self.torn,
                    last_flush_at=self.last_flush_at, flush_interval_s=self.flush_interval_s,
                    oldest_unshipped_age_s=round(self.oldest_age_s(), 1),
                    stale=self.oldest_age_s() > self.stale_after_s,
                    stale_after_s=self.stale_after_s),
                "store": self.store_health.section(backend=self.backend,
                                                   quarantined_files=self.quarantined_files)}
