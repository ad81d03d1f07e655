"""The challenger: retrained on base data plus labelled production requests, registered in MLflow."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.constants import LABEL, RETRAINING_GROUP
from creditrisk.model import WEIGHT
from creditrisk.schema import FEATURES
from creditrisk.windows import week_windows
from creditrisk_assets import checks
from creditrisk_assets.assets.sources import base_training_data, request_log
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def training_frames(base_raw: pd.DataFrame, base: pd.DataFrame, production: pd.DataFrame,
                    production_weight: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw, preprocessed) training data: base rows weigh 1, labelled production rows more."""
    prod = production[FEATURES + [LABEL]].astype({LABEL: "int64"})
    prod = prod.astype({c: "object" for c in prod.columns if str(prod[c].dtype) == "string"})
    prod = prod.astype({"person_age": "int64"})
    preprocessed = pd.concat([base[FEATURES + [LABEL]].assign(**{WEIGHT: 1.0}),
                              prod.assign(**{WEIGHT: production_weight})], ignore_index=True)
    raw = pd.concat([base_raw, prod], ignore_index=True)
    return raw, preprocessed


def drift_trigger(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Why this retraining runs: the week's latest drift report, read from its materialization."""
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(dg.AssetKey("drift_report"), asset_partitions=[context.partition_key]), limit=1)
    mat = found.records[0].asset_materialization if found.records else None
    if mat is None:
        return {"drift_report": "none for this week (retraining started by hand)"}
    meta = {k: v.value for k, v in mat.metadata.items()}
    drifted = [r.data["column"] for r in meta["columns"].records if r.data["drifted"]]
    return {"drift_report_run": found.records[0].run_id, "drift_share": f"{meta['drift_share']:.3f}",
            "drifted_columns": ", ".join(drifted) or "none"}


# drift_report is read through its materialization (the event log, shared by every run), not
# through an IO manager: a retraining run need not share a disk with the weekly run.
@dg.asset(partitions_def=WEEKS, group_name=RETRAINING_GROUP, kinds={"xgboost", "mlflow"},
          deps=["drift_report", request_log, base_training_data],
          check_specs=[checks.QUALITY_FLOOR, checks.VALIDATION])
def candidate_model(context: dg.AssetExecutionContext, store: StoreResource, registry: RegistryResource,
                    loop: LoopConfig) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    """A retrained model: a new version, made `challenger` only once it passed every candidate gate."""
    from creditrisk.training import train_and_register

    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    # Only rows older than the evaluation window: the last days are kept to judge this model.
    production = store.get_store().read_window(EPOCH, w.evaluation[0], labelled_only=True)
    base_raw, base = loop.base_data()
    trigger = drift_trigger(context)
    raw, preprocessed = training_frames(base_raw, base, production, loop.production_weight)
    changes, actor = registry.get_changes(), f"dagster run {context.run_id}"
    result = train_and_register(
        changes.registry, raw, preprocessed, run_name=f"retrain-{w.label}",
        source=f"base+production<{w.evaluation[0]:%Y-%m-%d}",
        tags={"week": w.label, "dagster_run_id": context.run_id,
              **{f"trigger.{k}": v for k, v in trigger.items()}},
        progress=context.log.info)
    changes.register_candidate(result.version, actor=actor, reason=f"retrained for week {w.label}", **trigger)
    out = {"version": result.version, "run_id": result.run_id, "week": w.label, "week_key": w.key,
           "metrics": result.metrics, "production_rows": len(production), "base_rows": len(base)}
    gates = [checks.candidate_quality_floor(out, loop),
             checks.candidate_validation(changes.validate(result.version))]
    failed = [f"{g.check_name}: {g.description}" for g in gates if not g.passed]
    if failed:
        changes.reject(result.version, actor=actor, reason="; ".join(failed))
    else:
        changes.admit_challenger(result.version, actor=actor, gates={g.check_name: "passed" for g in gates})
    metadata = {"mlflow_run_id": result.run_id, "model_version": result.version, **trigger,
                "production_rows": len(production), "base_rows": len(base),
                "train_rows": result.rows["train"],
                **{f"holdout_{k}": float(v) for k, v in result.metrics.items()
                   if k in ("roc_auc", "accuracy", "brier", "recall_default", "pr_auc")}}
    yield dg.Output(out, metadata={**metadata, "state": "rejected" if failed else "challenger"})
    yield from gates
