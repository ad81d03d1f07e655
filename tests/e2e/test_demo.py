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


def undrifted_weeks_never_retrain(r: DemoResult) -> None:
    """Weeks before the drift: no drift of either kind, no retrain, the first champion serves."""
    quiet = [w for w in r.weeks if not w.drifting]
    assert quiet and not any(w.dataset_drift or w.concept_drift or w.retrain_runs for w in quiet)
    assert {w.served_version for w in quiet} == {r.weeks[0].served_version}


def test_a_rate_hike_alone_starts_one_retrain_once_its_labels_exist(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: +4 points on every rate moves 1 of 11 columns and never retrained. Now it is drift from
    its first week (the column matters to the model); the sensor waits until the changed world has
    labels to learn from (outcomes of approved applicants, 2-12 days late), then retrains once."""
    r = demo(tmp_path, monkeypatch, scenario="rate_hike", weeks=4, drift_week=2, requests_per_week=1500)
    undrifted_weeks_never_retrain(r)
    normal, first, second, third = r.weeks
    for w in (first, second, third):
        assert w.drifting and w.dataset_drift and w.n_drifted == 1
    for w in (first, second):
        assert w.retrain_runs == 0 and "retraining waits for labels of the changed world" in w.sensor
    # Seeded: the champion still ranks the applicants well (higher rates, same defaults), so the
    # retrain is judged and kept, saying why, as bench/detection.py finds for rate_hike (0% promoted).
    assert third.retrain_runs == 1 and third.promoted is False
    assert third.reason.startswith("keep champion on ") and third.served_version == normal.served_version
    assert abs(third.estimated_auc - 0.91) < 0.03  # the label-free estimate of every applicant
    assert sum(w.outcomes for w in r.weeks) < 0.8 * r.requests_sent  # the denied never get an outcome


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
