"""The BigQuery side of the production store: validated names, the client it owns, bounded retries,
errors raised as StoreError, one query or DML statement at a time, and the tables' creation."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import pandas as pd
import pyarrow as pa
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

from creditrisk.store.rows import OUTCOME_COLUMNS, REQUEST_COLUMNS, StoreError

_BQ_TYPES = {"string": "STRING", "Int64": "INT64", "float64": "FLOAT64", "datetime64[us, UTC]": "TIMESTAMP"}
# Every column of `outcomes` is REQUIRED (outcome_frame guarantees a 0/1 status); in `requests`
# only the key and the partitioning column are, so a feature may be missing.
_REQUIRED = {"request_id", "ts", "loan_status", "reported_at"}
# OSError covers connection failures and timeouts from the HTTP transport.
_CLIENT_ERRORS = (GoogleAPIError, GoogleAuthError, OSError, pa.ArrowException)
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")  # also domain-scoped "example.com:p"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# A client, or a factory returning a client or a context manager that yields one (for example
# `BigQueryResource(...).get_client`), entered on first use and exited by `close()`.
ClientSource = bigquery.Client | Callable[[], bigquery.Client | AbstractContextManager[bigquery.Client]]


def table_schema(columns: Mapping[str, str]) -> list[bigquery.SchemaField]:
    """BigQuery fields for store columns (name -> pandas dtype), REQUIRED where the row contract is."""
    return [bigquery.SchemaField(c, _BQ_TYPES[t], mode="REQUIRED" if c in _REQUIRED else "NULLABLE")
            for c, t in columns.items()]


class BigQueryTables:
    """The `requests` and `outcomes` tables of one dataset. A client factory is resolved on first use,
    and then owned."""

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
            table = bigquery.Table(table_id, schema=table_schema(columns))
            # Windows are read by time: DAY partitions let BigQuery scan only the days asked for.
            table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                                field=ts_col)
            with self._errors("create", table_id):
                self.client.create_table(table, exists_ok=True, retry=self._retry, timeout=self._timeout)

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
