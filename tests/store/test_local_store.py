"""The embedded store under the load it is built for: several processes appending while one reads."""
from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta
from pathlib import Path

from store_rows import T0, request_row

from creditrisk.store.local import LocalRequestStore

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


def test_compaction_merges_files_without_changing_reads(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    for i in range(5):
        store.append_requests([request_row(f"r{i}", T0 + timedelta(hours=i))])
    before = store.read_window(T0, T0 + timedelta(days=1))
    assert store.compact(older_than=timedelta(0)) == 5
    assert len(list((tmp_path / "store" / "requests").rglob("*.parquet"))) == 1
    after = store.read_window(T0, T0 + timedelta(days=1))
    assert before.equals(after)
    store.append_requests([request_row("r0", T0)])  # a retried append is not counted twice
    assert store.count() == 5
