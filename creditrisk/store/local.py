"""Embedded request store: append-only Parquet files, read with DuckDB.

Why not one DuckDB or SQLite file: a DuckDB file takes an exclusive lock per writing process, and
SQLite serialises writers (busy errors under several serving replicas) and reads 1M rows ~10x
slower than DuckDB over Parquet. Here every append writes a *new* file (temp name, fsync, atomic
`os.replace`, fsync of the folder: `durable.py`), so any number of processes append while others
read, with no lock at all; a reader sees whole files or nothing, and a crash after an append
returned loses nothing. An append spanning several days publishes its day files together: a
failure removes those already renamed, so an error means none of the rows is stored. Layout::

    <root>/requests/date=YYYY-MM-DD/part-<utc>-<pid>-<uuid>.parquet
    <root>/outcomes/date=YYYY-MM-DD/part-...parquet     (date = reported day)
    <root>/quarantine/<kind>/date=YYYY-MM-DD/<name>     (unreadable files, with <name>.error.txt)

Window reads open only the day folders the window touches, id lookups only the days the ids name.
Duplicated request ids (a retried append, or a reader racing `compact`) are collapsed to the first
row, so reads stay exact. A file no query can read is quarantined (`quarantine.py`) and the query
repeated without it, so one bad file never blocks the store.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from creditrisk.store.base import RequestStore
from creditrisk.store.compaction import drop_rows, merge_day
from creditrisk.store.durable import make_dirs, publish_parquets
from creditrisk.store.quarantine import Quarantine
from creditrisk.store.request_ids import lookup_days
from creditrisk.store.retention import Deleted, may_delete, merged_ranges
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

# Reads racing a compaction (a listed file removed before DuckDB opened it): a fresh listing, at
# once, finds the merged file; a compaction touches a day folder once, so a retry rarely races again.
_READ_RETRIES = 10
# A query to run over `files`, built afresh for each attempt (so it lists the files again), or None
# when there is nothing to read.
Query = tuple[str, list[Any], list[Path]] | None


def _part_name(tag: str = "") -> str:
    """A new file's name: unique across processes, sortable by write time."""
    suffix = f"-{tag}" if tag else ""
    return f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}.parquet"


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


class LocalRequestStore(RequestStore):
    """`RequestStore` on append-only Parquet files in day folders under `root`, read with DuckDB."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._quarantine = Quarantine(self.root)

    def __repr__(self) -> str:
        return f"LocalRequestStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------------
    def _write(self, kind: str, df: pd.DataFrame, ts_col: str) -> int:
        """One file per day the rows touch, published together: a failure stores none of them."""
        files = []
        for day, part in df.groupby(df[ts_col].dt.strftime("%Y-%m-%d"), sort=True):
            folder = self.root / kind / f"date={day}"
            make_dirs(folder)
            files.append((pa.Table.from_pandas(part, preserve_index=False), folder / _part_name()))
        publish_parquets(files)
        return len(df)

    def append_requests(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = request_frame(rows)
        return self._write("requests", df, "ts") if len(df) else 0

    def append_outcomes(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        df = outcome_frame(rows)
        return self._write("outcomes", df, "reported_at") if len(df) else 0

    # -- reading -------------------------------------------------------------------------------
    def _days(self, kind: str) -> list[Path]:
        base = self.root / kind
        return sorted(p for p in base.glob("date=*") if p.is_dir()) if base.is_dir() else []

    def _files(self, kind: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
        days = self._days(kind)
        if start is not None and end is not None:
            lo, hi = utc(start).strftime("%Y-%m-%d"), utc(end).strftime("%Y-%m-%d")
            days = [d for d in days if lo <= d.name[5:] <= hi]
        return [f for d in days for f in sorted(d.glob("part-*.parquet"))]

    def _query(self, build: Callable[[], Query]) -> pd.DataFrame | None:
        """Run the built query; quarantine unreadable files and retry races. None: nothing to read."""
        races = 0
        while (query := build()) is not None:
            sql, params, files = query
            con = duckdb.connect()
            try:
                con.execute("SET TimeZone = 'UTC'")
                return con.execute(sql, params).df()
            except duckdb.Error as exc:
                failure, transient = f"{type(exc).__name__}: {exc}", isinstance(exc, duckdb.IOException)
            finally:
                con.close()
            if self._quarantine.sweep(files, failure):
                continue  # each sweep moves a file, so this ends; the rest is read again
            if not transient:
                raise StoreError(f"{self}: query failed: {failure}")
            races += 1
            if races >= _READ_RETRIES:
                raise StoreError(f"{self}: read failed after {races} attempts: {failure}")
            time.sleep(0.002 * races)
        return None

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
        req = [c for c in chosen if c in REQUEST_COLUMNS]

        def build() -> Query:
            files = self._files("requests", start, end)
            outcomes = self._files("outcomes")
            if not files or (labelled_only and not outcomes):
                return None
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
            params: list[Any] = [utc(start).to_pydatetime(), utc(end).to_pydatetime()]
            if join and reported_before is not None:
                params.append(utc(reported_before).to_pydatetime())
            return sql, params, files + (outcomes if join else [])

        df = self._query(build)
        return empty_window(chosen) if df is None else _typed(df, chosen)

    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        ours = lookup_ids(request_ids)
        days = set(lookup_days(ours))

        def build() -> Query:
            files = [f for d in self._days("requests") if d.name[5:] in days
                     for f in sorted(d.glob("part-*.parquet"))]
            if not files:
                return None
            sql = (f"SELECT DISTINCT request_id FROM read_parquet({_sql_list(files)}, union_by_name=true) "
                   "WHERE request_id IN (SELECT unnest(?::VARCHAR[]))")
            return sql, [ours], files

        df = self._query(build) if ours else None
        return set() if df is None else set(df["request_id"].astype(str))

    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        lo, hi = start or datetime(1970, 1, 1), end or datetime(9999, 1, 1)

        def build() -> Query:
            files = self._files("requests", lo, hi)
            if not files:
                return None
            return (f"SELECT count(*) AS n FROM {self._requests_sql(files, [])}",
                    [utc(lo).to_pydatetime(), utc(hi).to_pydatetime()], files)

        df = self._query(build)
        return 0 if df is None else int(df["n"].iloc[0])

    # -- upkeep --------------------------------------------------------------------------------
    def compact(self, before: datetime, *, on_day: Callable[[str, int], None] | None = None) -> int:
        """Merge each day folder before `before`'s UTC day into one file (serving writes many)."""
        cutoff, removed = utc(before).strftime("%Y-%m-%d"), 0
        for kind in ("requests", "outcomes"):
            for folder in self._days(kind):
                if folder.name[5:] >= cutoff:
                    continue
                merged = merge_day(folder, _part_name("compact"), self._quarantine, dedupe=kind == "requests")
                if merged:
                    removed += merged
                    if on_day is not None:
                        on_day(f"{kind}/{folder.name}", merged)
        return removed

    def delete_before(self, cutoff: datetime, keep: Sequence[tuple[datetime, datetime]] = ()) -> Deleted:
        """Rewrite each day folder that holds rows to delete (one rename per day), requests first."""
        cut, ranges = utc(cutoff), merged_ranges(keep)
        last_day = cut.strftime("%Y-%m-%d")
        requests = self._drop("requests", last_day, ranges, lambda t: may_delete(t.column("ts").to_pandas(),
                                                                                  cut, ranges))
        # Outcomes whose request is gone (now, or on an earlier run), reported before the cut-off.
        old = [f for d in self._days("outcomes") if d.name[5:] <= last_day for f in sorted(d.glob("part-*"))]

        def build() -> Query:
            outcomes, requests_now = [f for f in old if f.exists()], self._files("requests")
            if not outcomes:
                return None
            gone = (f"AND request_id NOT IN (SELECT request_id FROM "
                    f"read_parquet({_sql_list(requests_now)}, union_by_name=true))" if requests_now else "")
            return (f"SELECT DISTINCT request_id FROM read_parquet({_sql_list(outcomes)}) "
                    f"WHERE reported_at < ? {gone}", [cut.to_pydatetime()], outcomes + requests_now)

        found = self._query(build)
        orphans = set() if found is None else set(found["request_id"].astype(str))
        outcomes = self._drop("outcomes", last_day, [], lambda t: (
            (t.column("reported_at").to_pandas() < cut).to_numpy()
            & t.column("request_id").to_pandas().astype(str).isin(orphans).to_numpy())) if orphans else 0
        return Deleted(requests=requests, outcomes=outcomes)

    def _drop(self, kind: str, last_day: str, ranges: list[tuple[datetime, datetime]],
              doomed: Callable[[pa.Table], np.ndarray]) -> int:
        """Drop the `doomed` rows from `kind`'s day folders up to `last_day`, skipping days wholly kept."""
        removed = 0
        for folder in self._days(kind):
            day = utc(folder.name[5:])
            if folder.name[5:] > last_day or any(lo <= day and day + pd.Timedelta(days=1) <= hi
                                                  for lo, hi in ranges):
                continue
            try:
                removed += drop_rows(folder, _part_name("retention"), self._quarantine, doomed,
                                     dedupe=kind == "requests")
            except OSError as exc:
                raise StoreError(f"{self}: retention could not rewrite {folder} ({removed} {kind} rows "
                                 f"deleted before it; run again to finish): {exc}") from exc
        return removed

    def quarantined_files(self) -> int:
        return self._quarantine.count()


def _typed(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    dtypes = {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}
    for c in columns:
        df[c] = pd.to_datetime(df[c], utc=True).astype(dtypes[c]) if dtypes[c].startswith("datetime") \
            else df[c].astype(dtypes[c])
    return df[columns].reset_index(drop=True)
