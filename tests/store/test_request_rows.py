"""Which request rows the store accepts: the timestamp domain, and sorting a batch into good and refused."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from store_rows import T0, outcome_row, request_row

from creditrisk.store.request_ids import id_for
from creditrisk.store.rows import StoreError, outcome_frame, request_frame, split_valid_requests


@pytest.mark.parametrize("ts", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC),
                                datetime(1969, 12, 31, 23, 59, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC),
                                "0001-01-01T00:00:00Z", None],
                         ids=["year-1", "year-9999", "just-before-1970", "2200", "year-1-text", "missing"])
def test_a_timestamp_outside_the_domain_is_refused_naming_column_row_and_id(ts: datetime | str | None,
                                                                             ) -> None:
    rows = [request_row(id_for(T0), T0), request_row("the-bad-one", ts)]
    with pytest.raises(StoreError, match=r"request row 1 \(request_id 'the-bad-one'\): ts "):
        request_frame(rows)


def test_the_domain_edges_are_accepted() -> None:
    edges = [datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC) - timedelta(microseconds=1)]
    df = request_frame([request_row(f"edge-{i}", ts) for i, ts in enumerate(edges)])
    assert df["ts"].tolist() == edges


def test_an_outcome_reported_outside_the_domain_is_refused() -> None:
    with pytest.raises(StoreError, match=r"outcome row 0 \(request_id 'r1'\): reported_at "):
        outcome_frame([outcome_row("r1", 1, datetime(9999, 1, 1, tzinfo=UTC))])


def test_a_value_of_the_wrong_type_is_a_store_error_naming_the_column() -> None:
    with pytest.raises(StoreError, match="person_age"):
        request_frame([request_row("r1", T0, person_age="forty")])


def test_split_valid_requests_keeps_exactly_the_rows_the_store_accepts() -> None:
    good = request_row(id_for(T0), T0)
    missing = {k: v for k, v in request_row("no-decision", T0).items() if k != "decision"}
    year1 = request_row("year-1", datetime(1, 1, 1, tzinfo=UTC))
    year9999 = request_row("year-9999", datetime(9999, 1, 1, tzinfo=UTC))
    accepted, refused = split_valid_requests([missing, year1, good, year9999])
    assert accepted == [good]
    reasons = {row["request_id"]: why for row, why in refused}
    assert list(reasons) == ["no-decision", "year-1", "year-9999"]  # in input order
    assert "missing columns ['decision']" in reasons["no-decision"]
    assert "row 1 (request_id 'year-1'): ts is 0001-01-01" in reasons["year-1"]
    assert "row 3 (request_id 'year-9999'): ts is 9999-01-01" in reasons["year-9999"]
    assert all("outside [1970-01-01, 2200-01-01)" in reasons[r] for r in ("year-1", "year-9999"))
    request_frame(accepted)  # what passed is accepted as a batch too


def test_split_valid_requests_passes_a_clean_batch_whole_and_an_empty_one_empty() -> None:
    rows = [request_row(id_for(T0 + timedelta(minutes=i)), T0 + timedelta(minutes=i)) for i in range(50)]
    assert split_valid_requests(rows) == (rows, [])
    assert split_valid_requests([]) == ([], [])
    # One bad value (an age that is no integer) refuses its row only, not the batch.
    odd = request_row("odd-age", T0, person_age=40.5)
    accepted, refused = split_valid_requests([rows[0], odd])
    assert accepted == [rows[0]] and [r["request_id"] for r, _ in refused] == ["odd-age"]


def test_split_valid_requests_keeps_order_and_positions_in_a_large_batch() -> None:
    rows = [request_row(id_for(T0 + timedelta(minutes=i)), T0 + timedelta(minutes=i)) for i in range(100)]
    for pos in (3, 50, 99):
        rows[pos] = request_row(f"bad-{pos}", datetime(9999, 1, 1, tzinfo=UTC))
    accepted, refused = split_valid_requests(rows)
    assert accepted == [r for i, r in enumerate(rows) if i not in (3, 50, 99)]
    assert [why.split(":")[0] for _, why in refused] == \
        [f"request row {p} (request_id 'bad-{p}')" for p in (3, 50, 99)]
