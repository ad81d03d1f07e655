"""The embedded store: concurrent appends, durable writes, compaction by day, id lookups by day."""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from store_rows import T0, outcome_row, request_row

from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for

WRITERS, BATCHES, BATCH = 3, 40, 25


def _writer(root: str, writer: int) -> None:
    store = LocalRequestStore(root)
    for b in range(BATCHES):
        rows = [request_row(f"w{writer}-b{b}-{i}", T0 + timedelta(minutes=b * BATCH + i, seconds=writer))
                for i in range(BATCH)]
        store.append_requests(rows)


def test_concurrent_appends_from_processes_while_reading_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(root), w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    reader, seen = LocalRequestStore(root), []
    while any(p.is_alive() for p in procs):  # reads race the writers: no error, never a partial file
        n = len(reader.read_window(T0, T0 + timedelta(days=2)))
        assert not seen or n >= seen[-1]  # append-only: a later read never sees fewer rows
        seen.append(n)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    df = reader.read_window(T0, T0 + timedelta(days=2))
    assert len(df) == df["request_id"].nunique() == WRITERS * BATCHES * BATCH
    assert reader.count() == WRITERS * BATCHES * BATCH
    assert len(seen) > 1


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("part-*.parquet"))


def test_compaction_merges_each_day_before_the_cutoff_day_into_one_file(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    days = [T0 + timedelta(days=d) for d in range(3)]
    for day in days:
        for i in range(4):
            store.append_requests([request_row(id_for(day + timedelta(hours=i)), day + timedelta(hours=i))])
    retried = store.read_window(days[0], days[0] + timedelta(hours=1))["request_id"].item()
    store.append_requests([request_row(retried, days[0])])  # a retried append: merged away
    reported = days[1] + timedelta(hours=1)
    for _ in range(2):  # the same outcome reported twice: outcomes are kept whole
        store.append_outcomes([outcome_row(retried, 1, reported)])
    before = store.read_window(days[0], days[2] + timedelta(days=1))
    untouched = _parts(store.root / "requests" / f"date={days[2]:%Y-%m-%d}")

    # `before` mid-afternoon of the third day: only the two days before it are compacted.
    assert store.compact(before=days[2] + timedelta(hours=15)) == 5 + 4 + 2
    for day in days[:2]:
        assert len(_parts(store.root / "requests" / f"date={day:%Y-%m-%d}")) == 1
    assert _parts(store.root / "requests" / f"date={days[2]:%Y-%m-%d}") == untouched
    merged = store.root / "requests" / f"date={days[0]:%Y-%m-%d}"
    assert pq.read_table(next(merged.glob("part-*.parquet"))).num_rows == 4  # the duplicate is gone
    outcomes = store.root / "outcomes" / f"date={reported:%Y-%m-%d}"
    assert [pq.read_table(outcomes / p).num_rows for p in _parts(outcomes)] == [2]
    pd.testing.assert_frame_equal(store.read_window(days[0], days[2] + timedelta(days=1)), before)
    assert not list(store.root.rglob("*.tmp"))
    assert store.compact(before=days[2] + timedelta(hours=15)) == 0  # nothing left to merge
    assert store.count() == 12


def test_writes_are_fsynced_before_and_after_they_are_published(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """File data, then the rename, then the folder: a crash after a call returns loses nothing."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store = LocalRequestStore(tmp_path / "store")
    store.append_requests([request_row(id_for(T0), T0)])
    store.append_requests([request_row(id_for(T0), T0 + timedelta(hours=1))])
    store.append_outcomes([outcome_row(id_for(T0), 1, T0)])
    store.compact(before=T0 + timedelta(days=1))
    published = [i for i, (what, _) in enumerate(events) if what == "replace"]
    assert len(published) == 4  # three appends and one merge
    for i in published:
        src, dst = events[i][1].split(" -> ")
        assert ("fsync", src) in events[:i], f"{src} published before its data was synced"
        assert ("fsync", str(Path(dst).parent)) in events[i + 1:], f"{dst}'s folder never synced"
    # A new day folder is itself recorded in its parent before the file in it counts as written.
    assert ("fsync", str(store.root / "requests")) in events


def test_an_id_lookup_opens_only_the_day_folders_its_ids_name(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    rid = id_for(T0 + timedelta(hours=3))
    store.append_requests([request_row(rid, T0 + timedelta(hours=3))])
    far = store.root / "requests" / f"date={T0 + timedelta(days=40):%Y-%m-%d}"
    far.mkdir(parents=True)
    (far / "part-garbage.parquet").write_bytes(os.urandom(2048))  # would fail any read that opened it
    assert store.known_request_ids([rid, id_for(T0 - timedelta(days=3)), "not-ours"]) == {rid}
    assert store.quarantined_files() == 0 and (far / "part-garbage.parquet").exists()


def test_reads_racing_compaction_never_fail_nor_miss_a_row(tmp_path: Path) -> None:
    """A reader lists files a compaction then removes: the read is retried on a fresh listing."""
    store = LocalRequestStore(tmp_path / "store")
    for i in range(20):
        store.append_requests([request_row(id_for(T0), T0 + timedelta(minutes=i))])
    done, errors = threading.Event(), []

    def compact_repeatedly() -> None:
        try:
            for i in range(20, 60):  # a compaction every ~20 ms (in production: once a day per folder)
                store.append_requests([request_row(id_for(T0), T0 + timedelta(minutes=i))])
                store.compact(before=T0 + timedelta(days=1))
                time.sleep(0.02)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=compact_repeatedly)
    worker.start()
    seen = [0]
    while not done.is_set():
        n = LocalRequestStore(store.root).count(T0, T0 + timedelta(days=1))
        assert n >= seen[-1]  # never fewer rows: a compacted file's rows are in the merged one
        seen.append(n)
    worker.join()
    assert errors == [] and len(seen) > 2
    assert store.count() == 60 and store.quarantined_files() == 0
