"""Issue 22 on the real service: /predict cannot be gamed, scraped or flooded.

Clients connect from their own loopback addresses (127.0.0.2 and up) through Ray's HAProxy, so the
per-client rate limit of the session's service (tests/serving/conftest.py) tells them apart only if
HAProxy forwards the client address (`option forwardfor`, serving/runtime.py) and the app takes it
from its trusted proxy. Each client writes into its own simulated day, so its logged rows are counted.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from creditrisk.applicants.schema import EXAMPLE_APPLICANT, FIELD_RULES

if TYPE_CHECKING:
    from conftest import Served

pytestmark = pytest.mark.slow
WITHOUT_RATIO = {k: v for k, v in EXAMPLE_APPLICANT.items() if k != "loan_percent_income"}


def _from(served: Served, address: str, **kw: Any) -> httpx.Client:
    """A client whose connections leave from `address` (a loopback address of its own)."""
    return httpx.Client(base_url=served.base_url, timeout=30.0,
                        transport=httpx.HTTPTransport(local_address=address), **kw)


@pytest.fixture
def addresses() -> Iterator[tuple[str, str]]:
    """Two loopback addresses no other test used: fresh buckets for this test."""
    n = uuid.uuid4().int % 60_000
    yield f"127.0.{2 + n // 250}.{2 + n % 250}", f"127.1.{2 + n // 250}.{2 + n % 250}"


def _day() -> datetime:
    return datetime(2035, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 3000)


def _logged(served: Served, day: datetime, expected: int) -> int:
    """Rows the store holds for `day`, once the shipper had every chance to write more than `expected`."""
    store, deadline = served.store(), time.monotonic() + 10
    while len(store.read_window(day, day + timedelta(days=1))) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3 * served.flush_interval_s)
    return len(store.read_window(day, day + timedelta(days=1)))


def test_a_flood_from_one_address_gets_its_budget_and_429s_and_never_throttles_another(
        served: Served, addresses: tuple[str, str]) -> None:
    flooder, other = addresses
    burst, per_minute = served.rate_burst, served.rate_per_minute
    day_a, day_b = _day(), _day()
    statuses: list[int] = []
    others: list[int] = []
    t0 = time.monotonic()
    with _from(served, flooder) as a, _from(served, other) as b:
        for i in range(10 * burst):  # ten times the budget from one address...
            r = a.post("/predict", json=EXAMPLE_APPLICANT, headers={"X-Request-Time": (day_a + timedelta(
                seconds=i)).isoformat()})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["error"] == "rate_limited" and "per minute" in r.json()["message"]
                assert 1 <= int(r.headers["retry-after"]) <= 60 / per_minute + 1
                assert r.headers["x-content-type-options"] == "nosniff"  # inside the security headers
            if i % 10 == 0:  # ...and, in between, the other client's whole budget
                others.append(b.post("/predict", json=EXAMPLE_APPLICANT, headers={
                    "X-Request-Time": (day_b + timedelta(seconds=i)).isoformat()}).status_code)
    elapsed = time.monotonic() - t0
    budget = burst + int(elapsed * per_minute / 60) + 1
    answered = statuses.count(200)
    assert set(statuses) == {200, 429} and burst <= answered <= budget, (statuses, elapsed)
    assert statuses[:burst] == [200] * burst
    assert others == [200] * len(others)
    # Nothing refused is logged as a decision: the store holds exactly the answered requests.
    assert _logged(served, day_a, answered) == answered
    assert _logged(served, day_b, len(others)) == len(others)


def test_retry_after_is_honest_and_a_forged_forwarded_for_is_not_a_new_client(
        served: Served, addresses: tuple[str, str]) -> None:
    client_ip, _ = addresses
    with _from(served, client_ip) as c:
        for _ in range(10 * served.rate_burst):
            if (r := c.post("/predict", json=EXAMPLE_APPLICANT)).status_code != 200:
                break
        assert r.status_code == 429
        # A client cannot pick its bucket: HAProxy appends the address it saw after the claimed one.
        forged = c.post("/predict", json=EXAMPLE_APPLICANT, headers={"X-Forwarded-For": "203.0.113.9"})
        assert forged.status_code == 429
        time.sleep(int(r.headers["retry-after"]))
        assert c.post("/predict", json=EXAMPLE_APPLICANT).status_code == 200


def test_the_429_is_documented_for_predict(client: httpx.Client) -> None:
    predict = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert "Retry-After" in predict["responses"]["429"]["headers"]
    assert "per client" in predict["responses"]["429"]["description"]


def test_a_ratio_the_server_computes_is_optional_and_a_disagreeing_one_is_refused(
        served: Served, client: httpx.Client) -> None:
    day = _day()
    stamp = {"X-Request-Time": (day + timedelta(hours=9)).isoformat()}
    omitted = client.post("/predict", json=WITHOUT_RATIO, headers=stamp)
    stated = client.post("/predict", json=EXAMPLE_APPLICANT)  # 0.59 = 35000 / 59000, rounded
    assert omitted.status_code == stated.status_code == 200, omitted.text
    assert omitted.json()["decision"] == stated.json()["decision"]
    gamed = client.post("/predict", json={**EXAMPLE_APPLICANT, "loan_percent_income": 0.50})
    assert gamed.status_code == 422, gamed.text
    (error,) = gamed.json()["detail"]
    assert error["field"] == "loan_percent_income" and error["rule"] == FIELD_RULES["loan_percent_income"]
    assert "within 0.01 of loan_amnt / person_income" in error["rule"]
    _logged(served, day, 1)
    (logged,) = served.store().read_window(day, day + timedelta(days=1)).to_dict("records")
    assert logged["loan_percent_income"] == 0.59  # the value the model used, computed by the server


def test_an_anonymous_answer_has_the_decision_and_reasons_and_staff_get_the_scores(
        served: Served, client: httpx.Client) -> None:
    public = client.post("/predict", json=EXAMPLE_APPLICANT).json()  # the example is denied
    assert set(public) == {"request_id", "prediction", "decision", "model", "reasons"}
    assert public["decision"] == "denied" and public["reasons"]
    assert all(set(r) == {"code", "text"} for r in public["reasons"])
    staff = client.post("/predict", json=EXAMPLE_APPLICANT,
                        headers={"Authorization": f"Bearer {served.token}"}).json()
    assert set(staff) == set(public) | {"probability_of_default", "threshold"}
    assert staff["probability_of_default"] >= staff["threshold"]
    assert all(r["contribution"] > 0 for r in staff["reasons"])
    wrong = client.post("/predict", json=EXAMPLE_APPLICANT, headers={"Authorization": "Bearer nope"})
    assert set(wrong.json()) == set(public)  # a wrong token is anonymous, as for /readyz
