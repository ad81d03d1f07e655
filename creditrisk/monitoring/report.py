"""One week's monitoring report: data drift, concept drift, the label-free estimate and the drift episode.

The `drift_report` asset and bench/detection.py call the same function, so the benchmark measures
the decisions the product makes; only the per-column statistics differ in who computes them
(Evidently with its HTML in the product, its scipy twin in the benchmark, checked equal). The
report is a flat dict of plain values: the asset's output, its metadata, and what drift_sensor
reads (`creditrisk.monitoring.episodes.retrain_decision`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.model.calibration import MIN_CALIBRATION_ROWS, Calibration, fit_calibration
from creditrisk.model.credit_model import CreditModel
from creditrisk.monitoring.concept import POPULATION, ConceptRule, Service, judge, split_service
from creditrisk.monitoring.drift import EVIDENTLY_PVALUE_ROWS, STATUS_INSUFFICIENT, DriftResult, compute_drift
from creditrisk.monitoring.drift_rule import DriftRule, importance_shares
from creditrisk.monitoring.drift_twin import twin_drift
from creditrisk.monitoring.episodes import MIN_CHANGE_TRAIN_ROWS, episode, readiness
from creditrisk.monitoring.performance import calibration_error, estimate, realized
from creditrisk.monitoring.windows import WeekWindows
from creditrisk.registry.policy import EvidenceRule

ESTIMATE_POPULATION = "every applicant of the week, the denied included (no label needed)"


@dataclass(frozen=True)
class MonitorRule:
    """Every number the weekly report decides with (defaults: each rule's own)."""

    drift: DriftRule = field(default_factory=DriftRule)
    concept: ConceptRule = field(default_factory=ConceptRule)
    min_rows: int = DriftRule.min_rows
    min_change_train_rows: int = MIN_CHANGE_TRAIN_ROWS
    min_evaluation_rows: int = EvidenceRule.min_rows
    min_calibration_rows: int = MIN_CALIBRATION_ROWS


def _labels(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return rows[LABEL].to_numpy(dtype=int), rows["probability"].to_numpy(dtype=float)


def _drift(reference: pd.DataFrame, cur: pd.DataFrame, model: CreditModel, rule: MonitorRule,
           html_path: Path | None, twin: bool) -> DriftResult:
    """Data drift; a reference of at most 1,000 rows (just after a change) is too short to judge with.

    Why: on such a reference Evidently switches to p-value tests, whose verdicts depend on the row
    count and which the strong-column rule has no threshold for.
    """
    if len(reference) <= EVIDENTLY_PVALUE_ROWS:
        return DriftResult(False, 0.0, 0, 0, [], len(reference), len(cur), status=STATUS_INSUFFICIENT)
    kwargs: dict[str, Any] = {"drift_share": rule.drift.drift_share, "min_rows": rule.min_rows,
                              "importance": lambda: importance_shares(model, cur), "rule": rule.drift}
    return twin_drift(reference[FEATURES], cur, **kwargs) if twin else \
        compute_drift(reference[FEATURES], cur, html_path=html_path, **kwargs)


def _performance(service: Service | None, p: np.ndarray, threshold: float,
                 rule: MonitorRule) -> dict[str, Any]:
    """The label-free estimate on every applicant, and the realized metrics on the recent labelled rows."""
    calibration = fit_calibration(*_labels(service.baseline), rule.min_calibration_rows) if service \
        else Calibration()
    est, approved = estimate(p, threshold, calibration), estimate(p[p < threshold], threshold, calibration)
    recent = service.recent if service else pd.DataFrame({LABEL: [], "probability": []})
    real = realized(*_labels(recent), threshold)
    return {**{f"estimate/{k}": v for k, v in est.as_dict().items()},
            "estimate/auc_approved": approved.auc, "estimate/default_rate_approved": approved.default_rate,
            "estimate/calibrated_on": calibration.rows, "estimate/population": ESTIMATE_POPULATION,
            "realized/auc": real.auc, "realized/default_rate": real.default_rate, "realized/rows": real.rows,
            "realized/calibration_error": calibration_error(*_labels(recent)),
            "realized/population": f"{POPULATION}, in its recent weeks (default recall cannot be realized "
                                   "there: every one of them was approved)"}


def week_report(reference: pd.DataFrame, current: pd.DataFrame, labelled: pd.DataFrame, model: CreditModel,
                version: str, w: WeekWindows, *, previous: Mapping[str, Any] | None = None,
                rule: MonitorRule | None = None, html_path: Path | None = None, twin: bool = False,
                scores: np.ndarray | None = None, champion_change: datetime | None = None) -> dict[str, Any]:
    """The report of week `w` for the champion `version` (`model`).

    `labelled` holds logged requests with ts, model_version, probability, loan_status and
    reported_at (only outcomes reported before the week's end count); `previous` is last week's
    report, which carries the episode forward; `scores` are the model's scores of `current` when
    the caller has them already; `champion_change` is the change the champion was retrained for.
    """
    rule = rule or MonitorRule()
    cur = current[FEATURES]
    drift = _drift(reference, cur, model, rule, html_path, twin)
    service = split_service(labelled, version, w.as_of, rule.concept)
    concept = judge(service, version, rule.concept)
    p = scores if scores is not None else model.score_frame(cur) if len(cur) else np.array([])
    flagged = drift.dataset_drift or concept.concept_drift
    evidence = [w.current[0]] if drift.dataset_drift else []
    if concept.concept_drift and concept.recent_window:
        evidence.append(concept.recent_window[0])
    change, last = episode(flagged, min(evidence, default=w.current[0]), w.as_of, version, champion_change,
                           previous)
    ready = readiness(labelled, change, w, min_train_rows=rule.min_change_train_rows,
                      min_evaluation_rows=rule.min_evaluation_rows) if change else None
    out = drift.to_dict()
    out.pop("importance")
    return {**out, "week": w.label, "week_key": w.key, "champion_version": str(version), "flagged": flagged,
            "strong_columns": ", ".join(drift.strong_columns),
            **{f"importance/{k}": float(v) for k, v in drift.importance.items()},
            "concept_drift": concept.concept_drift, "concept/population": POPULATION,
            **{f"concept/{k}": v for k, v in concept.to_dict().items() if k != "concept_drift"},
            **_performance(service, p, model.threshold, rule),
            "change_start": change.isoformat() if change else "",
            "last_flagged": last.isoformat() if last else "", "retrain_ready": bool(ready and ready.ready),
            "change_train_rows": ready.train_rows if ready else 0,
            "evaluation_rows": ready.evaluation_rows if ready else 0,
            "min_change_train_rows": rule.min_change_train_rows,
            "min_evaluation_rows": rule.min_evaluation_rows}
