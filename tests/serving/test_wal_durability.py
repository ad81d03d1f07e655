"""The write-ahead log on a misbehaving disk: a short write never tears the next row, new names are synced."""
from __future__ import annotations

import asyncio
import errno
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from request_log_rows import row

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.client import Registry
from creditrisk.store.local import LocalRequestStore
from serving.api import build_api
from serving.config import PredictorConfig, ServiceArgs
from serving.logger import InferenceLogger
from serving.predictor import ChampionPredictor, Scored
from serving.replica import Replica
from serving.wal import SegmentLog, read_segment


class ShortWrite:
    """`os.write` that, once armed on one descriptor, puts only its first `k` bytes on disk.

    `raises`: the write then fails with ENOSPC (as a wrapped writer would); else it returns `k`,
    as the kernel's own short write on a nearly full disk does.
    """

    def __init__(self, k: int, raises: bool) -> None:
        self.k, self.raises = k, raises
        self.fd: int | None = None
        self.real = os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if fd != self.fd:
            return self.real(fd, data)
        self.fd = None  # one failure, then the disk has room again
        written = self.real(fd, bytes(data[:self.k]))
        if self.raises:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return written


@pytest.mark.parametrize("raises", [True, False], ids=["ENOSPC-after-k-bytes", "short-count"])
def test_a_short_write_answers_503_and_the_next_row_is_stored_whole(
        registry, champion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raises: bool) -> None:
    store = LocalRequestStore(tmp_path / "store")
    log = InferenceLogger(lambda: store, SegmentLog(tmp_path / "wal", "r1"), flush_interval_s=60)
    predictor = ChampionPredictor(lambda: Registry(registry.tracking_uri), PredictorConfig())

    async def score_one(r: dict[str, Any]) -> Scored:  # @serve.batch needs a Serve replica; same scoring
        return predictor.score_now([r])[0]

    predictor.score = score_one  # type: ignore[method-assign,assignment]
    replica = Replica(ServiceArgs(flush_interval_s=60), predictor, log, outcomes_token="t", replica_id="r1")
    fault = ShortWrite(k=40, raises=raises)
    monkeypatch.setattr(os, "write", fault)

    async def scenario() -> tuple[list[int], int, int, int]:
        predictor.load_initial()
        log.start()
        statuses, ids = [], []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_api(replica)),
                                     base_url="http://replica") as client:
            for i in range(3):
                fault.fd = log.wal._fd if i == 1 else None  # the second request meets the full disk
                answer = await client.post("/predict", json=EXAMPLE_APPLICANT)
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    ids.append(answer.json()["request_id"])
        shipped = await log.flush()
        await log.close()
        await predictor.close()
        return statuses, shipped, len(store.known_request_ids(ids)), log.torn

    # answers, rows shipped, answered rows in the store, torn lines
    assert asyncio.run(scenario()) == ([200, 503, 200], 2, 2, 0)
    assert store.count() == 2


def test_a_torn_tail_that_cannot_be_cut_is_sealed_away_from_the_next_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When even the cut fails, the next append refuses until the tail is sealed off in its own segment."""
    wal = SegmentLog(tmp_path, "r1")
    wal.open()
    wal.append(b'{"request_id": "a"}\n', 1)
    fault = ShortWrite(k=7, raises=True)
    monkeypatch.setattr(os, "write", fault)
    real_ftruncate = os.ftruncate

    def no_cut(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "cannot cut")

    monkeypatch.setattr(os, "ftruncate", no_cut)
    fault.fd = wal._fd
    with pytest.raises(OSError, match="No space left"):
        wal.append(b'{"request_id": "b"}\n', 1)
    with pytest.raises(OSError, match="cannot cut"):
        wal.append(b'{"request_id": "c"}\n', 1)  # refused, never glued to the torn tail
    torn = wal.seal()  # the shipper's next pass
    monkeypatch.setattr(os, "ftruncate", real_ftruncate)
    wal.append(b'{"request_id": "d"}\n', 1)
    wal.seal()
    assert torn is not None and read_segment(torn) == ([{"request_id": "a"}], 1)
    assert [read_segment(p) for p in wal.sealed() if p != torn] == [([{"request_id": "d"}], 0)]
    wal.close()


def synced_folders(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record the folders `os.fsync` is called on (directory descriptors only), in order."""
    seen: list[Path] = []
    real = os.fsync

    def recording(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            seen.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return seen


def test_new_owner_folders_and_segments_are_made_durable_once_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = synced_folders(monkeypatch)
    wal = SegmentLog(tmp_path / "wal", "r1", fsync=True)
    wal.open()
    # the node's and the owner's folder names are in their parents, durably
    assert seen[-2:] == [tmp_path / "wal", tmp_path / "wal" / "local"]
    seen.clear()
    for segment in range(2):
        for i in range(3):
            wal.append(b'{"request_id": "%d-%d"}\n' % (segment, i), 1)
            wal.sync()  # a group commit
        wal.seal()
    assert seen == [wal.folder, wal.folder]  # one folder sync per new segment, not one per request
    wal.close()


def test_the_request_log_with_fsync_syncs_the_folder_of_each_new_segment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = synced_folders(monkeypatch)
    store = LocalRequestStore(tmp_path / "store")
    log = InferenceLogger(lambda: store, SegmentLog(tmp_path / "wal", "r1", fsync=True), flush_interval_s=60)

    async def scenario() -> None:
        log.start()
        await log.record(row(0))
        await log.record(row(1))
        await log.flush()  # seals the segment, ships it, opens the next
        await log.record(row(2))
        await log.close()

    asyncio.run(scenario())
    assert seen.count(tmp_path / "wal" / "local" / "r1") >= 2 and store.count() == 3


def test_a_quarantine_file_and_its_folder_are_synced_before_the_segment_can_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused rows are the only copy once their segment is removed: their file's name must survive too."""
    wal = SegmentLog(tmp_path / "wal", "r1")
    wal.open()
    seen = synced_folders(monkeypatch)
    for _ in range(2):  # the second write appends to the same file: its name is already durable
        kept = wal.quarantine(wal.folder / "seg-000000000001.jsonl", [({"request_id": "x"}, "refused")])
    assert seen == [tmp_path / "wal", tmp_path / "wal" / "quarantine"]  # folder, then file name
    assert read_segment(kept)[0] == [{"error": "refused", "row": {"request_id": "x"}}] * 2
    wal.close()
