"""Rows and checks shared by the request-store tests of every backend."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.rows import OUTCOME_COLUMNS, REQUEST_COLUMNS, WINDOW_COLUMNS

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; windows below are [T0, T0 + 3 days)
WINDOW_DTYPES = {c: {**REQUEST_COLUMNS, **OUTCOME_COLUMNS}[c] for c in WINDOW_COLUMNS}


def request_row(request_id: str, ts: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid row for REQUEST_COLUMNS: the example applicant plus a scored answer."""
    row: dict[str, Any] = {
        "request_id": request_id, "ts": ts, **EXAMPLE_APPLICANT,
        "probability": 0.8125, "prediction": 1, "decision": "refer", "threshold": 0.5,
        "model_name": "creditrisk", "model_version": "7",
        "reasons": json.dumps(["loan_percent_income high", "loan_grade D"]), "latency_ms": 1.25,
    }
    row.update(overrides)
    return row


def outcome_row(request_id: str, loan_status: int, reported_at: datetime) -> dict[str, Any]:
    return {"request_id": request_id, "loan_status": loan_status, "reported_at": reported_at}


def assert_window_dtypes(df: pd.DataFrame) -> None:
    assert list(df.columns) == WINDOW_COLUMNS
    assert {c: str(t) for c, t in df.dtypes.items()} == WINDOW_DTYPES
