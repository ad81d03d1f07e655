"""`creditrisk demo --exit` end to end, with small volumes: the loop does its job by itself.

One scenario, concept drift, since it crosses every part (the label-driven alert, the sensor, a
retrain that wins and serves); the rate hike's verdicts are checked in-process on the same graph
(tests/assets/test_monitoring.py), at a fifth of a demo's cost. It starts the real servers (Ray
Serve, `dagster dev` with its daemon, the MLflow UI) on free loopback ports, replays simulated weeks
through HTTP, and stops everything.
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
    ports = {name: free_port() for name in ("serve", "dagster", "mlflow", "prometheus")}
    lines: list[str] = []
    result = run_demo(DemoConfig(exit=True, ports=ports, start=date(2026, 1, 5), reload_interval_s=3, **kw),
                      out=lines.append)
    print("\n".join(lines))
    assert result.requests_sent == result.rows_in_store > 0  # every answer logged, none twice
    assert result.log_errors == []
    assert (tmp_path / "demo" / "timeline.json").is_file()
    return result


def undrifted_weeks_never_retrain(r: DemoResult) -> None:
    """Weeks before the drift: no drift of either kind, no retrain, the first champion serves."""
    quiet = [w for w in r.weeks if not w.drifting]
    assert quiet and not any(w.dataset_drift or w.concept_drift or w.retrain_runs for w in quiet)
    assert {w.served_version for w in quiet} == {r.weeks[0].served_version}


def test_concept_drift_is_flagged_by_labels_alerts_and_retrains(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Same applicants, another default relation: no feature moves, the champion's realized AUC on its
    approved applicants falls below its own first two weeks; the alert fires; once the changed world
    has labels, one retrain starts, wins on evidence and serves."""
    r = demo(tmp_path, monkeypatch, scenario="concept", weeks=5, drift_week=3, requests_per_week=1500)
    undrifted_weeks_never_retrain(r)  # two of them: what `--scenario none` would show
    drifted = {w.week for w in r.weeks if w.drifting}
    assert any("realized AUC" in a["title"] and a["week"] in drifted for a in r.alerts), \
        "the performance alert never fired for a drifted week"
    assert not any(w.dataset_drift for w in r.weeks)  # same applicants: feature drift cannot see it
    assert any(w.concept_drift for w in r.weeks)
    (retrained,) = [w for w in r.weeks if w.retrain_runs]
    assert retrained.retrain_runs == 1 and retrained.drifting
    assert retrained.promoted is True and retrained.served_version != r.weeks[0].served_version
    normal, post = r.weeks[1].realized_auc, [w.realized_auc for w in r.weeks if w.drifting]
    assert all(not math.isnan(a) and a < normal - 0.05 for a in post)
