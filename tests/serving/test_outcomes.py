"""POST /outcomes: bearer token, unknown ids, buffered ids, and the outcome joined in the store."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.request_ids import new_request_id

pytestmark = pytest.mark.slow


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_required(served, client: httpx.Client) -> None:
    body = {"request_id": str(uuid.uuid4()), "loan_status": 1}
    for headers in ({}, _auth("wrong"), {"Authorization": served.token}, {"Authorization": "Basic xyz"}):
        r = client.post("/outcomes", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (headers, r.text)
    bad = client.post("/outcomes", json={"request_id": "x", "loan_status": 7}, headers=_auth("wrong"))
    assert bad.status_code == 401  # authentication comes before validation


def test_unknown_ids_are_404(served, client: httpx.Client) -> None:
    for rid in (str(uuid.uuid4()), "not-an-id", new_request_id(int(time.time() * 1000) - 60_000)):
        r = client.post("/outcomes", json={"request_id": rid, "loan_status": 0}, headers=_auth(served.token))
        assert r.status_code == 404, r.text
    started = time.monotonic()
    fresh = new_request_id()  # looks just issued: waits until every replica must have flushed, then 404
    r = client.post("/outcomes", json={"request_id": fresh, "loan_status": 0}, headers=_auth(served.token))
    assert r.status_code == 404 and time.monotonic() - started < 10


def test_invalid_outcome_is_422(served, client: httpx.Client) -> None:
    r = client.post("/outcomes", json={"request_id": "x", "loan_status": 2}, headers=_auth(served.token))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "loan_status"


def test_outcome_of_a_buffered_request_is_recorded_and_joined(served, client: httpx.Client) -> None:
    day = datetime(2035, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 1000)
    answer = client.post("/predict", json=EXAMPLE_APPLICANT, headers={"X-Request-Time": day.isoformat()})
    rid = answer.json()["request_id"]
    # Straight away: the row is most likely still in the logger's buffer, and must count as known.
    r = client.post("/outcomes", json={"request_id": rid, "loan_status": 1},
                    headers={**_auth(served.token), "X-Request-Time": (day + timedelta(days=30)).isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["loan_status"] == 1 \
        and r.json()["reported_at"].startswith(f"{day + timedelta(days=30):%Y-%m-%d}")
    store, deadline = served.store(), time.monotonic() + 10
    while time.monotonic() < deadline:
        window = store.read_window(day, day + timedelta(days=1))
        if len(window):
            break
        time.sleep(0.1)
    assert list(window["request_id"]) == [rid] and int(window["loan_status"].iloc[0]) == 1
    labelled = store.read_window(day, day + timedelta(days=1), labelled_only=True)
    assert len(labelled) == 1


def test_outcome_batch_is_all_or_nothing(served) -> None:
    """A day's file of outcomes in one call: every id known -> all stored; one unknown -> none."""
    with served.client() as c:
        ids = [c.post("/predict", json=EXAMPLE_APPLICANT).json()["request_id"] for _ in range(4)]
        auth = {"Authorization": f"Bearer {served.token}"}
        bad = c.post("/outcomes/batch", headers=auth, json={"outcomes": [  # ids[3] is never reported again
            {"request_id": ids[3], "loan_status": 1}, {"request_id": "0190f1c2-0000-7000-8000-000000000000",
                                                        "loan_status": 0}]})
        assert bad.status_code == 404 and "1 unknown request_id" in bad.json()["message"]
        ok = c.post("/outcomes/batch", headers=auth, json={"outcomes": [
            {"request_id": i, "loan_status": k % 2} for k, i in enumerate(ids[:3])]})
        assert ok.status_code == 200 and ok.json()["recorded"] == 3
        assert c.post("/outcomes/batch", json={"outcomes": []}, headers=auth).status_code == 422
        assert c.post("/outcomes/batch", json={"outcomes": [{"request_id": ids[0], "loan_status": 1}]}
                      ).status_code == 401
    time.sleep(served.flush_interval_s * 3 + 0.5)  # the request rows themselves are flushed in the background
    stored = served.store().read_window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
                                        ).set_index("request_id")
    assert [int(stored.loc[i, "loan_status"]) for i in ids[:3]] == [0, 1, 0]
    # nothing of the refused batch
    assert ids[3] in stored.index and pd.isna(stored.loc[ids[3], "loan_status"])
