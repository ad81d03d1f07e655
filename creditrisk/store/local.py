"""Embedded request store: append-only Parquet files, read with DuckDB.

Why not one DuckDB or SQLite file: a DuckDB file takes an exclusive lock per writing process, and
SQLite serialises writers (busy errors under several serving replicas) and reads 1M rows ~10x
slower than DuckDB over Parquet. Here every append writes a *new* file (temp name, then an atomic
`os.replace`), so any number of processes append while others read, with no lock at all; a reader
sees whole files or nothing. Layout::

    <root>/requests/date=YYYY-MM-DD/part-<utc>-<pid>-<uuid>.parquet
    <root>/outcomes/date=YYYY-MM-DD/part-...parquet     (date = reported day)

Window reads open only the day folders the window touches. Duplicated request ids (a retried
append, or a reader racing `compact`) are collapsed to the first row, so reads stay exact.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from creditrisk.store.base import (
    OUTCOME_COLUMNS,
    REQUEST_COLUMNS,
    RequestStore,
    StoreError,
    empty_window,
    outcome_frame,
    request_frame,
    utc,
    window_columns,
)

_READ_RETRIES = 3


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


class LocalRequestStore(RequestStore):
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalRequestStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------------
    def _write(self, kind: str, df: pd.DataFrame, ts_col: str) -> int:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        for day, part in df.groupby(df[ts_col].dt.strftime("%Y-%m-%d"), sort=True):
            folder = self.root / kind / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
            tmp = folder / f".{name}.tmp"
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), tmp)
            os.replace(tmp, folder / name)  # atomic: readers never see a half-written file
        return len(df)

    def append_requests(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = request_frame(rows)
        return self._write("requests", df, "ts") if len(df) else 0

    def append_outcomes(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = outcome_frame(rows)
        return self._write("outcomes", df, "reported_at") if len(df) else 0

    # -- reading -------------------------------------------------------------------------------
    def _files(self, kind: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
        base = self.root / kind
        if not base.is_dir():
            return []
        days = sorted(p for p in base.glob("date=*") if p.is_dir())
        if start is not None and end is not None:
            lo, hi = utc(start).strftime("%Y-%m-%d"), utc(end).strftime("%Y-%m-%d")
            days = [d for d in days if lo <= d.name[5:] <= hi]
        return [f for d in days for f in sorted(d.glob("part-*.parquet"))]

    def _query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        for attempt in range(_READ_RETRIES):
            con = duckdb.connect()
            try:
                con.execute("SET TimeZone = 'UTC'")
                return con.execute(sql, params or []).df()
            except duckdb.IOException as exc:  # a file compacted away between listing and reading
                if attempt == _READ_RETRIES - 1:
                    raise StoreError(f"{self}: read failed: {exc}") from exc
                time.sleep(0.05)
            except duckdb.Error as exc:
                raise StoreError(f"{self}: query failed: {exc}") from exc
            finally:
                con.close()
        raise AssertionError("unreachable")

    def _requests_sql(self, files: list[Path], columns: Sequence[str] | None = None) -> str:
        # Naming the columns lets DuckDB read only those column chunks of each Parquet file.
        cols = "*" if columns is None else ", ".join(dict.fromkeys(["request_id", "ts", *columns]))
        return (f"(SELECT {cols} FROM read_parquet({_sql_list(files)}, union_by_name=true) "
                "WHERE ts >= ? AND ts < ? "
                "QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY ts) = 1)")

    def read_window(self, start: datetime, end: datetime, *, labelled_only: bool = False,
                    columns: Sequence[str] | None = None,
                    reported_before: datetime | None = None) -> pd.DataFrame:
        chosen = window_columns(columns)
        files = self._files("requests", start, end)
        if not files:
            return empty_window(chosen)
        outcomes = self._files("outcomes")
        if labelled_only and not outcomes:
            return empty_window(chosen)
        req = [c for c in chosen if c in REQUEST_COLUMNS]
        select = [f"r.{c}" if c in REQUEST_COLUMNS else f"o.{c}" for c in chosen]
        join = where = ""
        if outcomes and (labelled_only or any(c in OUTCOME_COLUMNS for c in chosen)):
            cutoff = "WHERE reported_at < ? " if reported_before is not None else ""
            join = (f"LEFT JOIN (SELECT request_id, loan_status, reported_at FROM "
                    f"read_parquet({_sql_list(outcomes)}) {cutoff}QUALIFY row_number() OVER "
                    "(PARTITION BY request_id ORDER BY reported_at DESC, loan_status DESC) = 1) "
                    "o USING (request_id)")
            where = "WHERE o.loan_status IS NOT NULL" if labelled_only else ""
        elif not outcomes:  # no outcome was ever reported: the outcome columns are all missing
            nulls = {"loan_status": "CAST(NULL AS BIGINT) AS loan_status",
                     "reported_at": "CAST(NULL AS TIMESTAMPTZ) AS reported_at"}
            select = [nulls.get(c, f"r.{c}") for c in chosen]
        sql = (f"SELECT {', '.join(select)} FROM {self._requests_sql(files, req)} r {join} {where} "
               "ORDER BY r.ts")
        params = [utc(start).to_pydatetime(), utc(end).to_pydatetime()]
        if join and reported_before is not None:
            params.append(utc(reported_before).to_pydatetime())
        df = self._query(sql, params)
        return _typed(df, chosen)

    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        files = self._files("requests")
        if not files or not request_ids:
            return set()
        sql = (f"SELECT DISTINCT request_id FROM read_parquet({_sql_list(files)}) "
               "WHERE list_contains(?, request_id)")
        return set(self._query(sql, [list(request_ids)])["request_id"].astype(str))

    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        if start is None and end is None:
            start, end = datetime(1970, 1, 1), datetime(9999, 1, 1)
        start = start or datetime(1970, 1, 1)
        end = end or datetime(9999, 1, 1)
        files = self._files("requests", start, end)
        if not files:
            return 0
        df = self._query(f"SELECT count(*) AS n FROM {self._requests_sql(files, [])}",
                         [utc(start).to_pydatetime(), utc(end).to_pydatetime()])
        return int(df["n"].iloc[0])

    def compact(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Merge each finished day's small files into one (serving writes many). Returns files removed."""
        removed, cutoff = 0, (utc(datetime.now(UTC)) - older_than).strftime("%Y-%m-%d")
        for kind in ("requests", "outcomes"):
            for day in sorted((self.root / kind).glob("date=*")):
                parts = sorted(day.glob("part-*.parquet"))
                if len(parts) < 2 or day.name[5:] >= cutoff:
                    continue
                merged = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")
                name = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}-compact.parquet"
                pq.write_table(merged, day / f".{name}.tmp")
                os.replace(day / f".{name}.tmp", day / name)
                for p in parts:
                    p.unlink(missing_ok=True)
                removed += len(parts)
        return removed


def _typed(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    dtypes = {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}
    for c in columns:
        df[c] = pd.to_datetime(df[c], utc=True).astype(dtypes[c]) if dtypes[c].startswith("datetime") \
            else df[c].astype(dtypes[c])
    return df[columns].reset_index(drop=True)
