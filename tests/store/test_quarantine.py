"""A corrupt Parquet file in the local store is moved aside, logged and counted; it never blocks a read."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_rows import T0, outcome_row, request_row

from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from creditrisk.store.rows import StoreError

DAY = f"{T0:%Y-%m-%d}"


def _store(root: Path) -> tuple[LocalRequestStore, list[list[str]]]:
    """Three appends on day T0 and one on the next day; returns the store and each append's ids."""
    store = LocalRequestStore(root)
    batches = [[T0 + timedelta(hours=h) for h in hours] for hours in ((1, 2), (3,), (4, 5), (30,))]
    ids = [[id_for(ts) for ts in batch] for batch in batches]
    for batch, batch_ids in zip(batches, ids, strict=True):
        store.append_requests([request_row(rid, ts) for rid, ts in zip(batch_ids, batch, strict=True)])
    return store, ids


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def _read_window(store: LocalRequestStore, good: list[str]) -> None:
    assert sorted(store.read_window(T0, T0 + timedelta(days=2))["request_id"]) == sorted(good)


def _count(store: LocalRequestStore, good: list[str]) -> None:
    assert store.count() == len(good)


def _known_request_ids(store: LocalRequestStore, good: list[str]) -> None:
    assert store.known_request_ids(good + [id_for(T0)]) == set(good)


def _compact(store: LocalRequestStore, good: list[str]) -> None:
    store.compact(before=T0 + timedelta(days=5))
    assert len(list((store.root / "requests" / f"date={DAY}").glob("part-*.parquet"))) == 1
    _read_window(store, good)


OPERATIONS: dict[str, Callable[[LocalRequestStore, list[str]], None]] = {
    "read_window": _read_window, "count": _count, "known_request_ids": _known_request_ids,
    "compact": _compact}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_corrupt_files_are_quarantined_and_the_call_succeeds(tmp_path: Path, operation: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A file cut to half its bytes, then a file of random bytes: each is set aside by the next call."""
    store, ids = _store(tmp_path / "store")
    folder = store.root / "requests" / f"date={DAY}"
    good = ids[0] + ids[2] + ids[3]  # the second append (one row) is the file that gets cut
    truncated = _truncate(sorted(folder.glob("part-*.parquet"))[1])
    garbage = folder / "part-x.parquet"
    for n, bad in enumerate((truncated, garbage), start=1):
        if bad is garbage:
            garbage.write_bytes(os.urandom(4096))
        assert store.quarantined_files() == n - 1
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="creditrisk.store"):
            OPERATIONS[operation](store, good)  # succeeds, with the good rows only
        assert store.quarantined_files() == n
        assert not bad.exists()
        moved = store.root / "quarantine" / "requests" / f"date={DAY}" / bad.name
        assert moved.is_file()
        why = (moved.parent / f"{bad.name}.error.txt").read_text()
        assert str(bad) in why and "magic bytes" in why.lower() and "quarantined at 20" in why
        assert [r.name for r in caplog.records if r.levelno == logging.ERROR and str(bad) in r.getMessage()] \
            == ["creditrisk.store"], f"one ERROR log must name {bad}"
    # Every later call works with what is left, without quarantining anything else.
    for check in OPERATIONS.values():
        check(store, good)
    assert store.quarantined_files() == 2


def test_a_corrupt_outcome_file_is_quarantined_and_labels_still_join(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    rid = id_for(T0)
    store.append_requests([request_row(rid, T0)])
    store.append_outcomes([outcome_row(rid, 1, T0 + timedelta(days=3))])
    bad = tmp_path / "store" / "outcomes" / f"date={T0 + timedelta(days=4):%Y-%m-%d}" / "part-bad.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1" + os.urandom(100))
    labelled = store.read_window(T0, T0 + timedelta(days=1), labelled_only=True)
    assert labelled["request_id"].tolist() == [rid] and labelled["loan_status"].tolist() == [1]
    assert store.quarantined_files() == 1 and not bad.exists()
    assert (tmp_path / "store" / "quarantine" / "outcomes" / bad.parent.name / "part-bad.parquet").is_file()


def test_a_query_error_with_every_file_readable_is_raised_not_quarantined(tmp_path: Path) -> None:
    """Only unreadable files are moved: a query failing for another reason fails, with all files kept."""
    store = LocalRequestStore(tmp_path / "store")
    store.append_requests([request_row(id_for(T0), T0)])
    odd = pa.table({"request_id": [id_for(T0)], "ts": [{"x": 1}]})  # a readable file of another shape
    pq.write_table(odd, tmp_path / "store" / "requests" / f"date={DAY}" / "part-odd.parquet")
    with pytest.raises(StoreError, match="query failed"):
        store.read_window(T0, T0 + timedelta(days=1))
    assert store.quarantined_files() == 0
    assert len(list((tmp_path / "store" / "requests").rglob("part-*.parquet"))) == 2
