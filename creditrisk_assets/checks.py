"""Asset checks: the volume gate, data quality, the candidate's quality floor, realized performance.

The first three judge the value their asset just computed, so their asset emits them (`check_specs`
on the asset, results from the functions here): a standalone check on a weekly-partitioned asset
would load every partition of it. Realized performance reads the store, so it stands alone.
"""
import time
from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.monitoring.exported import realized_figures
from creditrisk.monitoring.quality import QualityResult
from creditrisk.monitoring.windows import week_windows
from creditrisk.registry.policy import QualityFloor
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


def week_checks(current_window: pd.DataFrame, loop: LoopConfig, week: str) -> list[dg.AssetCheckResult]:
    """The volume gate and data quality of a week; one alert for the week names each that failed."""
    n, quality = len(current_window), loop.quality_rule().judge(current_window)
    thin = None if n >= loop.min_weekly_requests else \
        f"insufficient data: {n} requests < {loop.min_weekly_requests}"
    failed = [f"{name} ({why})" for name, why in (("volume_gate", thin), ("data_quality", quality.reason))
              if why]
    sent, note = send_alert(loop, f"creditrisk: week {week} failed {'; '.join(failed)}",
                            {"week": week, "rows": n}) if failed else ({}, "")
    volume = dg.AssetCheckResult(check_name="volume_gate", passed=thin is None,
                                 severity=dg.AssetCheckSeverity.ERROR,
                                 metadata={"rows": n, "min_rows": loop.min_weekly_requests,
                                           **(sent if thin else {})},
                                 description=thin + note if thin else None)
    return [volume, data_quality(quality, loop, sent, note)]


def data_quality(q: QualityResult, loop: LoopConfig, sent: dict[str, Any], note: str) -> dg.AssetCheckResult:
    if q.missing_columns:
        return dg.AssetCheckResult(check_name="data_quality", passed=False, description=q.reason + note,
                                   metadata={"missing_columns": ", ".join(q.missing_columns), **sent})
    return dg.AssetCheckResult(check_name="data_quality", passed=q.passed,
                               severity=dg.AssetCheckSeverity.WARN,
                               description=q.reason + note if q.reason else None,
                               metadata={
        "max_null_rate": q.max_null_rate, "null_rate_limit": loop.max_null_rate,
        "worst_null_column": q.worst_null_column, "out_of_range_rows": q.out_of_range_rows,
        "rules_broken": ", ".join(f"{k} ({v})" for k, v in q.rules_broken.items()) or "none",
        **({} if q.passed else sent)})


def send_alert(loop: LoopConfig, title: str, details: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Send one alert; the metadata and the description's ending that say whether it was delivered."""
    delivery = loop.alerter().send(title, details)
    if not delivery.delivered:  # for Prometheus, whose own routes do not go through this webhook
        undelivered = {"creditrisk_alert_undelivered_timestamp_seconds": time.time()}
        loop.push_figures("alert_undelivered", undelivered, {"alert": title[:120]}, dg.get_dagster_logger())
    return ({"alert_delivered": delivery.delivered, "alert": str(delivery)},
            "" if delivery.delivered else f"; the alert was NOT delivered ({delivery.problem})")


def candidate_quality_floor(candidate: Candidate, floor: QualityFloor) -> dg.AssetCheckResult:
    problems = candidate.gates["quality_floor"]
    m = candidate.floor_metrics or candidate.metrics
    meta = {"model_version": candidate.version, "population": FLOOR_POPULATION,
            "roc_auc_actual": float(m["roc_auc"]),
            "roc_auc_threshold": floor.min_auc, "brier_actual": float(m["brier"]),
            "brier_threshold": floor.max_brier}
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
                description="Realized AUC of the served scores on labelled recent requests (concept drift), "
                            "and the outcome feed behind it (stale or missing outcomes alert).")
def realized_performance(context: dg.AssetCheckExecutionContext, store: StoreResource,
                         loop: LoopConfig) -> dg.AssetCheckResult:
    # Checks on partitioned assets are not partitioned themselves (that API is in preview); the
    # week is the run's partition.
    key = context.run.tags.get("dagster/partition")
    if key is None:
        return dg.AssetCheckResult(passed=False, description="run has no week partition")
    w = week_windows(key, loop.reference_weeks, loop.evaluation_days)
    rule, requests = loop.realized_rule(), store.get_store()
    start, end = rule.window(w.as_of)
    # Outcomes known at the week's end, as the drift report reads them: a rerun judges the same feed.
    labelled = requests.read_window(start, end, labelled_only=True, reported_before=w.as_of)
    due = rule.due(requests.read_window(*rule.due_window(w.as_of), columns=["decision"]))
    result = rule.judge(labelled, as_of=w.as_of, due=due)
    meta: dict[str, Any] = {"labelled_rows": result.labelled_rows, "outcomes_due": due,
                            "label_age_days": result.label_age_days, **rule.as_metadata(),
                            "window": f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"}
    if result.judged:
        meta |= {"realized_auc": result.auc, "served_versions": ", ".join(result.served_versions)}
    meta |= loop.push_figures("realized_performance",
                              realized_figures(result.auc if result.judged else None, result.labelled_rows,
                                               rule.min_auc, result.label_age_days),
                              {"week": w.label}, context.log)
    if not result.alert:
        return dg.AssetCheckResult(passed=True, metadata=meta,
                                   description=None if result.judged else result.reason)
    title = f"creditrisk: realized AUC {result.auc:.3f} below {rule.min_auc}" \
        if result.judged and result.auc < rule.min_auc else f"creditrisk: {result.reason}"
    sent, note = send_alert(loop, f"{title} ({w.label})", {"week": w.label, **meta})
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=meta | sent,
                               description=f"ALERT: {result.reason}{note}")
