"""Group commit: one `fsync` in a worker thread covers every row appended before it started.

Concurrent requests each wait for an fsync that began after their own write; while one fsync
runs, the rows that arrive meanwhile share the next one. Sealing a segment takes the same lock,
so an fsync never races the close of its descriptor.
"""
from __future__ import annotations

import asyncio

from serving.wal import SegmentLog


class GroupCommit:
    """Counts appends to one WAL and makes them durable in shared fsyncs."""

    def __init__(self, wal: SegmentLog) -> None:
        self.wal = wal
        self.lock = asyncio.Lock()  # fsync and sealing never overlap on one descriptor
        self.appended = self.synced = 0
        self._task: asyncio.Task[None] | None = None

    def written(self) -> None:
        """One more row is in the kernel (after `SegmentLog.append`)."""
        self.appended += 1

    async def durable(self) -> None:
        """Return once an fsync that started after the last `written()` has finished."""
        target = self.appended
        while self.synced < target:
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._sync_once())
            await asyncio.shield(self._task)

    async def seal(self) -> None:
        """Seal the active segment (fsynced when fsync is on): everything so far is durable."""
        async with self.lock:
            self.wal.seal()
            self.synced = self.appended

    async def _sync_once(self) -> None:
        try:
            upto = self.appended
            async with self.lock:
                await asyncio.to_thread(self.wal.sync)
            self.synced = max(self.synced, upto)
        finally:
            self._task = None
