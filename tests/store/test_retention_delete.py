"""`delete_before` on both backends: rows either side of the cut, a hold and a referenced window."""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from store_rows import outcome_row, request_row

from creditrisk.store.base import RequestStore
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from creditrisk.store.retention import Deleted
from creditrisk.store.rows import StoreError


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CUTOFF = _t("2024-03-01")
HOLD = (_t("2023-05-01"), _t("2023-06-01"))
REFERENCED = (_t("2023-09-01"), _t("2023-09-15T12:00"))  # ends mid-day: one day folder holds both fates
REQUESTS = {  # name -> request time
    "old": _t("2023-04-20T10:00"), "old_unlabelled": _t("2023-04-20T11:00"),
    "held": _t("2023-05-10T09:00"), "referenced": _t("2023-09-15T06:00"),
    "after_window": _t("2023-09-15T18:00"), "eve_of_cut": _t("2024-02-29T23:00"), "at_cut": CUTOFF,
}
OUTCOMES = [  # (name, status, reported at)
    ("old", 0, _t("2023-04-25")), ("old", 1, _t("2023-04-30")),
    ("held", 1, _t("2023-07-01")),  # reported after the hold's last day: it stays with its request
    ("referenced", 0, _t("2023-09-20")),
    ("eve_of_cut", 0, _t("2024-03-05")),  # younger than the cut: stays, though its request goes
    ("at_cut", 1, _t("2024-03-10")),
]
IDS = {name: id_for(ts) for name, ts in REQUESTS.items()}


def _fill(store: RequestStore) -> None:
    for name, ts in REQUESTS.items():  # one append each: the local store gets several files per day
        store.append_requests([request_row(IDS[name], ts)])
    for name, status, at in OUTCOMES:
        store.append_outcomes([outcome_row(IDS[name], status, at)])


def _left(store: RequestStore) -> dict[str, object]:
    df = store.read_window(_t("1970-01-01"), _t("2100-01-01"))
    names = {v: k for k, v in IDS.items()}
    return {names[i]: (None if pd.isna(s) else int(s))
            for i, s in zip(df["request_id"], df["loan_status"].astype(object), strict=True)}


def test_exactly_the_old_rows_outside_holds_and_referenced_windows_go(store: RequestStore) -> None:
    _fill(store)
    deleted = store.delete_before(CUTOFF, [HOLD, REFERENCED])
    # old, old_unlabelled, after_window and eve_of_cut; old's two outcomes (eve_of_cut's is too young)
    assert deleted == Deleted(requests=4, outcomes=2)
    assert _left(store) == {"held": 1, "referenced": 0, "at_cut": 1}
    assert store.count() == 3
    # Run again: nothing more to delete.
    assert store.delete_before(CUTOFF, [HOLD, REFERENCED]) == Deleted(requests=0, outcomes=0)
    # A month later the request at the cut ages out, with its outcome and the outcome left behind
    # by the request deleted before (both now older than the cut-off).
    assert store.delete_before(_t("2024-04-01"), [HOLD, REFERENCED]) == Deleted(requests=1, outcomes=2)
    assert _left(store) == {"held": 1, "referenced": 0}


def test_without_keep_ranges_everything_before_the_cut_goes(store: RequestStore) -> None:
    _fill(store)
    assert store.delete_before(CUTOFF, []) == Deleted(requests=6, outcomes=4)
    assert _left(store) == {"at_cut": 1}


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def test_local_leaves_one_whole_file_per_touched_day_and_removes_emptied_days(tmp_path: Path) -> None:
    store = LocalRequestStore(tmp_path / "store")
    _fill(store)
    mixed = store.root / "requests" / "date=2023-09-15"
    assert len(_parts(mixed)) == 2
    store.delete_before(CUTOFF, [HOLD, REFERENCED])
    (part,) = _parts(mixed)
    assert pq.ParquetFile(part).read().column("request_id").to_pylist() == [IDS["referenced"]]
    assert not (store.root / "requests" / "date=2023-04-20").exists()
    assert not (store.root / "outcomes" / "date=2023-04-30").exists()


def test_local_a_failed_rewrite_deletes_nothing_of_that_day(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalRequestStore(tmp_path / "store")
    _fill(store)
    before = _left(store)

    def refuse(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises((StoreError, OSError)):
        store.delete_before(CUTOFF, [HOLD, REFERENCED])
    monkeypatch.undo()
    assert _left(store) == before  # the mixed day was not rewritten, so no row of it is gone
    assert not list(store.root.rglob(".*.tmp"))
