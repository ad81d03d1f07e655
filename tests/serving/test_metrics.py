"""The replica's own series, scraped from Ray's metrics agent as Prometheus would: decisions by
outcome and version, the probability histogram, the served and audited versions, the log's backlog,
and counters that exist at 0 before their first event."""
from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from serving.api_models import PREDICT_EXAMPLES

DECISIONS = "ray_creditrisk_decisions_total"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Labels Ray adds that vary per process or session; the rest (ours, replica, deployment) identify a series.
NOISE = {"Component", "NodeAddress", "SessionName", "Version", "WorkerId", "otel_scope_name",
         "otel_scope_schema_url", "otel_scope_version"}


def scrape(url: str) -> Samples:
    body = httpx.get(url, timeout=5).text
    return {(s.name, frozenset((k, v) for k, v in s.labels.items() if k not in NOISE)): s.value
            for family in text_string_to_metric_families(body) for s in family.samples
            if s.name.startswith("ray_creditrisk_")}


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def until(url: str, done: Callable[[Samples], bool], timeout_s: float = 20.0) -> Samples:
    """Scrape until `done` holds (Ray reports every 0.5 s here; gauges move every health check)."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape(url)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.25)


def settled(url: str, timeout_s: float = 20.0) -> Samples:
    """A scrape once earlier tests' decisions are all reported: the same counts 1 s (two of Ray's
    report intervals here) apart, and the gauges there."""
    deadline, last = time.monotonic() + timeout_s, scrape(url)
    while True:
        time.sleep(1.0)
        now = scrape(url)
        counts = [{k: v for k, v in x.items() if k[0] == DECISIONS} for x in (last, now)]
        gauges = "ray_creditrisk_served_model_version" in {n for n, _ in now}
        if (counts[0] == counts[1] and gauges) or time.monotonic() > deadline:
            return now
        last = now


def test_each_decision_is_counted_once_by_outcome_and_version(served, client: httpx.Client) -> None:
    v = served.champion_version
    before = settled(served.metrics_url)
    # Counters and gauges exist before their first event (an alert on absent() or rate() needs them).
    for name in ("ray_creditrisk_store_shipment_failures_total", "ray_creditrisk_model_reloads_total",
                 "ray_creditrisk_model_load_refusals_total", "ray_creditrisk_outcomes_recorded_total",
                 "ray_creditrisk_alerts_undelivered_total"):
        assert any(n == name for n, _ in before), f"{name} missing before its first event"
    sent = {"denied": 3, "pre-approved": 2}
    for example, decision in (("denied", "denied"), ("approved", "pre-approved")):
        for _ in range(sent[decision]):
            r = client.post("/predict", json=PREDICT_EXAMPLES[example]["value"])
            assert r.status_code == 200 and r.json()["decision"] == decision, r.text
    grown = {d: lambda s, d=d: total(s, "ray_creditrisk_decisions_total", decision=d, model_version=v)
             - total(before, "ray_creditrisk_decisions_total", decision=d, model_version=v) for d in sent}
    after = until(served.metrics_url, lambda s: all(grown[d](s) >= n for d, n in sent.items()))
    assert {d: grown[d](after) for d in sent} == sent
    observed = total(after, "ray_creditrisk_probability_of_default_count") \
        - total(before, "ray_creditrisk_probability_of_default_count")
    assert observed == sum(sent.values())
    # Every series carries the replica that exported it, so Prometheus can sum over replicas.
    assert all(dict(ls).get("replica") for (n, ls) in after if n == "ray_creditrisk_decisions_total")


def test_gauges_show_the_served_and_audited_version_and_the_log(served) -> None:
    v = float(served.champion_version)
    samples = until(served.metrics_url, lambda s: total(s, "ray_creditrisk_served_model_version") == v)
    assert total(samples, "ray_creditrisk_served_model_version") == v
    assert total(samples, "ray_creditrisk_audited_champion_version") == v
    for name in ("ray_creditrisk_request_log_backlog_rows", "ray_creditrisk_request_log_backlog_bytes",
                 "ray_creditrisk_request_log_oldest_unshipped_age_seconds",
                 "ray_creditrisk_request_log_quarantined_rows"):
        assert any(n == name for n, _ in samples), f"{name} missing"
