"""Appends to the production store's BigQuery tables: streamed, loaded, or one all-or-nothing statement.

Small batches (one `/predict` at a time) go through streaming inserts, because load jobs are limited
to 1,500 per table per day; large batches (backfills) go through a free load job. Outcome batches are
all-or-nothing: a streaming insert cannot be rolled back, so a batch larger than one insertAll request
(500 rows; `/outcomes/batch` takes up to 5,000) is stored by one `INSERT ... SELECT FROM UNNEST(@rows)`
statement, which BigQuery applies whole or not at all, and which skips rows already stored (same
request id, reported time and status), so a caller retrying after an error whose write did go through
stores each outcome once. A batch of one request is atomic as it is (insertAll refuses the whole
request when any row is invalid), and a backfill's load job too. Why not a load job for every batch:
its per-table daily quota, and a retry after a lost answer would store the batch twice; why not a
staging table: a second write to clean up.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from google.cloud import bigquery

from creditrisk.store.bigquery_client import BigQueryTables, table_schema
from creditrisk.store.rows import OUTCOME_COLUMNS, REQUEST_COLUMNS, StoreError, outcome_frame, request_frame

_STREAM_CHUNK = 500  # rows per insertAll request: BigQuery's recommended batch size


def _json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe dicts: NA -> None, timestamps -> RFC 3339 with microseconds, numpy -> Python.

    Floats go through json's repr, so they round-trip exactly."""
    out = df.astype(object).where(df.notna(), None)
    for col, dtype in {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}.items():
        if col in out and dtype.startswith("datetime"):
            out[col] = [None if t is None else t.isoformat() for t in out[col]]
    return out.to_dict(orient="records")


class BigQueryWrites(BigQueryTables):
    """The store's two appends on its BigQuery tables."""

    def _append(self, df: pd.DataFrame, table_id: str, columns: Mapping[str, str], row_id: pd.Series) -> int:
        if df.empty:
            return 0
        with self._errors("append to", table_id):
            rows = _json_rows(df)
            if len(df) >= self.bulk_rows:
                # NDJSON load, not load_table_from_dataframe: that path is deprecated in favour of
                # pandas-gbq (not a dependency) and warns on every call.
                config = bigquery.LoadJobConfig(schema=table_schema(columns),
                                                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                                write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
                job = self.client.load_table_from_json(rows, table_id, job_config=config, num_retries=2,
                                                       location=self.location, timeout=self._timeout)
                job.result(timeout=self._timeout, retry=self._retry)
                return len(df)
            ids = row_id.astype(str).tolist()
            for i in range(0, len(rows), _STREAM_CHUNK):
                # insertIds make a retried chunk idempotent (BigQuery drops duplicates best-effort).
                errors = self.client.insert_rows_json(table_id, rows[i:i + _STREAM_CHUNK],
                                                      row_ids=ids[i:i + _STREAM_CHUNK],
                                                      retry=self._retry, timeout=self._timeout)
                if errors:
                    raise StoreError(f"bigquery store: append to {table_id} rejected rows from {i} "
                                     f"({i} rows written before): {errors[:3]}")
        return len(df)

    def append_requests(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = request_frame(rows)
        return self._append(df, self.requests_table, REQUEST_COLUMNS, df["request_id"])

    def append_outcomes(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = outcome_frame(rows)
        if _STREAM_CHUNK < len(df) < self.bulk_rows:  # several insertAll requests would not be atomic
            return self._insert_new_outcomes(df)
        row_id = df["request_id"] + "/" + df["reported_at"].astype(str) + "/" + df["loan_status"].astype(str)
        return self._append(df, self.outcomes_table, OUTCOME_COLUMNS, row_id)

    def _insert_new_outcomes(self, df: pd.DataFrame) -> int:
        """Store `df` with one DML statement (whole or not at all), skipping outcomes already stored."""
        table = self.outcomes_table
        # The range on the bare partitioning column lets BigQuery read only the batch's days.
        sql = f"""
            INSERT INTO `{table}` (request_id, loan_status, reported_at)
            SELECT r.request_id, r.loan_status, r.reported_at FROM UNNEST(@rows) AS r
            WHERE NOT EXISTS (
              SELECT 1 FROM `{table}` AS o
              WHERE o.reported_at >= @lo AND o.reported_at <= @hi AND o.request_id = r.request_id
                AND o.reported_at = r.reported_at AND o.loan_status = r.loan_status)"""
        stamps = [t.to_pydatetime() for t in df["reported_at"]]
        rows = [bigquery.StructQueryParameter(None, bigquery.ScalarQueryParameter("request_id", "STRING", i),
                                              bigquery.ScalarQueryParameter("loan_status", "INT64", int(s)),
                                              bigquery.ScalarQueryParameter("reported_at", "TIMESTAMP", t))
                for i, s, t in zip(df["request_id"].astype(str), df["loan_status"], stamps, strict=True)]
        params = [bigquery.ArrayQueryParameter("rows", "STRUCT", rows),
                  bigquery.ScalarQueryParameter("lo", "TIMESTAMP", min(stamps)),
                  bigquery.ScalarQueryParameter("hi", "TIMESTAMP", max(stamps))]
        self._dml("append to", sql, params, table)
        return len(df)
