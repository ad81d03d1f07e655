"""The RequestStore contract, run against every backend: embedded Parquet and BigQuery (emulator)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd
import pytest
from store_rows import T0, WINDOW_DTYPES, assert_window_dtypes, outcome_row, request_row

from creditrisk.applicants.schema import FEATURES
from creditrisk.store.base import RequestStore
from creditrisk.store.request_ids import id_for
from creditrisk.store.rows import StoreError, empty_window

# Requests over five days around the window [T0, T0 + 3 days), by name; their ids carry their ts.
TIMES: dict[str, datetime] = {
    "at-end": T0 + timedelta(days=3),                         # excluded: ts == end
    "day1": T0 + timedelta(days=1, hours=9),
    "before": T0 - timedelta(microseconds=1),                 # excluded: before start
    "at-start": T0,
    "day2-last": T0 + timedelta(days=3, microseconds=-1),     # included: last instant
    "day0": T0 + timedelta(hours=23, minutes=59),
    "later": T0 + timedelta(days=4),
}


@pytest.fixture
def ids() -> dict[str, str]:
    """Each named request's id, minted for its ts as serving mints them."""
    return {name: id_for(ts) for name, ts in TIMES.items()}


def named(ids: Mapping[str, str], values: pd.Series | list[str] | set[str]) -> list[str] | set[str]:
    """The names of stored ids (same container kind: a set stays a set)."""
    by_id = {v: k for k, v in ids.items()}
    return {by_id[v] for v in values} if isinstance(values, set) else [by_id[v] for v in values]


def rows_for(ids: Mapping[str, str]) -> dict[str, dict]:
    """The TIMES requests' rows by name, in TIMES order (out of ts order)."""
    overrides = {"day1": {"person_age": 40}, "at-start": {"loan_grade": "A", "probability": 0.03125,
                                                           "prediction": 0, "decision": "approve"}}
    return {name: request_row(ids[name], ts, **overrides.get(name, {})) for name, ts in TIMES.items()}


@pytest.fixture
def filled(store: RequestStore, ids: dict[str, str]) -> RequestStore:
    """The TIMES requests, appended out of order."""
    rows = list(rows_for(ids).values())
    assert store.append_requests(rows) == len(rows)
    return store


def test_read_window_is_half_open_ordered_and_typed(filled: RequestStore, ids: dict[str, str]) -> None:
    df = filled.read_window(T0, T0 + timedelta(days=3))
    assert named(ids, df["request_id"]) == ["at-start", "day0", "day1", "day2-last"]
    assert df["ts"].is_monotonic_increasing
    assert df["ts"].iloc[-1] == pd.Timestamp(T0 + timedelta(days=3, microseconds=-1))  # microseconds kept
    assert_window_dtypes(df)
    first = df.iloc[0]
    assert (first["loan_grade"], first["probability"], first["prediction"], first["decision"]) == \
        ("A", 0.03125, 0, "approve")
    assert df.loc[df["request_id"] == ids["day1"], "person_age"].item() == 40
    assert json.loads(first["reasons"]) == ["loan_percent_income high", "loan_grade D"]
    assert df["loan_status"].isna().all() and df["reported_at"].isna().all()  # no outcomes yet
    # Naive datetimes are read as UTC, like everywhere in the store.
    naive = filled.read_window(T0.replace(tzinfo=None), (T0 + timedelta(days=1)).replace(tzinfo=None))
    assert named(ids, naive["request_id"]) == ["at-start", "day0"]


def test_empty_window_has_the_window_schema(filled: RequestStore) -> None:
    df = filled.read_window(T0 + timedelta(days=10), T0 + timedelta(days=11))
    assert df.empty
    assert_window_dtypes(df)
    pd.testing.assert_frame_equal(df, empty_window())


def test_latest_outcome_wins_and_labelled_only_filters(filled: RequestStore, ids: dict[str, str]) -> None:
    reported = T0 + timedelta(days=30)
    # "day0" is reported twice; the later report (appended first) must win.
    filled.append_outcomes([outcome_row(ids["day0"], 0, reported + timedelta(days=5))])
    assert filled.append_outcomes([outcome_row(ids["day0"], 1, reported),
                                   outcome_row(ids["day1"], 1, reported),
                                   outcome_row(id_for(reported), 1, reported)]) == 3
    df = filled.read_window(T0, T0 + timedelta(days=3))
    df.index = named(ids, df["request_id"])
    assert len(df) == 4  # one row per request: the join never duplicates
    assert df.loc["day0", "loan_status"] == 0
    assert df.loc["day0", "reported_at"] == pd.Timestamp(reported + timedelta(days=5))
    assert df.loc["day1", "loan_status"] == 1
    assert df.loc[["at-start", "day2-last"], "loan_status"].isna().all()

    labelled = filled.read_window(T0, T0 + timedelta(days=3), labelled_only=True)
    assert named(ids, labelled["request_id"]) == ["day0", "day1"]
    assert_window_dtypes(labelled)


def test_outcomes_reported_after_a_cutoff_are_not_joined(filled: RequestStore, ids: dict[str, str]) -> None:
    """A training run reads the labels known when it ran, and the same ones when repeated later."""
    early, late = T0 + timedelta(days=10), T0 + timedelta(days=20)
    filled.append_outcomes([outcome_row(ids["day0"], 1, early), outcome_row(ids["day1"], 0, early)])
    filled.append_outcomes([outcome_row(ids["day0"], 0, late), outcome_row(ids["at-start"], 1, late)])
    window = (T0, T0 + timedelta(days=3))
    as_then = filled.read_window(*window, reported_before=early + timedelta(days=1))
    as_then.index = named(ids, as_then["request_id"])
    assert (as_then.loc["day0", "loan_status"], as_then.loc["day1", "loan_status"]) == (1, 0)
    assert as_then.loc[["at-start", "day2-last"], "loan_status"].isna().all()
    labelled = filled.read_window(*window, labelled_only=True, reported_before=early + timedelta(days=1))
    assert named(ids, labelled["request_id"]) == ["day0", "day1"]
    assert filled.read_window(*window, labelled_only=True, reported_before=early).empty  # strictly before
    now = filled.read_window(*window, labelled_only=True)
    assert dict(zip(named(ids, now["request_id"]), now["loan_status"], strict=True)) == \
        {"at-start": 1, "day0": 0, "day1": 0}  # without a cutoff: the latest report


def test_count(filled: RequestStore) -> None:
    assert filled.count() == 7
    assert filled.count(T0, T0 + timedelta(days=3)) == 4
    assert filled.count(start=T0) == 6
    assert filled.count(end=T0) == 1


def test_id_lookups_find_only_our_ids_near_their_day(filled: RequestStore, ids: dict[str, str]) -> None:
    """An id names its day; a lookup reads that day ±1 and finds nothing else, not even a stored row."""
    far = T0 + timedelta(days=30)
    assert named(ids, filled.known_request_ids([ids["day0"], ids["later"], ids["day0"]])) == {"day0", "later"}
    assert filled.known_request_ids([id_for(T0 + timedelta(hours=5))]) == set()  # a day with rows, no such id
    assert filled.known_request_ids([id_for(far)]) == set()  # a v7 id for a day with no rows
    assert filled.known_request_ids([]) == set()
    # Rows whose ids are not ours (not UUIDv7), or whose id names a day far from their ts, are
    # stored and read by window, but an id lookup never finds them: it never scans the whole log.
    legacy, v4, skewed = "legacy-day0", str(uuid.uuid4()), id_for(T0)
    filled.append_requests([request_row(legacy, T0), request_row(v4, T0),
                            request_row(skewed, T0 + timedelta(days=5))])
    assert filled.count() == 10
    assert filled.known_request_ids([legacy, v4, "nope", skewed]) == set()
    # The clock-skew margin: a row stamped up to a day after its id is still found.
    late = id_for(T0)
    filled.append_requests([request_row(late, T0 + timedelta(hours=47))])
    assert filled.known_request_ids([late, ids["at-start"], v4]) == {late, ids["at-start"]}


def test_a_retried_append_changes_no_read(filled: RequestStore, ids: dict[str, str]) -> None:
    """Appending the same rows again (a shipper retrying after a timeout) leaves every read as it was."""
    window = (T0, T0 + timedelta(days=3))
    before, counted = filled.read_window(*window), filled.count()
    again = [rows_for(ids)[name] for name in ("day0", "day1", "later")]
    assert filled.append_requests(again) == 3
    pd.testing.assert_frame_equal(filled.read_window(*window), before)
    assert filled.count() == counted == 7
    assert filled.count(*window) == 4
    filled.append_outcomes([outcome_row(ids["day0"], 1, T0 + timedelta(days=9))])
    assert len(filled.read_window(*window, labelled_only=True)) == 1


def test_compact_changes_no_read(filled: RequestStore, ids: dict[str, str]) -> None:
    """Compaction (local: day files merged; BigQuery: nothing to do) leaves every read as it was."""
    filled.append_requests([rows_for(ids)["day0"]])  # a duplicate to merge away
    filled.append_outcomes([outcome_row(ids["day1"], 1, T0 + timedelta(days=1))])
    window = (T0, T0 + timedelta(days=3))
    before = filled.read_window(*window)
    filled.compact(before=T0 + timedelta(days=60))
    pd.testing.assert_frame_equal(filled.read_window(*window), before)
    assert filled.count() == 7
    assert filled.quarantined_files() == 0


def test_read_window_columns_narrows_without_changing_rows(filled: RequestStore, ids: dict[str, str]) -> None:
    """`columns=` returns exactly the named columns (order, dtypes) of the same rows as a full read."""
    start, end = T0, T0 + timedelta(days=3)
    before = ["reported_at", "request_id"]  # outcome columns asked for before any outcome exists
    pd.testing.assert_frame_equal(filled.read_window(start, end, columns=before),
                                  filled.read_window(start, end)[before])
    filled.append_outcomes([outcome_row(ids["day1"], 1, T0 + timedelta(days=30))])
    full = filled.read_window(start, end)
    features = filled.read_window(start, end, columns=FEATURES)
    assert list(features.columns) == FEATURES
    pd.testing.assert_frame_equal(features, full[FEATURES])

    mixed = ["loan_status", "person_age", "ts"]  # any order, outcome columns included
    pd.testing.assert_frame_equal(filled.read_window(start, end, columns=mixed), full[mixed])
    # labelled_only still filters on the outcome even when no outcome column is asked for.
    labelled = filled.read_window(start, end, labelled_only=True, columns=["loan_grade"])
    pd.testing.assert_frame_equal(labelled, full.loc[full["loan_status"].notna(), ["loan_grade"]]
                                  .reset_index(drop=True))

    empty = filled.read_window(T0 + timedelta(days=10), T0 + timedelta(days=11), columns=FEATURES)
    pd.testing.assert_frame_equal(empty, empty_window(FEATURES))
    assert empty_window(FEATURES).dtypes.astype(str).to_dict() == {c: WINDOW_DTYPES[c] for c in FEATURES}
    for bad in (["person_age", "nope"], [], ["ts", "ts"], "person_age"):
        with pytest.raises(StoreError, match="columns"):
            filled.read_window(start, end, columns=bad)
