"""One simulated week at a time: traffic, outcomes, the weekly check, and what the system did.

The demo does what the schedule would (launch `weekly_drift_job` for the week that just ended) and
then only *watches*: the drift sensor decides by itself whether to retrain, `champion_model` decides
whether to promote, and the serving replicas notice the alias move on their own. The one thing it
does by hand is a person's: a winner that waits for approval (a swap guard tripped) is approved by
the demo's reviewer through change control, and the timeline says so.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import numpy as np
from sklearn.metrics import roc_auc_score

from creditrisk.applicants.synth import generate
from creditrisk.monitoring.windows import week_windows
from creditrisk_app.demo.dagster_api import DagsterAPI
from creditrisk_app.demo.traffic import Answered, Traffic

Out = Callable[[str], None]


@dataclass
class WeekRow:
    week: str
    key: str
    drifting: bool
    requests: int
    outcomes: int
    status: str
    drift_share: float
    n_drifted: int
    dataset_drift: bool
    retrain_runs: int
    promoted: bool | None
    reason: str
    served_version: str
    realized_auc: float
    reload_s: float | None
    alerts: int
    wall_s: float
    steps: dict[str, float]
    concept_drift: bool = False
    estimated_auc: float = float("nan")  # label-free, every applicant of the week (the denied too)
    sensor: str = ""  # why the sensor skipped this week's report ("" when it retrained)
    swap_line: str = ""  # whose decisions the evaluated challenger would change (champion_model's)
    approved_by: str = ""  # the second person who approved a winner that waited for one


def realized_auc(answered: list[Answered]) -> float:
    """AUC of what was served, on the requests whose outcome gets reported (approved applicants only)."""
    rows = [a for a in answered if a.report_at is not None]
    y = np.array([a.label for a in rows])
    return float(roc_auc_score(y, [a.probability for a in rows])) if len(set(y)) == 2 else float("nan")


def served_version(serve_url: str) -> str:
    return str(httpx.get(f"{serve_url}/readyz", timeout=10).json()["model"]["version"])


def sensor_verdict(api: DagsterAPI, week: str, key: str, timeout: float) -> tuple[list[str], str]:
    """Wait until the drift sensor has judged this week's report: its retrain run ids, or [] and why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in api.runs("retrain_job", key)
                if r["tags"].get("dagster/sensor_name") == "drift_sensor"]
        if runs:
            return [r["runId"] for r in runs], ""
        skips = [t["skipReason"] for t in api.sensor_ticks("drift_sensor")
                 if week in (t.get("skipReason") or "")]
        if skips:
            return [], skips[0]
        time.sleep(1.0)
    raise TimeoutError(f"drift_sensor gave no verdict on week {week} within {timeout:.0f} s")


def wait_for_version(serve_url: str, version: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if served_version(serve_url) == version:
            return time.monotonic() - start
        time.sleep(0.25)
    raise TimeoutError(f"serving did not switch to version {version} within {timeout:.0f} s")


# Approves a waiting version as a second person, given why it waits; returns who approved.
Review = Callable[[str, str], str]


def run_week(i: int, start: datetime, *, api: DagsterAPI, traffic: Traffic, serve_url: str, n: int, seed: int,
             scenario: str, drift_start: datetime | None, alerts: list, reload_timeout: float,
             out: Out, magnitude: float = 1.0, ramp: timedelta | None = None,
             review: Review | None = None) -> tuple[WeekRow, list[Answered]]:
    t0 = time.monotonic()
    ws = start + timedelta(weeks=i)
    key = (ws + timedelta(days=6)).date().isoformat()
    w = week_windows(key)
    steps: dict[str, float] = {}
    lap = time.monotonic()

    def step(name: str) -> None:
        nonlocal lap
        steps[name], lap = round(time.monotonic() - lap, 2), time.monotonic()

    apps = generate(n, seed=seed + i, start=ws, end=ws + timedelta(days=7), scenario=scenario,
                    drift_start=drift_start, magnitude=magnitude, ramp=ramp)
    answered = traffic.send_week(apps)
    step("predict")
    outcomes = traffic.report_due(w.as_of)
    step("outcomes")
    before, n_alerts = served_version(serve_url), len(alerts)
    status = api.wait(api.launch("weekly_drift_job", key, {"creditrisk/trigger": "demo-schedule"}), 600)
    md = api.metadata("drift_report", key) or {}
    if status != "SUCCESS" or not md:
        raise RuntimeError(f"weekly_drift_job[{key}] ended {status}; see the run in the Dagster UI")
    step("drift check")
    runs, skipped = sensor_verdict(api, w.label, key, 120)
    step("sensor")
    promoted, reason, reload_s, swap_line, approved_by = None, "no retraining", None, "", ""
    for run_id in runs:
        api.wait(run_id, 900)
        champ = api.metadata("champion_model", key)
        if champ is None:
            reason = "retraining failed or was blocked; the champion keeps serving"
            continue
        promoted, reason = bool(champ["promoted"]), str(champ["reason"])
        swap_line = str(champ.get("swap_line", ""))
        serving = str(champ["champion_version"])
        if champ.get("awaiting_approval") and review is not None:  # a guard (or the policy) wants a person
            serving = str(champ["challenger_version"])
            promoted, approved_by = True, review(serving, reason)
        if promoted:
            reload_s = wait_for_version(serve_url, serving, reload_timeout)
    if runs:
        step("retrain+promote+served")
    row = WeekRow(w.label, key, drift_start is not None and ws >= drift_start, len(answered), outcomes,
                  str(md["status"]), float(md["drift_share"]), int(md["n_drifted"]),
                  bool(md["dataset_drift"]), len(runs), promoted, reason, served_version(serve_url),
                  realized_auc(answered), reload_s, len(alerts) - n_alerts, time.monotonic() - t0, steps,
                  bool(md.get("concept_drift")), float(md.get("estimate/auc", float("nan"))), skipped,
                  swap_line, approved_by)
    shown = f"{before} -> {row.served_version}" if row.served_version != before else row.served_version
    strong = f" ({md['strong_columns']})" if md.get("strong_columns") else ""
    out(f"{row.week} {'DRIFT ' if row.drifting else '      '}| {row.requests:5d} req {row.outcomes:5d} "
        f"outcomes | drift {row.n_drifted:2d}/11 share {row.drift_share:.2f} "
        f"{'YES' if row.dataset_drift else 'no ':3s}{strong} | "
        f"concept {'YES' if row.concept_drift else 'no'} | "
        f"retrain {'yes' if runs else 'no '} | served v{shown} | est. AUC {row.estimated_auc:.3f} (all), "
        f"realized {row.realized_auc:.3f} (approved) | {row.wall_s:5.1f}s {steps}"
        + (f"\n           decision: {reason}" if runs else "")
        + (f"\n           approved by {approved_by} (a second person)" if approved_by else "")
        + (f"\n           sensor: {skipped}" if skipped and (row.dataset_drift or row.concept_drift) else "")
        + (f" (served within {reload_s:.1f}s)" if reload_s is not None else "")
        + (f"\n           swaps: {swap_line}" if swap_line else "")
        + (f"\n           ALERT: {alerts[-1].get('title')}" if row.alerts else ""))
    return row, answered
