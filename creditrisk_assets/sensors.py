"""drift_sensor: start retraining only when the newest drift report says the data drifted."""

import dagster as dg

from creditrisk_assets.jobs import retrain_job


@dg.asset_sensor(asset_key=dg.AssetKey("drift_report"), job=retrain_job, minimum_interval_seconds=5,
                 default_status=dg.DefaultSensorStatus.RUNNING,
                 description="Launches retrain_job for a week whose drift report has dataset_drift = true.")
def drift_sensor(context: dg.SensorEvaluationContext,
                 asset_event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
    # asset_sensor keeps the cursor (the last drift_report event seen): each report is judged once.
    mat = asset_event.asset_materialization
    if mat is None or mat.partition is None:
        return dg.SkipReason("drift_report event without a materialization or week partition")
    meta = {k: v.value for k, v in mat.metadata.items()}
    week = meta.get("week", mat.partition)
    if not meta.get("dataset_drift", False):
        why = "insufficient data" if meta.get("status") == "insufficient data" else "no drift"
        return dg.SkipReason(f"{why} in week {week}: "
                             f"{meta.get('n_drifted', '?')}/{meta.get('n_columns', '?')} columns drifted")
    return dg.RunRequest(
        run_key=f"retrain-{mat.partition}-{asset_event.run_id}",  # one report never starts two retrains
        partition_key=mat.partition,
        tags={"creditrisk/trigger": "drift", "creditrisk/week": str(week),
              "creditrisk/drift_share": f"{meta.get('drift_share', float('nan')):.3f}"})
