"""The RequestStore contract, run against every backend: embedded Parquet and BigQuery (emulator)."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from store_rows import T0, WINDOW_DTYPES, assert_window_dtypes, outcome_row, request_row

from creditrisk.schema import FEATURES
from creditrisk.store.base import RequestStore, StoreError, empty_window


@pytest.fixture
def filled(store: RequestStore) -> RequestStore:
    """Requests over five days, appended out of order, around the window [T0, T0 + 3 days)."""
    rows = [
        request_row("at-end", T0 + timedelta(days=3)),                        # excluded: ts == end
        request_row("day1", T0 + timedelta(days=1, hours=9), person_age=40),
        request_row("before", T0 - timedelta(microseconds=1)),                # excluded: before start
        request_row("at-start", T0, loan_grade="A", probability=0.03125, prediction=0, decision="approve"),
        request_row("day2-last", T0 + timedelta(days=3, microseconds=-1)),    # included: last instant
        request_row("day0", T0 + timedelta(hours=23, minutes=59)),
        request_row("later", T0 + timedelta(days=4)),
    ]
    assert store.append_requests(rows) == len(rows)
    return store


def test_read_window_is_half_open_ordered_and_typed(filled: RequestStore) -> None:
    df = filled.read_window(T0, T0 + timedelta(days=3))
    assert df["request_id"].tolist() == ["at-start", "day0", "day1", "day2-last"]
    assert df["ts"].is_monotonic_increasing
    assert df["ts"].iloc[-1] == pd.Timestamp(T0 + timedelta(days=3, microseconds=-1))  # microseconds kept
    assert_window_dtypes(df)
    first = df.iloc[0]
    assert (first["loan_grade"], first["probability"], first["prediction"], first["decision"]) == \
        ("A", 0.03125, 0, "approve")
    assert df.loc[df["request_id"] == "day1", "person_age"].item() == 40
    assert json.loads(first["reasons"]) == ["loan_percent_income high", "loan_grade D"]
    assert df["loan_status"].isna().all() and df["reported_at"].isna().all()  # no outcomes yet
    # Naive datetimes are read as UTC, like everywhere in the store.
    naive = filled.read_window(T0.replace(tzinfo=None), (T0 + timedelta(days=1)).replace(tzinfo=None))
    assert naive["request_id"].tolist() == ["at-start", "day0"]


def test_empty_window_has_the_window_schema(filled: RequestStore) -> None:
    df = filled.read_window(T0 + timedelta(days=10), T0 + timedelta(days=11))
    assert df.empty
    assert_window_dtypes(df)
    pd.testing.assert_frame_equal(df, empty_window())


def test_latest_outcome_wins_and_labelled_only_filters(filled: RequestStore) -> None:
    reported = T0 + timedelta(days=30)
    # "day0" is reported twice; the later report (appended first) must win.
    filled.append_outcomes([outcome_row("day0", 0, reported + timedelta(days=5))])
    assert filled.append_outcomes([outcome_row("day0", 1, reported), outcome_row("day1", 1, reported),
                                   outcome_row("unknown-id", 1, reported)]) == 3
    df = filled.read_window(T0, T0 + timedelta(days=3)).set_index("request_id")
    assert len(df) == 4  # one row per request: the join never duplicates
    assert df.loc["day0", "loan_status"] == 0
    assert df.loc["day0", "reported_at"] == pd.Timestamp(reported + timedelta(days=5))
    assert df.loc["day1", "loan_status"] == 1
    assert df.loc[["at-start", "day2-last"], "loan_status"].isna().all()

    labelled = filled.read_window(T0, T0 + timedelta(days=3), labelled_only=True)
    assert labelled["request_id"].tolist() == ["day0", "day1"]
    assert_window_dtypes(labelled)


def test_outcomes_reported_after_a_cutoff_are_not_joined(filled: RequestStore) -> None:
    """A training run reads the labels known when it ran, and the same ones when repeated later."""
    early, late = T0 + timedelta(days=10), T0 + timedelta(days=20)
    filled.append_outcomes([outcome_row("day0", 1, early), outcome_row("day1", 0, early)])
    filled.append_outcomes([outcome_row("day0", 0, late), outcome_row("at-start", 1, late)])
    window = (T0, T0 + timedelta(days=3))
    as_then = filled.read_window(*window, reported_before=early + timedelta(days=1)).set_index("request_id")
    assert (as_then.loc["day0", "loan_status"], as_then.loc["day1", "loan_status"]) == (1, 0)
    assert as_then.loc[["at-start", "day2-last"], "loan_status"].isna().all()
    labelled = filled.read_window(*window, labelled_only=True, reported_before=early + timedelta(days=1))
    assert labelled["request_id"].tolist() == ["day0", "day1"]
    assert filled.read_window(*window, labelled_only=True, reported_before=early).empty  # strictly before
    now = filled.read_window(*window, labelled_only=True).set_index("request_id")["loan_status"]
    assert now.to_dict() == {"at-start": 1, "day0": 0, "day1": 0}  # without a cutoff: the latest report


def test_known_request_ids_and_count(filled: RequestStore) -> None:
    assert filled.known_request_ids(["day0", "later", "nope", "day0"]) == {"day0", "later"}
    assert filled.known_request_ids([]) == set()
    assert filled.count() == 7
    assert filled.count(T0, T0 + timedelta(days=3)) == 4
    assert filled.count(start=T0) == 6
    assert filled.count(end=T0) == 1


def test_read_window_columns_narrows_without_changing_rows(filled: RequestStore) -> None:
    """`columns=` returns exactly the named columns (order, dtypes) of the same rows as a full read."""
    start, end = T0, T0 + timedelta(days=3)
    before = ["reported_at", "request_id"]  # outcome columns asked for before any outcome exists
    pd.testing.assert_frame_equal(filled.read_window(start, end, columns=before),
                                  filled.read_window(start, end)[before])
    filled.append_outcomes([outcome_row("day1", 1, T0 + timedelta(days=30))])
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
