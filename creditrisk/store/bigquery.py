"""Production request store: two DAY-partitioned BigQuery tables, `requests` and `outcomes`.

Writes: small batches (one `/predict` at a time) go through streaming inserts, because load jobs
are limited to 1,500 per table per day; large batches (backfills) go through a free load job.
Outcome batches are all-or-nothing: a streaming insert cannot be rolled back, so a batch larger
than one insertAll request (500 rows; `/outcomes/batch` takes up to 5,000) is stored by one
`INSERT ... SELECT FROM UNNEST(@rows)` statement, which BigQuery applies whole or not at all, and
which skips rows already stored (same request id, reported time and status), so a caller retrying
after an error whose write did go through stores each outcome once. A batch of one request is
atomic as it is (insertAll refuses the whole request when any row is invalid), and a backfill's
load job too. Why not a load job for every batch: its per-table daily quota, and a retry after a
lost answer would store the batch twice; why not a staging table: a second write to clean up.
Reads: one parameterized query per call; values never enter the SQL text, only identifiers that
the constructor validated. Tested against bqemulator (tests/store), which speaks the same REST API.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

from creditrisk.store.base import RequestStore
from creditrisk.store.request_ids import lookup_days
from creditrisk.store.retention import Deleted, merged_ranges
from creditrisk.store.rows import (
    OUTCOME_COLUMNS,
    REQUEST_COLUMNS,
    StoreError,
    empty_window,
    lookup_ids,
    outcome_frame,
    request_frame,
    utc,
    window_columns,
)

_BQ_TYPES = {"string": "STRING", "Int64": "INT64", "float64": "FLOAT64", "datetime64[us, UTC]": "TIMESTAMP"}
# Every column of `outcomes` is REQUIRED (outcome_frame guarantees a 0/1 status); in `requests`
# only the key and the partitioning column are, so a feature may be missing.
_REQUIRED = {"request_id", "ts", "loan_status", "reported_at"}
# OSError covers connection failures and timeouts from the HTTP transport.
_CLIENT_ERRORS = (GoogleAPIError, GoogleAuthError, OSError, pa.ArrowException)
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")  # also domain-scoped "example.com:p"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Stand-ins for an open bound of `count`: BigQuery's TIMESTAMP range, so the partition filter
# stays a plain range the planner can prune with (only a row at exactly _MAX_TS would be missed).
_MIN_TS = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_STREAM_CHUNK = 500  # rows per insertAll request: BigQuery's recommended batch size
_IDS_CHUNK = 10_000  # ids per array parameter, well under the query size limit

# A client, or a factory returning a client or a context manager that yields one (for example
# `BigQueryResource(...).get_client`), entered on first use and exited by `close()`.
ClientSource = bigquery.Client | Callable[[], bigquery.Client | AbstractContextManager[bigquery.Client]]


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


def _schema(columns: Mapping[str, str]) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField(c, _BQ_TYPES[t], mode="REQUIRED" if c in _REQUIRED else "NULLABLE")
            for c, t in columns.items()]


def _json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe dicts: NA -> None, timestamps -> RFC 3339 with microseconds, numpy -> Python.

    Floats go through json's repr, so they round-trip exactly."""
    out = df.astype(object).where(df.notna(), None)
    for col, dtype in {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}.items():
        if col in out and dtype.startswith("datetime"):
            out[col] = [None if t is None else t.isoformat() for t in out[col]]
    return out.to_dict(orient="records")


class BigQueryRequestStore(RequestStore):
    """`RequestStore` on BigQuery. A client factory is resolved on first use, and then owned."""

    def __init__(self, client: ClientSource, project: str, dataset: str, *, requests_table: str = "requests",
                 outcomes_table: str = "outcomes", location: str | None = None, timeout_s: float = 30.0,
                 bulk_rows: int = 10_000) -> None:
        if not _PROJECT_RE.match(project):
            raise StoreError(f"bigquery store: invalid project id {project!r}")
        for name in (dataset, requests_table, outcomes_table):
            if not _NAME_RE.match(name):  # identifiers are spliced into SQL text: allow no quoting tricks
                raise StoreError(f"bigquery store: invalid dataset or table name {name!r}")
        self._source, self._client = client, client if isinstance(client, bigquery.Client) else None
        self._owned = ExitStack()
        self.project, self.dataset, self.location = project, dataset, location
        self.requests_table = f"{project}.{dataset}.{requests_table}"
        self.outcomes_table = f"{project}.{dataset}.{outcomes_table}"
        self.bulk_rows = bulk_rows
        # Bound every call and its retries: by default a 5xx (e.g. a bad value, which the emulator
        # answers with 500) is retried for 10 minutes, and a failed query job for 40.
        self._timeout = timeout_s
        self._retry = DEFAULT_RETRY.with_timeout(timeout_s)
        self._job_retry = DEFAULT_JOB_RETRY.with_timeout(timeout_s)

    @property
    def client(self) -> bigquery.Client:
        if self._client is None:
            made = self._source()  # type: ignore[operator]
            self._client = made if isinstance(made, bigquery.Client) else self._owned.enter_context(made)
            self._owned.callback(self._client.close)  # LIFO: closed before its context is exited
        return self._client

    @contextmanager
    def _errors(self, action: str, *tables: str) -> Iterator[None]:
        try:
            yield
        except _CLIENT_ERRORS as exc:
            raise StoreError(f"bigquery store: {action} {' + '.join(tables)} failed: {exc}") from exc

    def ensure_tables(self) -> None:
        """Create the dataset and both tables if missing (an existing table is left as it is)."""
        with self._errors("create", f"{self.project}.{self.dataset}"):
            ds = bigquery.Dataset(f"{self.project}.{self.dataset}")
            if self.location:  # an explicit null location is a 500 on the emulator; unset = default
                ds.location = self.location
            self.client.create_dataset(ds, exists_ok=True, retry=self._retry, timeout=self._timeout)
        for table_id, columns, ts_col in ((self.requests_table, REQUEST_COLUMNS, "ts"),
                                          (self.outcomes_table, OUTCOME_COLUMNS, "reported_at")):
            table = bigquery.Table(table_id, schema=_schema(columns))
            # Windows are read by time: DAY partitions let BigQuery scan only the days asked for.
            table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                                field=ts_col)
            with self._errors("create", table_id):
                self.client.create_table(table, exists_ok=True, retry=self._retry, timeout=self._timeout)

    def _append(self, df: pd.DataFrame, table_id: str, columns: Mapping[str, str], row_id: pd.Series) -> int:
        if df.empty:
            return 0
        with self._errors("append to", table_id):
            rows = _json_rows(df)
            if len(df) >= self.bulk_rows:
                # NDJSON load, not load_table_from_dataframe: that path is deprecated in favour of
                # pandas-gbq (not a dependency) and warns on every call.
                config = bigquery.LoadJobConfig(schema=_schema(columns),
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

    def _query(self, sql: str, params: list[Any], *tables: str) -> pd.DataFrame:
        config = bigquery.QueryJobConfig(query_parameters=params)
        with self._errors("query", *tables):
            # query().result(), not query_and_wait(): the emulator only raises on bad SQL this way.
            job = self.client.query(sql, job_config=config, location=self.location, retry=self._retry,
                                    timeout=self._timeout, job_retry=self._job_retry)
            result = job.result(timeout=self._timeout, retry=self._retry, job_retry=self._job_retry)
            # REST paging, not the Storage Read API: the project does not install its client.
            # to_arrow, not to_dataframe: the latter is deprecated in favour of pandas-gbq.
            table = result.to_arrow(create_bqstorage_client=False)
        return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype()}.get)

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

    def _dml(self, verb: str, sql: str, params: list[Any], *tables: str) -> int:
        """Run one DML statement, whole or not at all; returns the rows it changed."""
        config = bigquery.QueryJobConfig(query_parameters=params)
        with self._errors(verb, *tables):
            # No job_retry: a failed statement changed nothing, and each of ours is idempotent.
            job = self.client.query(sql, job_config=config, location=self.location, retry=self._retry,
                                    timeout=self._timeout)
            job.result(timeout=self._timeout, retry=self._retry)
        return int(job.num_dml_affected_rows or 0)

    def close(self) -> None:
        # Releases only what a factory gave this store; a client passed in is the caller's to close.
        self._owned.close()
        if self._client is not self._source:
            self._client = None
