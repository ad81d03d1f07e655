"""The request store: every answered `/predict` and every outcome reported later.

Serving appends requests; the back office appends outcomes; the asset graph reads time windows
`[start, end)` with the latest outcome joined where one is known. Backends: `local.py` (embedded,
append-only Parquet read through DuckDB) and `bigquery.py` (production).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from creditrisk.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES

# Column -> pandas dtype of one logged request. `reasons` is a JSON list of strings.
REQUEST_COLUMNS: dict[str, str] = {
    "request_id": "string",
    "ts": "datetime64[us, UTC]",
    **{f: ("Int64" if f == "person_age" else "float64") for f in NUMERIC_FEATURES},
    **{f: "string" for f in CATEGORICAL_FEATURES},
    "probability": "float64",
    "prediction": "Int64",
    "decision": "string",
    "threshold": "float64",
    "model_name": "string",
    "model_version": "string",
    "reasons": "string",
    "latency_ms": "float64",
}
OUTCOME_COLUMNS: dict[str, str] = {
    "request_id": "string",
    "loan_status": "Int64",
    "reported_at": "datetime64[us, UTC]",
}
# What `read_window` returns: the request plus its latest outcome (missing when not yet known).
WINDOW_COLUMNS: list[str] = list(REQUEST_COLUMNS) + ["loan_status", "reported_at"]


class StoreError(RuntimeError):
    """A store operation failed; the message names the backend and the location."""


def utc(ts: datetime | str | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize(UTC) if t.tzinfo is None else t.tz_convert(UTC)


def _frame(rows: pd.DataFrame | Iterable[Mapping], columns: Mapping[str, str], what: str) -> pd.DataFrame:
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StoreError(f"{what} rows are missing columns {missing}")
    df = df[list(columns)]
    for col, dtype in columns.items():
        if dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col], utc=True).astype(dtype)
        else:
            df[col] = df[col].astype(dtype)
    if df["request_id"].isna().any():
        raise StoreError(f"{what} rows with an empty request_id")
    return df.reset_index(drop=True)


def request_frame(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Coerce rows to the request schema (raises StoreError naming missing columns)."""
    return _frame(rows, REQUEST_COLUMNS, "request")


def outcome_frame(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    df = _frame(rows, OUTCOME_COLUMNS, "outcome")
    if not df["loan_status"].isin([0, 1]).all():
        raise StoreError("outcome loan_status must be 0 or 1")
    return df


def window_columns(columns: Sequence[str] | None) -> list[str]:
    """Validate a `read_window(columns=...)` selection; None means every column of WINDOW_COLUMNS."""
    if columns is None:
        return list(WINDOW_COLUMNS)
    if isinstance(columns, str):  # a lone name would otherwise be split into letters
        raise StoreError(f"read_window columns must be a sequence of names, not the string {columns!r}")
    chosen = list(columns)
    unknown = [c for c in chosen if c not in WINDOW_COLUMNS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise StoreError(f"read_window columns must be distinct names from WINDOW_COLUMNS; got {chosen} "
                         f"(unknown: {unknown})")
    return chosen


def empty_window(columns: Sequence[str] | None = None) -> pd.DataFrame:
    cols = {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}
    return pd.DataFrame({c: pd.Series(dtype=cols[c]) for c in window_columns(columns)})


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
        """The subset of `request_ids` that the store holds."""

    @abstractmethod
    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """Number of requests with `start <= ts < end` (all when both are None)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""
