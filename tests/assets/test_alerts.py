"""Quiet failures made loud (issue 20): a stopped outcome feed, a thin or broken week, an alert not
delivered."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest
from traffic import log_traffic
from world import QUIET_WEEK, resources_for

from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.applicants.synth import generate
from creditrisk.monitoring.realized import RealizedRule
from creditrisk.store.local import LocalRequestStore
from creditrisk_app.demo.alert_sink import AlertSink
from creditrisk_assets.assets.requests import current_window
from creditrisk_assets.definitions import ASSETS, CHECKS
from creditrisk_assets.resources import LoopConfig, build_resources

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
LAST_WEEK = (START + timedelta(weeks=5, days=6)).date().isoformat()  # the 6th week, keyed by its Sunday


def evaluations(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_an_outcome_feed_that_stops_fails_realized_performance_and_alerts(world: dict,
                                                                          tmp_path: Path) -> None:
    """Four weeks of outcomes 3 days late, then none before the week's end for two weeks."""
    store = LocalRequestStore(tmp_path / "store")
    model, version = world["champion"].model, world["champion"].version
    for i in range(6):
        log_traffic(store, model, version, start=START + timedelta(weeks=i),
                    end=START + timedelta(weeks=i + 1), rows=500, seed=40 + i,
                    label_delay=timedelta(days=3 if i < 4 else 400))
    with AlertSink() as sink:
        result = dg.materialize(ASSETS + CHECKS, selection=dg.AssetSelection.assets("raw_requests"),
                                partition_key=LAST_WEEK, instance=dg.DagsterInstance.ephemeral(),
                                resources=resources_for({**world, "store": store},
                                                        alert_webhook_url=sink.url))
    check = evaluations(result)["realized_performance"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "outcome feed stale: newest outcome reported 11.0 days before the week's end (bound 7)" \
        in check.description
    assert check.metadata["label_age_days"].value == 11.0 and check.metadata["alert_delivered"].value is True
    (alert,) = sink.alerts
    assert alert["title"].startswith("creditrisk: outcome feed stale") and alert["week"] == "2026-W15"


def test_a_quiet_week_alerts_once_through_the_alerter(world: dict) -> None:
    with AlertSink() as sink:
        result = dg.materialize(ASSETS + CHECKS, selection=dg.AssetSelection.assets("raw_requests",
                                                                                    "current_window"),
                                partition_key=QUIET_WEEK, instance=dg.DagsterInstance.ephemeral(),
                                resources=resources_for(world, alert_webhook_url=sink.url))
    gate = evaluations(result)["volume_gate"]
    assert not gate.passed and gate.metadata["alert_delivered"].value is True
    (alert,) = sink.alerts
    assert alert["title"] == \
        "creditrisk: week 2026-W33 failed volume_gate (insufficient data: 50 requests < 120)"


def broken_week() -> pd.DataFrame:
    week = generate(200, seed=5)[FEATURES + [LABEL]]
    week.loc[:19, "person_income"] = None  # 10% nulls, over the 5% limit
    week.loc[20:22, "loan_int_rate"] = 0.162  # a fraction, not a percent
    return week


def run_current_window(week: pd.DataFrame, loop: LoopConfig) -> dict[str, dg.AssetCheckResult]:
    context = dg.build_asset_context(partition_key="2026-08-09")
    return {r.check_name: r for r in current_window(context, raw_requests=week, loop=loop)
            if isinstance(r, dg.AssetCheckResult)}


def test_a_week_of_bad_data_alerts_once_naming_the_rules_broken() -> None:
    with AlertSink() as sink:
        results = run_current_window(broken_week(), LoopConfig(alert_webhook_url=sink.url))
    assert results["volume_gate"].passed and not results["data_quality"].passed
    (alert,) = sink.alerts
    assert alert["title"].startswith("creditrisk: week 2026-W32 failed data_quality (null rate 0.100 in "
                                     "person_income > 0.05; rules broken: loan_int_rate")


def test_an_undelivered_alert_shows_on_the_check_and_the_log_names_no_url(caplog, pushgateway: str) -> None:
    with AlertSink() as sink:
        url = sink.url.replace("/alert", "/hooks/T0SECRET/B0TOKEN")
    # the sink is closed: the webhook refuses the connection
    results = run_current_window(broken_week().head(50), LoopConfig(alert_webhook_url=url,
                                                                    pushgateway_url=pushgateway))
    # ... and Prometheus learns it (its own alert routes do not go through this webhook)
    pushed = httpx.get(f"{pushgateway}/metrics", timeout=5).text
    assert 'creditrisk_alert_undelivered_timestamp_seconds{alert="creditrisk: week' in pushed
    gate = results["volume_gate"]
    assert not gate.passed and gate.metadata["alert_delivered"].value is False
    assert "the alert was NOT delivered (webhook at 127.0.0.1: ConnectionRefusedError)" in gate.description
    assert "T0SECRET" not in caplog.text
    assert "alert webhook at 127.0.0.1 failed: ConnectionRefusedError" in caplog.text


def test_the_feed_settings_reach_the_rule_from_dagster_config() -> None:
    rule = LoopConfig(label_due_days=120, performance_weeks=20, max_label_age_days=3).realized_rule()
    assert (rule.label_due_days, rule.max_label_age_days, rule.min_rows) == (120, 3, RealizedRule.min_rows)


def test_the_webhook_url_is_not_in_what_the_dagster_ui_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the URL was the `loop` resource's configured value, shown on Dagster's Resources page."""
    from dagster._core.remote_representation.external_data import RepositorySnap

    url = "http://127.0.0.1:9/services/T0SECRET/B0TOKEN"
    monkeypatch.setenv("CREDITRISK_ALERT_WEBHOOK", url)
    resources = build_resources({"CREDITRISK_ALERT_WEBHOOK": url})
    snap = RepositorySnap.from_def(dg.Definitions(resources=resources).get_repository_def())
    shown = str(next(r for r in snap.resources if r.name == "loop").configured_values)
    assert "T0SECRET" not in shown and "CREDITRISK_ALERT_WEBHOOK" in shown
    with dg.build_resources({"loop": resources["loop"]}) as built:  # a run resolves it from its environment
        assert built.loop.alerter().webhook_url == url
