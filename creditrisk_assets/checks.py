"""Asset checks: the volume gate, data quality, the candidate's quality floor, realized performance.

The first three judge the value their asset just computed, so their asset emits them (`check_specs`
on the asset, results from the functions here): a standalone check on a weekly-partitioned asset
would load every partition of it. Realized performance reads the store, so it stands alone.
"""
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from creditrisk.applicants.schema import FEATURES, invalid_rows
from creditrisk.constants import LABEL
from creditrisk.monitoring.windows import week_windows
from creditrisk.training.retraining import Candidate
from creditrisk_assets.resources import LoopConfig, StoreResource

REALIZED_POPULATION = ("requests of the window whose outcome was reported: approved applicants only "
                       "(a denied applicant never has one)")
FLOOR_POPULATION = ("the base data's rows of the candidate's holdout (production rows are approved "
                    "applicants only)")
VOLUME_GATE = dg.AssetCheckSpec("volume_gate", asset="current_window",
                                 description="The week has at least `min_weekly_requests` requests.")
DATA_QUALITY = dg.AssetCheckSpec("data_quality", asset="current_window",
                                 description="Schema, null rates and value ranges of the week.")
QUALITY_FLOOR = dg.AssetCheckSpec("candidate_quality_floor", asset="candidate_model", blocking=True,
                                  description="The candidate meets the quality floor on its holdout "
                                              "before it may be compared with the champion.")
AGE_RULE = dg.AssetCheckSpec("candidate_age_rule", asset="candidate_model", blocking=True,
                             description="Regulation B: no holdout or synthetic profile scores worse at an "
                                         "age of 62+ than at its most favoured age under 62.")
VALIDATION = dg.AssetCheckSpec("candidate_validation", asset="candidate_model", blocking=True,
                               description="The registered artifact passes the validation gate "
                                           "(loads, schema, threshold, canary scores as recorded).")


def volume_gate(current_window: pd.DataFrame, loop: LoopConfig) -> dg.AssetCheckResult:
    n = len(current_window)
    return dg.AssetCheckResult(check_name="volume_gate", passed=n >= loop.min_weekly_requests,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"rows": n, "min_rows": loop.min_weekly_requests},
                               description=None if n >= loop.min_weekly_requests else
                               f"insufficient data: {n} requests < {loop.min_weekly_requests}")


def data_quality(current_window: pd.DataFrame, loop: LoopConfig) -> dg.AssetCheckResult:
    missing = [c for c in FEATURES if c not in current_window.columns]
    if missing:
        return dg.AssetCheckResult(check_name="data_quality", passed=False,
                                   metadata={"missing_columns": ", ".join(missing)})
    nulls = current_window[FEATURES].isna().mean()
    broken = invalid_rows(current_window[FEATURES]).sum()
    worst = float(nulls.max()) if len(current_window) else 0.0
    problems = {k: int(v) for k, v in broken.items() if v}
    passed = worst <= loop.max_null_rate and not problems
    return dg.AssetCheckResult(check_name="data_quality", passed=passed, severity=dg.AssetCheckSeverity.WARN,
                               metadata={
        "max_null_rate": worst, "null_rate_limit": loop.max_null_rate,
        "worst_null_column": str(nulls.idxmax()) if len(current_window) else "",
        "out_of_range_rows": int(invalid_rows(current_window[FEATURES]).any(axis=1).sum()),
        "rules_broken": ", ".join(f"{k} ({v})" for k, v in problems.items()) or "none"})


def candidate_quality_floor(candidate: Candidate, loop: LoopConfig) -> dg.AssetCheckResult:
    problems = candidate.gates["quality_floor"]
    m = candidate.floor_metrics or candidate.metrics
    meta = {"model_version": candidate.version, "population": FLOOR_POPULATION,
            "roc_auc_actual": float(m["roc_auc"]),
            "roc_auc_threshold": loop.min_candidate_auc, "brier_actual": float(m["brier"]),
            "brier_threshold": loop.max_candidate_brier}
    return dg.AssetCheckResult(check_name="candidate_quality_floor", passed=not problems, metadata=meta,
                               description="; ".join(problems) or None)


def candidate_age_rule(candidate: Candidate) -> dg.AssetCheckResult:
    problems = candidate.gates["age_rule"]
    meta: dict[str, Any] = {"model_version": candidate.version}
    for r in candidate.report.age_rule if candidate.report else []:
        kind = r.population.split()[0]
        meta |= {f"{kind}_profiles": r.profiles, f"{kind}_violations": r.violations,
                 f"{kind}_worst_gap": r.worst_gap}
    return dg.AssetCheckResult(check_name="candidate_age_rule", passed=not problems, metadata=meta,
                               description="; ".join(problems) or None)


def candidate_validation(candidate: Candidate) -> dg.AssetCheckResult:
    problems = candidate.gates["validation"]
    return dg.AssetCheckResult(check_name="candidate_validation", passed=not problems,
                               metadata={"model_version": candidate.version,
                                         "problems": "; ".join(problems) or "none"},
                               description="; ".join(problems) or None)


@dg.asset_check(asset="raw_requests",
                description="Realized AUC of the served scores on labelled recent requests (concept drift).")
def realized_performance(context: dg.AssetCheckExecutionContext, store: StoreResource,
                         loop: LoopConfig) -> dg.AssetCheckResult:
    # Checks on partitioned assets are not partitioned themselves (that API is in preview); the
    # week is the run's partition.
    key = context.run.tags.get("dagster/partition")
    if key is None:
        return dg.AssetCheckResult(passed=False, description="run has no week partition")
    w = week_windows(key, loop.reference_weeks, loop.evaluation_days)
    start = w.as_of - pd.Timedelta(weeks=loop.performance_weeks)
    rows = store.get_store().read_window(start, w.as_of, labelled_only=True)
    y = rows[LABEL].to_numpy(dtype="int64") if len(rows) else np.array([], dtype="int64")
    meta: dict[str, Any] = {"labelled_rows": len(rows), "min_realized_auc": loop.min_realized_auc,
                            "min_realized_rows": loop.min_realized_rows, "population": REALIZED_POPULATION,
                            "window": f"{start:%Y-%m-%d} .. {w.as_of:%Y-%m-%d}"}
    if len(rows) < loop.min_realized_rows or len(set(y)) < 2:
        return dg.AssetCheckResult(passed=True, metadata=meta, description=(
            f"insufficient labels to judge: {len(rows)} labelled rows < {loop.min_realized_rows}"))
    auc = float(roc_auc_score(y, rows["probability"].to_numpy()))
    meta["realized_auc"] = auc
    meta["served_versions"] = ", ".join(sorted(set(rows["model_version"].astype(str))))
    if auc < loop.min_realized_auc:
        loop.alerter().send(f"creditrisk: realized AUC {auc:.3f} below {loop.min_realized_auc} ({w.label})",
                            {"week": w.label, **meta})
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=meta,
                                   description=f"ALERT: realized AUC {auc:.3f} < {loop.min_realized_auc}")
    return dg.AssetCheckResult(passed=True, metadata=meta)
