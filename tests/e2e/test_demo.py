"""`creditrisk demo --exit` end to end, with small volumes: the loop does its job by itself.

Each scenario starts the real servers (Ray Serve, `dagster dev` with its daemon, the MLflow UI) on
free loopback ports, replays simulated weeks through HTTP, and stops everything.
"""
from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from creditrisk_app.demo.run import DemoConfig, DemoResult, run_demo
from serving.runtime import free_port

pytestmark = pytest.mark.slow


def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw) -> DemoResult:
    monkeypatch.setenv("CREDITRISK_HOME", str(tmp_path))
    ports = {"serve": free_port(), "dagster": free_port(), "mlflow": free_port()}
    lines: list[str] = []
    result = run_demo(DemoConfig(exit=True, ports=ports, start=date(2026, 1, 5), reload_interval_s=3, **kw),
                      out=lines.append)
    print("\n".join(lines))
    assert result.requests_sent == result.rows_in_store > 0  # every answer logged, none twice
    assert result.log_errors == []
    assert (tmp_path / "demo" / "timeline.json").is_file()
    return result


def test_no_drift_never_retrains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = demo(tmp_path, monkeypatch, scenario="none", weeks=2, requests_per_week=400)
    assert [w.dataset_drift for w in r.weeks] == [False] * 2
    assert all(w.retrain_runs == 0 for w in r.weeks)
    assert len({w.served_version for w in r.weeks}) == 1


def test_drift_retrains_keeps_without_evidence_then_promotes_and_serves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recession from week 2 (seeded, so the outcome is fixed): the first drifted week's challenger has
    seen no drifted label and is kept, saying why; the second week's has, wins on evidence, is promoted
    and is what serving answers with (wait_for_version bounds the reload)."""
    r = demo(tmp_path, monkeypatch, scenario="recession", weeks=3, drift_week=2, requests_per_week=1500)
    normal, first, second = r.weeks
    assert not normal.drifting and not normal.dataset_drift and normal.retrain_runs == 0
    assert first.drifting and first.dataset_drift and first.retrain_runs == 1
    assert first.promoted is False and first.reason.startswith("keep champion on ")
    assert "AUC gain" in first.reason and "does not clear margin" in first.reason
    assert first.served_version == normal.served_version
    assert second.dataset_drift and second.retrain_runs == 1
    assert second.promoted is True and second.reason.startswith("promote: challenger AUC")
    assert second.served_version != normal.served_version and second.reload_s is not None
    old, new = r.post_drift_auc[f"old champion v{normal.served_version}"], \
        r.post_drift_auc[f"new champion v{second.served_version}"]
    assert new > old  # on the same post-drift labelled traffic


def test_concept_drift_fires_the_performance_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = demo(tmp_path, monkeypatch, scenario="concept", weeks=4, drift_week=2, requests_per_week=500)
    assert r.alerts, "the realized-performance alert never reached the webhook"
    assert any("realized AUC" in a["title"] for a in r.alerts)
    post = [w.realized_auc for w in r.weeks if w.drifting]
    assert len(post) == 3 and all(not math.isnan(a) and a < 0.8 for a in post)
    assert all(w.retrain_runs == 0 for w in r.weeks)  # same applicants: feature drift cannot see it
