"""`creditrisk demo --exit` end to end, with small volumes: the loop does its job by itself.

Each scenario starts the real servers (Ray Serve, `dagster dev` with its daemon, the MLflow UI) on
free loopback ports, replays simulated weeks through HTTP, and stops everything.
"""
from __future__ import annotations

import math
import socket
from datetime import date
from pathlib import Path

import pytest

from creditrisk.demo.run import DemoConfig, DemoResult, run_demo

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    r = demo(tmp_path, monkeypatch, scenario="none", weeks=3, requests_per_week=400)
    assert [w.dataset_drift for w in r.weeks] == [False] * 3
    assert all(w.retrain_runs == 0 for w in r.weeks)
    assert len({w.served_version for w in r.weeks}) == 1


def test_covariate_drift_retrains_once_and_serves_the_promoted_model(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    r = demo(tmp_path, monkeypatch, scenario="income_shock", weeks=3, drift_week=3, requests_per_week=600)
    before, drifted = r.weeks[:2], r.weeks[2]
    assert all(not w.dataset_drift and w.retrain_runs == 0 for w in before)
    assert drifted.drifting and drifted.dataset_drift and drifted.retrain_runs == 1
    assert drifted.promoted is not None  # the rule decided, and said why
    if drifted.promoted:
        assert drifted.served_version != before[-1].served_version
        assert drifted.reload_s is not None and drifted.reload_s <= 3 * 3 + 15
        assert set(r.post_drift_auc) == {f"old champion v{before[-1].served_version}",
                                         f"new champion v{drifted.served_version}"}
    else:
        assert drifted.served_version == before[-1].served_version and "keep champion" in drifted.reason


def test_concept_drift_fires_the_performance_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = demo(tmp_path, monkeypatch, scenario="concept", weeks=4, drift_week=2, requests_per_week=500)
    assert r.alerts, "the realized-performance alert never reached the webhook"
    assert any("realized AUC" in a["title"] for a in r.alerts)
    post = [w.realized_auc for w in r.weeks if w.drifting]
    assert all(not math.isnan(a) and a < 0.8 for a in post)
