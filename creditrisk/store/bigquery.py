"""Production request store: two DAY-partitioned BigQuery tables, `requests` and `outcomes`.

The store is built in layers: `bigquery_client` (names, the client, retries, errors, table creation),
`bigquery_writes` (appends: streamed, loaded or one all-or-nothing statement, and why), and here the
reads and the retention delete. Reads: one parameterized query per call; values never enter the SQL
text, only identifiers that the constructor validated. Tested against bqemulator (tests/store), which
speaks the same REST API.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from google.cloud import bigquery

from creditrisk.store.base import RequestStore
from creditrisk.store.bigquery_writes import BigQueryWrites
from creditrisk.store.request_ids import lookup_days
from creditrisk.store.retention import Deleted, merged_ranges
from creditrisk.store.rows import (
    OUTCOME_COLUMNS,
    REQUEST_COLUMNS,
    empty_window,
    lookup_ids,
    utc,
    window_columns,
)

# Stand-ins for an open bound of `count`: BigQuery's TIMESTAMP range, so the partition filter
# stays a plain range the planner can prune with (only a row at exactly _MAX_TS would be missed).
_MIN_TS = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_IDS_CHUNK = 10_000  # ids per array parameter, well under the query size limit


def _day_runs(days: Sequence[str]) -> list[tuple[datetime, datetime]]:
    """Sorted YYYY-MM-DD days as `[first day, day after the last)` ranges of consecutive days."""
    runs: list[tuple[datetime, datetime]] = []
    for day in days:
        lo = datetime.fromisoformat(day).replace(tzinfo=UTC)
        if runs and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], lo + timedelta(days=1))
        else:
            runs.append((lo, lo + timedelta(days=1)))
    return runs


class BigQueryRequestStore(BigQueryWrites, RequestStore):
    """`RequestStore` on BigQuery. A client factory is resolved on first use, and then owned."""

    def read_window(self, start: datetime, end: datetime, *, labelled_only: bool = False,
                    columns: Sequence[str] | None = None,
                    reported_before: datetime | None = None) -> pd.DataFrame:
        chosen = window_columns(columns)
        select = ", ".join(f"r.{c}" if c in REQUEST_COLUMNS else f"o.{c}" for c in chosen)
        # Outcomes are joined only when asked for: BigQuery bills the columns it scans.
        needs_outcomes = labelled_only or any(c in OUTCOME_COLUMNS for c in chosen)
        # Latest outcome per id via ROW_NUMBER in a subquery joined on rn = 1 (portable to both
        # BigQuery and the emulator, unlike a bare QUALIFY). Ties on reported_at: the default (1) wins.
        join = f"""
            LEFT JOIN (
              SELECT request_id, loan_status, reported_at,
                     ROW_NUMBER() OVER (PARTITION BY request_id
                                        ORDER BY reported_at DESC, loan_status DESC) AS rn
              FROM `{self.outcomes_table}`{" WHERE reported_at < @cutoff" if reported_before else ""}
            ) AS o ON o.request_id = r.request_id AND o.rn = 1""" if needs_outcomes else ""
        # One row per request id, the first by ts (a retried append is stored twice), as on the local
        # store. The ts range stays inside the subquery, on the bare partitioning column, so
        # BigQuery prunes to the window's partitions before numbering rows.
        inner = ", ".join(dict.fromkeys(["request_id", "ts", *(c for c in chosen if c in REQUEST_COLUMNS)]))
        sql = f"""
            SELECT {select}
            FROM (
              SELECT {inner}, ROW_NUMBER() OVER (PARTITION BY request_id ORDER BY ts) AS rn
              FROM `{self.requests_table}`
              WHERE ts >= @start AND ts < @end
            ) AS r{join}
            WHERE r.rn = 1{" AND o.loan_status IS NOT NULL" if labelled_only else ""}
            ORDER BY r.ts, r.request_id"""
        params = [bigquery.ScalarQueryParameter("start", "TIMESTAMP", utc(start).to_pydatetime()),
                  bigquery.ScalarQueryParameter("end", "TIMESTAMP", utc(end).to_pydatetime())]
        if needs_outcomes and reported_before is not None:
            cutoff = utc(reported_before).to_pydatetime()
            params.append(bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", cutoff))
        tables = (self.requests_table, self.outcomes_table) if needs_outcomes else (self.requests_table,)
        df = self._query(sql, params, *tables)
        if df.empty:
            return empty_window(chosen)
        # Arrow gives e.g. ns or us timestamps depending on versions: pin the declared dtypes.
        dtypes = {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}
        for col in chosen:
            values = pd.to_datetime(df[col], utc=True) if dtypes[col].startswith("datetime") else df[col]
            df[col] = values.astype(dtypes[col])
        return df[chosen].reset_index(drop=True)

    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        ours = lookup_ids(request_ids)
        found: set[str] = set()
        for i in range(0, len(ours), _IDS_CHUNK):
            chunk = ours[i:i + _IDS_CHUNK]
            # A range on the bare ts per run of consecutive days the ids name: the filter BigQuery's
            # docs show pruning with (the partitioning column against constants), so a lookup reads
            # those days only, never the whole log. `DATE(ts) IN UNNEST(@days)` also works on the
            # emulator, but pruning through a function and an array is not documented.
            runs = _day_runs(lookup_days(chunk))
            ranges = " OR ".join(f"(ts >= @lo{n} AND ts < @hi{n})" for n in range(len(runs)))
            sql = (f"SELECT DISTINCT request_id FROM `{self.requests_table}` "
                   f"WHERE ({ranges}) AND request_id IN UNNEST(@ids)")
            params: list[Any] = [bigquery.ArrayQueryParameter("ids", "STRING", chunk)]
            for n, (lo, hi) in enumerate(runs):
                params += [bigquery.ScalarQueryParameter(f"lo{n}", "TIMESTAMP", lo),
                           bigquery.ScalarQueryParameter(f"hi{n}", "TIMESTAMP", hi)]
            found.update(self._query(sql, params, self.requests_table)["request_id"].astype(str))
        return found

    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        # Distinct ids: a request appended twice counts once, as in read_window and the local store.
        sql = (f"SELECT COUNT(DISTINCT request_id) AS n FROM `{self.requests_table}` "
               "WHERE ts >= @start AND ts < @end")
        params = [bigquery.ScalarQueryParameter("start", "TIMESTAMP",
                                                _MIN_TS if start is None else utc(start).to_pydatetime()),
                  bigquery.ScalarQueryParameter("end", "TIMESTAMP",
                                                _MAX_TS if end is None else utc(end).to_pydatetime())]
        return int(self._query(sql, params, self.requests_table)["n"].iloc[0])

    def delete_before(self, cutoff: datetime, keep: Sequence[tuple[datetime, datetime]] = ()) -> Deleted:
        """One DELETE per table, requests first: BigQuery applies each whole or not at all."""
        ranges = merged_ranges(keep)
        cut = utc(cutoff).to_pydatetime()
        params: list[Any] = [bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", cut)]
        for n, (lo, hi) in enumerate(ranges):
            params += [bigquery.ScalarQueryParameter(f"lo{n}", "TIMESTAMP", lo),
                       bigquery.ScalarQueryParameter(f"hi{n}", "TIMESTAMP", hi)]
        kept = "".join(f" AND NOT (ts >= @lo{n} AND ts < @hi{n})" for n in range(len(ranges)))
        requests = self._dml("delete from", f"DELETE FROM `{self.requests_table}` WHERE ts < @cutoff{kept}",
                             params, self.requests_table)
        # An outcome stays while its request does; an orphan goes once it is older than the cut-off. A
        # failure between the two statements leaves orphans, which the next run removes.
        outcomes = self._dml("delete from", f"""
            DELETE FROM `{self.outcomes_table}` AS o
            WHERE o.reported_at < @cutoff AND NOT EXISTS (
              SELECT 1 FROM `{self.requests_table}` AS r WHERE r.request_id = o.request_id)""",
                             params[:1], self.outcomes_table, self.requests_table)
        return Deleted(requests=requests, outcomes=outcomes)
