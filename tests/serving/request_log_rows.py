"""Test helpers for the request log: a logged row as a replica writes it, and a store that fails on cue."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for

T0 = datetime(2030, 3, 4, 12, tzinfo=UTC)


def row(i: int, ts: datetime | None = None) -> dict[str, Any]:
    t = ts or T0 + timedelta(seconds=i)
    return {**EXAMPLE_APPLICANT, "request_id": id_for(t), "ts": t, "probability": 0.5, "prediction": 1,
            "decision": "denied", "threshold": 0.4, "model_name": "m", "model_version": "1",
            "reasons": "[]", "latency_ms": 1.0}


class FlakyStore(LocalRequestStore):
    """A local store that refuses the next `failures` writes, as an unreachable one would."""

    def __init__(self, root: Path, failures: int = 0) -> None:
        super().__init__(root)
        self.failures = failures

    def append_requests(self, rows: Any) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError("store down")
        return super().append_requests(rows)
