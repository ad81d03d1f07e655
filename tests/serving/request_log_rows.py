"""Test helpers for the request log: a logged row as a replica writes it, a store that fails on cue,
an alert sink that keeps titles, and a replica process killed with rows in its write-ahead log."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from creditrisk.alerts import Alerter
from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from serving.wal import DEFAULT_NODE

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


class Recorder(Alerter):
    """An alert sink that keeps the titles it was sent (in `sent`) and delivers nothing."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "sent", [])

    def send(self, title: str, details: dict[str, Any]) -> bool:
        self.sent.append(title)  # type: ignore[attr-defined]
        return False


def die_with_rows(root: Path, n: int, *, node: str = DEFAULT_NODE, torn: bool = False) -> None:
    """A replica process on `node` that logs `n` rows (then a torn line if `torn`), then is SIGKILLed
    as its machine would be: the kernel drops its lock, its segments stay."""
    tear = "wal.append(b'{\"request_id\": \"torn', 0)  # a write cut in the middle" if torn else ""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from request_log_rows import row
        from serving.wal import SegmentLog, encode
        wal = SegmentLog({str(root)!r}, "dead-replica", node={node!r})
        wal.open()
        for i in range({n}):
            wal.append(encode([row(i)]), 1)
        {tear}
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
