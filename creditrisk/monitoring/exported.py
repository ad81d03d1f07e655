"""The weekly loop's figures as Prometheus gauges, pushed to a pushgateway for the alert rules.

Each step pushes its own group (`/metrics/job/creditrisk_loop/step/<step>`): a push replaces only
that step's figures, so the drift report, the realized-performance check and the promotion decision
do not erase each other's. Names and their meaning are in the README ("Metrics and alerts") and read
by `deploy/prometheus/creditrisk-rules.yml`. A failed push never fails the run: it is reported in the
step's metadata and log, and `CreditriskWeeklyRunMissing` fires when pushes stop altogether.
"""
from __future__ import annotations

import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JOB = "creditrisk_loop"
TIMEOUT_S = 5.0  # a weekly run may wait this long for the gateway, never longer


@dataclass(frozen=True)
class Pushed:
    """What one push did: delivered, or the problem (without the gateway's address)."""

    delivered: bool
    problem: str = ""

    def metadata(self) -> dict[str, Any]:
        problem = {"metrics_push_problem": self.problem} if self.problem else {}
        return {"metrics_pushed": self.delivered, **problem}


def drift_figures(result: Mapping[str, Any], now: float | None = None) -> dict[str, float]:
    """Gauges of one week's drift report (`creditrisk.monitoring.report.week_report`)."""
    n_columns, n_drifted = float(result.get("n_columns") or 0), float(result.get("n_drifted") or 0)
    return {"creditrisk_dataset_drift": float(bool(result.get("dataset_drift"))),
            "creditrisk_concept_drift": float(bool(result.get("concept_drift"))),
            "creditrisk_drifted_columns": n_drifted,
            "creditrisk_drift_share": n_drifted / n_columns if n_columns else math.nan,
            "creditrisk_estimated_auc": _number(result.get("estimate/auc")),
            "creditrisk_estimated_default_rate": _number(result.get("estimate/default_rate")),
            "creditrisk_weekly_run_last_success_timestamp_seconds": time.time() if now is None else now}


def realized_figures(auc: float | None, rows: int, floor: float,
                     label_age_days: float | None) -> dict[str, float]:
    """Gauges of the realized-performance check: the AUC (NaN when not judged), its rows, its floor,
    and the label feed's freshness (age of the newest reported outcome; NaN when none)."""
    return {"creditrisk_realized_auc": _number(auc), "creditrisk_realized_rows": float(rows),
            "creditrisk_realized_auc_floor": float(floor),
            "creditrisk_label_age_seconds": _number(label_age_days) * 86400.0}


def decision_figures(outcome: str, champion: str | None, now: float | None = None) -> dict[str, float]:
    """Gauges of one promotion decision: when, with its outcome as a label, and the champion after it."""
    return {"creditrisk_promotion_decision_timestamp_seconds": time.time() if now is None else now,
            "creditrisk_champion_version": _number(champion)}


def exposition(figures: Mapping[str, float], labels: Mapping[str, str]) -> str:
    """Prometheus text format: one gauge per figure, with `labels` on each."""
    tags = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    lines = []
    for name, value in figures.items():
        lines += [f"# TYPE {name} gauge", f"{name}{{{tags}}} {_format(value)}"]
    return "\n".join(lines) + "\n"


def push(gateway: str | None, step: str, figures: Mapping[str, float], labels: Mapping[str, str]) -> Pushed:
    """PUT `figures` as the group job=creditrisk_loop, step=`step`; no gateway configured: not pushed."""
    if not gateway:
        return Pushed(False, "no pushgateway configured (CREDITRISK_PUSHGATEWAY)")
    url = f"{gateway.rstrip('/')}/metrics/job/{JOB}/step/{urllib.parse.quote(step, safe='')}"
    body = exposition(figures, labels).encode()
    request = urllib.request.Request(url, data=body, method="PUT",
                                     headers={"Content-Type": "text/plain; version=0.0.4"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310 - configured URL
            answer.read()
    except urllib.error.HTTPError as exc:
        said = exc.read()[:200].decode(errors="replace")
        return Pushed(False, f"the pushgateway answered {exc.code}: {said}")
    except urllib.error.URLError as exc:  # its reason names the failure, never the URL
        return Pushed(False, f"the pushgateway could not be reached: {exc.reason}")
    except (OSError, ValueError) as exc:  # a malformed URL's message would quote it: the type only
        return Pushed(False, f"the pushgateway could not be reached: {type(exc).__name__}")
    return Pushed(True)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _format(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
