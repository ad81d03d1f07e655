"""POST /predict on a real Serve instance: answers, the request log, every validation rule, 400/413."""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import httpx
import pytest

from creditrisk.applicants.schema import (
    CATEGORIES,
    CROSS_RULES,
    EXAMPLE_APPLICANT,
    FEATURES,
    FIELD_RULES,
    NUMERIC_RULES,
    ORIGINAL_EXAMPLE,
    SOURCES,
)
from creditrisk.model.credit_model import DECISION_THRESHOLD
from serving.api_models import ReadyOut

pytestmark = pytest.mark.slow


def _sim_day() -> datetime:
    """A simulated day no other test writes to (rows are stored by their logged ts)."""
    return datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 3000)


def _raw_rows(store_dir, day: datetime, ids: list[str]) -> int:
    """Raw rows of `ids` in the day's files: a row written twice counts twice; other tests' rows
    (another test's random simulated day may fall on the same one) are not counted."""
    folder = store_dir / "requests" / f"date={day:%Y-%m-%d}"
    if not folder.is_dir():
        return 0
    with duckdb.connect() as con:
        return int(con.execute(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet') "
                               "WHERE request_id IN (SELECT unnest($ids))", {"ids": ids}).fetchall()[0][0])


def test_predict_answers_and_logs_exactly_n_rows(served, client: httpx.Client, base_data, champion) -> None:
    _, clean = base_data
    rows = clean[FEATURES].dropna().sample(30, random_state=3).to_dict("records")
    rows = [{k: (int(v) if k == "person_age" else v) for k, v in r.items()} for r in rows]
    day = _sim_day()
    answers: list[dict[str, Any]] = []
    staff = {"Authorization": f"Bearer {served.token}"}  # the scores come with the staff token only
    for i, row in enumerate(rows):
        ts = day + timedelta(hours=9, seconds=i)
        r = client.post("/predict", json=row, headers={"X-Request-Time": ts.isoformat(), **staff})
        assert r.status_code == 200, r.text
        answers.append(r.json())
    expected = champion.model.score_rows(rows)
    for a, p in zip(answers, expected, strict=True):
        assert set(a) == {"request_id", "prediction", "decision", "probability_of_default", "threshold",
                          "model", "reasons"}
        assert a["probability_of_default"] == pytest.approx(float(p), abs=1e-6)
        assert a["prediction"] == int(p >= a["threshold"])
        assert a["decision"] == ("denied" if a["prediction"] else "pre-approved")
        assert a["model"] == {"name": "credit-risk", "version": served.champion_version}
        if a["prediction"]:  # reasons only for denials, each pushing towards default
            assert a["reasons"] and all(x["contribution"] > 0 and x["text"] for x in a["reasons"])
        else:
            assert a["reasons"] == []
    assert {a["decision"] for a in answers} == {"denied", "pre-approved"}, "the sample should hold both"

    store, start, end = served.store(), day, day + timedelta(days=1)
    ids = [a["request_id"] for a in answers]
    deadline = time.monotonic() + 10
    while _raw_rows(served.store_dir, day, ids) < len(rows) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3 * served.flush_interval_s)  # one more flush period: nothing is written twice
    assert _raw_rows(served.store_dir, day, ids) == len(rows)
    logged = store.read_window(start, end).set_index("request_id")
    assert logged.index.intersection(ids).size == len(rows)
    for i, a in enumerate(answers):
        row = logged.loc[a["request_id"]]
        assert row["ts"] == day + timedelta(hours=9, seconds=i)
        assert row["probability"] == pytest.approx(a["probability_of_default"])
        assert (row["decision"], row["model_version"]) == (a["decision"], served.champion_version)
        assert json.loads(row["reasons"]) == [x["code"] for x in a["reasons"]]
        assert row["latency_ms"] > 0 and row["person_income"] == rows[i]["person_income"]


def _cases() -> list[tuple[str, dict[str, Any], str]]:
    """(case id, body, field that must be named) for every rule in creditrisk.applicants.schema."""
    out: list[tuple[str, dict[str, Any], str]] = []
    for name, rule in NUMERIC_RULES.items():
        below = rule.low - 1 if rule.low_inclusive else rule.low
        out += [(f"{name}-below", {**EXAMPLE_APPLICANT, name: below}, name),
                (f"{name}-above", {**EXAMPLE_APPLICANT, name: rule.high + 1}, name)]
    for name in CATEGORIES:
        out.append((f"{name}-category", {**EXAMPLE_APPLICANT, name: "NOT-A-CATEGORY"}, name))
    cross = {"person_emp_length": EXAMPLE_APPLICANT["person_age"] - 13,
             "cb_person_cred_hist_length": EXAMPLE_APPLICANT["person_age"] - 13, "loan_percent_income": 0.2,
             "loan_amnt": EXAMPLE_APPLICANT["person_income"] * 1.1}
    assert set(cross) == {r.field for r in CROSS_RULES}
    out += [(f"{f}-cross", {**EXAMPLE_APPLICANT, f: v}, f) for f, v in cross.items()]
    out += [(f"{f}-missing", {k: v for k, v in EXAMPLE_APPLICANT.items() if k != f}, f) for f in FEATURES
            if SOURCES[f] != "server"]  # the server's own field may be left out
    out += [("wrong-type", {**EXAMPLE_APPLICANT, "person_age": "twenty"}, "person_age"),
            ("null", {**EXAMPLE_APPLICANT, "loan_int_rate": None}, "loan_int_rate"),
            ("unknown-field", {**EXAMPLE_APPLICANT, "zip_code": "12345"}, "zip_code")]
    return out


@pytest.mark.parametrize("body,field", [c[1:] for c in _cases()], ids=[c[0] for c in _cases()])
def test_every_rule_is_a_422_naming_field_value_and_rule(client: httpx.Client, body: dict,
                                                         field: str) -> None:
    r = client.post("/predict", json=body)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["detail"]}
    assert field in errors and field in r.json()["message"]
    e = errors[field]
    assert e["value"] == body.get(field)
    if field in FIELD_RULES:
        assert e["rule"] == FIELD_RULES[field]
    else:
        assert "allowed fields" in e["rule"]


def test_original_example_body_is_refused_with_units(client: httpx.Client) -> None:
    r = client.post("/predict", json=ORIGINAL_EXAMPLE)
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["detail"]}
    assert set(errors) == {"person_income", "loan_amnt", "person_emp_length"}
    assert "not 59 thousand" in errors["person_income"]["rule"] and errors["person_income"]["value"] == 59
    assert "not 35 thousand" in errors["loan_amnt"]["rule"] and errors["loan_amnt"]["value"] == 35
    assert "not months" in errors["person_emp_length"]["rule"]


@pytest.mark.parametrize("content,status", [(b'{"person_age": 22,', 400), (b"not json", 400), (b"", 400),
                                            (b"[1, 2]", 422)], ids=["truncated", "text", "empty", "array"])
def test_malformed_bodies(client: httpx.Client, content: bytes, status: int) -> None:
    r = client.post("/predict", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text and r.json()["message"]


def test_oversize_bodies_get_413_declared_or_chunked(client: httpx.Client) -> None:
    big = json.dumps({**EXAMPLE_APPLICANT, "padding": "x" * 40_000}).encode()
    r = client.post("/predict", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    r = client.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert client.post("/predict", json=EXAMPLE_APPLICANT).status_code == 200  # and the service is fine


def test_bad_request_time_header_is_400(client: httpx.Client) -> None:
    r = client.post("/predict", json=EXAMPLE_APPLICANT, headers={"X-Request-Time": "last tuesday"})
    assert r.status_code == 400 and "ISO-8601" in r.json()["message"]


def test_health_ready_docs_and_portal(served, client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert set(client.get("/readyz").json()["store"]) == {"state", "since"}  # details need the token
    ready = client.get("/readyz", headers={"Authorization": f"Bearer {served.token}"})
    assert ready.status_code == 200
    body = ready.json()
    ReadyOut.model_validate(body)  # the documented shape
    assert body["status"] == "ready" and body["model"]["name"] == "credit-risk" and body["model"]["loaded_at"]
    assert {body[p]["state"] for p in ("model", "registry", "request_log", "store")} == {"ok"}
    assert body["store"]["backend"] == "local-parquet"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    examples = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert examples["denied"]["value"]["person_income"] == EXAMPLE_APPLICANT["person_income"]
    assert "text/html" in client.get("/").headers["content-type"]
    assert body["model"]["threshold"] == DECISION_THRESHOLD
    ready_doc = spec["paths"]["/readyz"]["get"]["responses"]
    assert {"200", "503"} <= set(ready_doc)
    ready_schema = spec["components"]["schemas"]["ReadyOut"]
    assert set(ready_schema["required"]) >= {"status", "model", "registry", "request_log", "store"}
    assert ready_schema["properties"]["status"]["enum"] == ["ready", "degraded", "unready"]


@pytest.mark.parametrize("field,literal,kind", [
    ("loan_int_rate", "NaN", "finite_number"), ("loan_amnt", "1e999", "finite_number"),
    ("person_income", "-Infinity", "finite_number"), ("loan_int_rate", "true", "number_type"),
    ("person_income", '"52000"', "number_type"), ("person_age", "22.5", "int_from_float")])
def test_non_finite_booleans_and_strings_are_a_422_naming_the_field(client: httpx.Client, field: str,
                                                                      literal: str, kind: str) -> None:
    """Before: NaN and 1e999 gave HTTP 500 (the 422 body could not be encoded) and `true` was an
    interest rate of 1.0. The bodies are written by hand: Python's JSON parser accepts these
    literals, which a strict JSON encoder never produces."""
    rest = json.dumps({k: v for k, v in EXAMPLE_APPLICANT.items() if k != field})[:-1]
    body = f'{rest}, "{field}": {literal}}}'
    r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert (error["field"], error["type"]) == (field, kind) and error["rule"] == FIELD_RULES[field]


def test_an_integral_float_age_is_accepted(client: httpx.Client) -> None:
    assert client.post("/predict", json={**EXAMPLE_APPLICANT, "person_age": 22.0}).status_code == 200


@pytest.mark.parametrize("method,path,allow", [("GET", "/predict", "POST"), ("PUT", "/predict", "POST"),
                                               ("DELETE", "/outcomes", "POST"), ("POST", "/readyz", "GET")])
def test_a_wrong_method_is_a_405_with_allow(client: httpx.Client, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.headers.get("allow"), r.json()["error"]) == (405, allow, "method_not_allowed")
