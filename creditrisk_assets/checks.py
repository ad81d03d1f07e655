"""Asset checks: the volume gate, data quality, the candidate's quality floor, realized performance.

The first three judge the value their asset just computed, so their asset emits them (`check_specs`
on the asset, results from the functions here): a standalone check on a weekly-partitioned asset
would load every partition of it. Realized performance reads the store, so it stands alone.
"""
from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.monitoring.windows import week_windows
from creditrisk.training.retraining import Candidate
from creditrisk_assets.resources import LoopConfig, StoreResource

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
    q = loop.quality_rule().judge(current_window)
    if q.missing_columns:
        return dg.AssetCheckResult(check_name="data_quality", passed=False,
                                   metadata={"missing_columns": ", ".join(q.missing_columns)})
    return dg.AssetCheckResult(check_name="data_quality", passed=q.passed,
                               severity=dg.AssetCheckSeverity.WARN, metadata={
        "max_null_rate": q.max_null_rate, "null_rate_limit": loop.max_null_rate,
        "worst_null_column": q.worst_null_column, "out_of_range_rows": q.out_of_range_rows,
        "rules_broken": ", ".join(f"{k} ({v})" for k, v in q.rules_broken.items()) or "none"})


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
    rule = loop.realized_rule()
    start, end = rule.window(w.as_of)
    result = rule.judge(store.get_store().read_window(start, end, labelled_only=True))
    meta: dict[str, Any] = {"labelled_rows": result.labelled_rows, **rule.as_metadata(),
                            "window": f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"}
    if not result.judged:
        return dg.AssetCheckResult(passed=True, metadata=meta, description=result.reason)
    meta |= {"realized_auc": result.auc, "served_versions": ", ".join(result.served_versions)}
    if result.alert:
        loop.alerter().send(f"creditrisk: realized AUC {result.auc:.3f} below {rule.min_auc} ({w.label})",
                            {"week": w.label, **meta})
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=meta,
                                   description=f"ALERT: {result.reason}")
    return dg.AssetCheckResult(passed=True, metadata=meta)
