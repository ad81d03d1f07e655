"""The request store: every answered `/predict` and every outcome reported later.

Serving appends requests; the back office appends outcomes; the asset graph reads time windows
`[start, end)` with the latest outcome joined where one is known. The rows' columns and their coercion
are `rows.py`; backends: `local.py` (embedded, append-only Parquet read through DuckDB) and
`bigquery.py` (production).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd

from creditrisk.store.retention import Deleted


class RequestStore(ABC):
    """Append-only log of requests and outcomes, read by time window."""

    @abstractmethod
    def append_requests(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        """Durably append request rows; returns how many were written."""

    @abstractmethod
    def append_outcomes(self, rows: pd.DataFrame | Iterable[Mapping]) -> int:
        """Append outcome rows (request_id, loan_status, reported_at); the latest per id wins."""

    @abstractmethod
    def read_window(self, start: datetime, end: datetime, *, labelled_only: bool = False,
                    columns: Sequence[str] | None = None,
                    reported_before: datetime | None = None) -> pd.DataFrame:
        """Requests with `start <= ts < end`, ordered by ts, with the latest outcome joined.

        `reported_before` joins only outcomes reported before that moment, so a training run that
        records it reads the same labels when it is repeated later (a reproducible reference).

        Columns are `WINDOW_COLUMNS`; `loan_status` is missing where no outcome is known.

        `columns`, a subset of WINDOW_COLUMNS, narrows the result to exactly those columns, in the
        order given, with the same dtypes; the rows (which, how many, their order) are unchanged.
        Why: the drift check needs only the features of a 1M-row window, and materialising request
        ids, reasons and timestamps as Python strings would cost more memory than the features
        themselves (and, on BigQuery, bytes billed). Only the named columns leave the backend; `ts`
        and `request_id` are still used inside it to filter, order and de-duplicate, and outcomes
        are joined only when an outcome column is named or `labelled_only` is set. Unknown, repeated
        or no names raise StoreError. None (the default) returns every column, as before.
        """

    @abstractmethod
    def known_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        """The subset of `request_ids` that the store holds, looked up by the days the ids name.

        The service mints only UUIDv7 ids carrying the request's time (`creditrisk.store.request_ids`), the
        clock of the row's `ts`: a lookup reads only each id's UTC day ±1 (`lookup_days`), in one
        query per call (per 10,000 ids), and never scans the whole log. So an id that is not a UUIDv7,
        or whose row is stamped more than a day away from it, is never found, even if such a row is
        stored.
        """

    @abstractmethod
    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """Number of distinct request ids with `start <= ts < end` (all when both are None)."""

    @abstractmethod
    def delete_before(self, cutoff: datetime, keep: Sequence[tuple[datetime, datetime]] = ()) -> Deleted:
        """Delete requests with `ts < cutoff` outside every `[start, end)` of `keep`, and their outcomes.

        An outcome goes once it was reported before `cutoff` and its request is no longer stored, so
        a kept request keeps every outcome, and one that outlives its request goes on a later run.
        Readers never see part of a deletion's unit (a local day file, a BigQuery statement); a
        failure raises StoreError, and running again finishes the work. `creditrisk.store.retention`
        decides the arguments.
        """

    def compact(self, before: datetime, *, on_day: Callable[[str, int], None] | None = None) -> int:
        """Merge each day's files strictly before `before`'s UTC day into one; returns files removed.

        Reads are unchanged by it (requests de-duplicated by request_id while merging, outcomes kept
        whole); unreadable files are quarantined, not merged. `on_day(folder, files_removed)` is
        called for each day folder merged (`"requests/date=2026-03-02"`). The default does nothing
        and returns 0: BigQuery manages its own storage.
        """
        return 0

    def quarantined_files(self) -> int:
        """How many unreadable files the store has set aside (0 for a backend that keeps no files)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""
