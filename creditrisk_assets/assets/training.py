"""The candidate: retrained on base data plus labelled production requests, gated, registered in MLflow."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from creditrisk.monitoring.windows import week_windows
from creditrisk.training.lineage import DataReference
from creditrisk.training.retraining import train_candidate
from creditrisk_assets import checks
from creditrisk_assets.assets.sources import base_training_data, request_log
from creditrisk_assets.groups import RETRAINING_GROUP
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def drift_trigger(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Why this retraining runs: the week's latest drift report, read from its materialization."""
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(dg.AssetKey("drift_report"), asset_partitions=[context.partition_key]), limit=1)
    mat = found.records[0].asset_materialization if found.records else None
    if mat is None:
        return {"drift_report": "none for this week (retraining started by hand)"}
    meta = {k: v.value for k, v in mat.metadata.items()}
    drifted = [r.data["column"] for r in meta["columns"].records if r.data["drifted"]]
    # change_start becomes the MLflow tag `trigger.change_start`: once this model is promoted, the
    # reference window starts there (creditrisk.monitoring.episodes.champion_change).
    return {"drift_report_run": found.records[0].run_id, "drift_share": f"{meta['drift_share']:.3f}",
            "drifted_columns": ", ".join(drifted) or "none",
            "strong_columns": str(meta.get("strong_columns") or "none"),
            "concept_drift": str(bool(meta.get("concept_drift"))).lower(),
            **({"change_start": str(meta["change_start"])} if meta.get("change_start") else {})}


# drift_report is read through its materialization (the event log, shared by every run), not
# through an IO manager: a retraining run need not share a disk with the weekly run.
@dg.asset(partitions_def=WEEKS, group_name=RETRAINING_GROUP, kinds={"xgboost", "mlflow"},
          deps=["drift_report", request_log, base_training_data],
          check_specs=[checks.QUALITY_FLOOR, checks.AGE_RULE, checks.VALIDATION])
def candidate_model(context: dg.AssetExecutionContext, store: StoreResource, registry: RegistryResource,
                    loop: LoopConfig) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    """A retrained model: a new version, made `challenger` only once it passed every candidate gate."""
    changes, actor = registry.get_changes(), registry.actor_for(context.run_id)
    loop.refuse_launch_overrides(changes, actor)
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    # Only rows older than the evaluation window: the last days are kept to judge this model.
    # Outcomes reported after the week's end are not read: a rerun of this week reads the same labels.
    production = store.get_store().read_window(EPOCH, w.evaluation[0], labelled_only=True,
                                               reported_before=w.as_of)
    base = loop.base_data()
    trigger = drift_trigger(context)
    candidate = train_candidate(
        changes, base, production, production_weight=loop.production_weight, run_name=f"retrain-{w.label}",
        data=DataReference(f"{loop.base_data_source() or 'synthetic'} + request log",
                           policy=loop.training_data,
                           window=f"..{w.evaluation[0]:%Y-%m-%d}", outcome_cutoff=w.as_of.isoformat()),
        actor=actor,
        reason=f"retrained for week {w.label}",
        tags={"week": w.label, "dagster_run_id": context.run_id,
              **{f"trigger.{k}": v for k, v in trigger.items()}},
        progress=context.log.info)
    out = {"version": candidate.version, "run_id": candidate.run_id, "week": w.label, "week_key": w.key,
           "metrics": candidate.metrics, "production_rows": len(production), "base_rows": len(base[1])}
    metadata = {"mlflow_run_id": candidate.run_id, "model_version": candidate.version, **trigger,
                "production_rows": len(production), "base_rows": len(base[1]),
                "train_rows": candidate.train_rows,
                "state": "challenger" if candidate.passed else "rejected",
                **{f"holdout_{k}": float(v) for k, v in candidate.metrics.items()
                   if k in ("roc_auc", "accuracy", "brier", "recall_default", "pr_auc")}}
    yield dg.Output(out, metadata=metadata)
    yield checks.candidate_quality_floor(candidate, changes.policy.floor)
    yield checks.candidate_age_rule(candidate)
    yield checks.candidate_validation(candidate)
