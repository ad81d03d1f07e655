"""Faults on the shared Serve instance: the store unwritable for a while, a corrupt file in the store."""
from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT

pytestmark = pytest.mark.slow


def _day() -> datetime:
    return datetime(2040, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 3000)


def _wait(check, timeout: float = 20.0) -> None:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_an_unwritable_store_costs_no_answer_and_no_row(served) -> None:
    """The store's folder replaced by a file: /predict answers, /readyz says degraded with the backlog;
    once the folder is back every answered decision is in the store."""
    requests_dir = served.store_dir / "requests"
    requests_dir.mkdir(parents=True, exist_ok=True)
    aside = served.store_dir / "requests.aside"
    day = _day()
    with served.client(headers={"Authorization": f"Bearer {served.token}"}) as c:  # /readyz details
        requests_dir.rename(aside)
        requests_dir.write_text("not a folder: every write fails")
        try:
            at = [{"X-Request-Time": (day + timedelta(minutes=i)).isoformat()} for i in range(20)]
            ids = [c.post("/predict", json=EXAMPLE_APPLICANT, headers=h).json()["request_id"] for h in at]
            _wait(lambda: c.get("/readyz").json()["store"]["state"] == "down")
            ready = c.get("/readyz")
            body = ready.json()
            assert ready.status_code == 200 and body["status"] == "degraded"
            assert body["request_log"]["state"] == "degraded" and body["request_log"]["backlog_rows"] >= 20
            assert body["request_log"]["backlog_bytes"] > 0 and body["store"]["last_error"]
        finally:
            requests_dir.unlink()
            aside.rename(requests_dir)
        _wait(lambda: c.get("/readyz").json()["request_log"]["backlog_rows"] == 0)
        assert c.get("/readyz").json()["status"] == "ready"
    stored = served.store().read_window(day, day + timedelta(days=1))
    assert sorted(stored["request_id"]) == sorted(ids)


def test_a_truncated_store_file_is_quarantined_and_outcomes_still_work(served) -> None:
    day = _day()
    auth = {"Authorization": f"Bearer {served.token}"}
    with served.client(headers=auth) as c:  # /readyz details
        rid = c.post("/predict", json=EXAMPLE_APPLICANT, headers={"X-Request-Time": day.isoformat()}
                     ).json()["request_id"]
        folder = served.store_dir / "requests" / f"date={day:%Y-%m-%d}"
        _wait(lambda: any(folder.glob("part-*.parquet")))
        good = next(folder.glob("part-*.parquet"))
        broken = folder / "part-99999999T000000000000-0-truncated.parquet"
        shutil.copy(good, broken)
        with broken.open("r+b") as f:
            f.truncate(broken.stat().st_size // 2)
        before = c.get("/readyz").json()["store"]["quarantined_files"]
        r = c.post("/outcomes", json={"request_id": rid, "loan_status": 1}, headers=auth)
        assert r.status_code == 200, r.text
        assert not broken.exists()
        assert list((served.store_dir / "quarantine").rglob(broken.name)) != []
        _wait(lambda: c.get("/readyz").json()["store"]["quarantined_files"] == before + 1)
    window = served.store().read_window(day, day + timedelta(days=1))
    assert list(window["request_id"]) == [rid] and int(window["loan_status"].iloc[0]) == 1


def test_the_write_ahead_log_is_empty_once_shipped(served) -> None:
    """The served replicas keep their logs under the configured folder, and ship them."""
    with served.client(headers={"Authorization": f"Bearer {served.token}"}) as c:  # /readyz details
        c.post("/predict", json=EXAMPLE_APPLICANT)
        _wait(lambda: c.get("/readyz").json()["request_log"]["backlog_rows"] == 0)
    owners = list((Path(served.wal_dir) / "local").iterdir())  # this machine's node folder (the default)
    assert owners and all((p / "owner.lock").exists() for p in owners)
    assert all(p.stat().st_size == 0 for o in owners for p in o.glob("*.jsonl"))
