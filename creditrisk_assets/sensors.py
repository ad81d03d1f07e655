"""drift_sensor: start retraining once per drift episode, when the report flags data or concept drift."""

import dagster as dg

from creditrisk.monitoring.episodes import retrain_decision
from creditrisk.registry.states import Outcome
from creditrisk_assets.jobs import retrain_job

CHANGE_TAG = "creditrisk/change_start"
# A retrain that ended like this did not judge the change: the next flagged report may try again.
UNFINISHED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def retrained_in(instance: dg.DagsterInstance, change: str) -> str | None:
    """The retrain run already started for the episode that began at `change`, if any; a run that
    failed, was canceled or whose promotion move was refused judged nothing and does not count."""
    if not change:
        return None
    records = instance.get_run_records(dg.RunsFilter(job_name=retrain_job.name, tags={CHANGE_TAG: change}))
    return next((r.dagster_run.run_id for r in records
                 if r.dagster_run.status not in UNFINISHED and judged(instance, r.dagster_run.run_id)), None)


def judged(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run's champion_model judged its challenger (True while it has not decided yet)."""
    events = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in events:
        mat = record.event_log_entry.asset_materialization
        if mat is not None and mat.asset_key == dg.AssetKey("champion_model"):
            outcome = mat.metadata.get("outcome")
            return outcome is None or Outcome(str(outcome.value)).judged
    return True


@dg.asset_sensor(asset_key=dg.AssetKey("drift_report"), job=retrain_job, minimum_interval_seconds=5,
                 default_status=dg.DefaultSensorStatus.RUNNING,
                 description="Launches retrain_job once per drift episode: when a report flags data or "
                             "concept drift and the changed world has labels to learn from.")
def drift_sensor(context: dg.SensorEvaluationContext,
                 asset_event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
    # asset_sensor keeps the cursor (the last drift_report event seen): each report is judged once.
    mat = asset_event.asset_materialization
    if mat is None or mat.partition is None:
        return dg.SkipReason("drift_report event without a materialization or week partition")
    meta = {k: v.value for k, v in mat.metadata.items()}
    meta.setdefault("week", mat.partition)
    change = str(meta.get("change_start") or "")
    go, why = retrain_decision(meta, retrained_in(context.instance, change))
    if not go:
        return dg.SkipReason(why)
    kinds = [k for k, flag in (("data", "dataset_drift"), ("concept", "concept_drift")) if meta.get(flag)]
    return dg.RunRequest(
        run_key=f"retrain-{mat.partition}-{asset_event.run_id}",  # one report never starts two retrains
        partition_key=mat.partition,
        tags={"creditrisk/trigger": "drift", "creditrisk/drift_type": "+".join(kinds),
              "creditrisk/week": str(meta["week"]), CHANGE_TAG: change,
              "creditrisk/drift_share": f"{meta.get('drift_share', float('nan')):.3f}"})
