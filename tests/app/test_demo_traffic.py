"""The demo's simulated back office reports outcomes as a bank has them (approved applicants only)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from creditrisk.applicants.synth import generate
from creditrisk_app.demo.traffic import Traffic

START = datetime(2026, 1, 5, tzinfo=UTC)


def service(outcomes: list[dict]) -> httpx.MockTransport:
    """Denies every grade D-G applicant, approves the rest; records reported outcomes."""
    count = iter(range(10**9))

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/outcomes/batch":
            outcomes.extend(body["outcomes"])
            return httpx.Response(200, json={"accepted": len(body["outcomes"])})
        denied = body["loan_grade"] in "DEFG"
        return httpx.Response(200, json={
            "request_id": f"r{next(count)}", "probability_of_default": 0.7 if denied else 0.1,
            "decision": "denied" if denied else "pre-approved", "prediction": int(denied),
            "model": {"version": "1"}})
    return httpx.MockTransport(handle)


def test_outcomes_are_reported_for_approved_applicants_only_after_their_delay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[dict] = []
    transport = service(reported)
    traffic = Traffic("http://demo", "token", seed=1)
    monkeypatch.setattr(traffic, "_client", lambda: httpx.AsyncClient(base_url="http://demo",
                                                                       transport=transport))
    apps = generate(600, seed=2, start=START, end=START + timedelta(days=7))
    answered = traffic.send_week(apps)
    denied = {a.request_id for a in answered if a.probability >= 0.4}
    assert len(answered) == 600 and 50 < len(denied) < 400
    assert all(a.report_at is None for a in answered if a.request_id in denied)
    assert traffic.report_due(START + timedelta(days=365)) == len(answered) - len(denied)
    assert {o["request_id"] for o in reported}.isdisjoint(denied)
    delays = [(a.report_at - a.ts) / timedelta(days=1) for a in answered if a.report_at is not None]
    low, high = traffic.label_delay.a, traffic.label_delay.b
    assert low <= min(delays) and max(delays) <= high


@pytest.mark.parametrize(("args", "says"), [(["--label-delay", "gamma:1,2"], "uniform:LOW,HIGH"),
                                            (["--magnitude", "-1"], "--magnitude"),
                                            (["--ramp-weeks", "-2"], "--ramp-weeks")])
def test_the_demo_refuses_bad_drift_or_label_options_before_starting_anything(
        args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    from creditrisk_app.cli import main

    assert main(["demo", *args]) == 2
    assert says in capsys.readouterr().err
