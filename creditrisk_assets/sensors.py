"""drift_sensor: start retraining once per drift episode, when the report flags data or concept drift."""

import dagster as dg

from creditrisk.monitoring.episodes import retrain_decision
from creditrisk.registry.states import Outcome, State
from creditrisk_assets.jobs import retrain_job

CHANGE_TAG = "creditrisk/change_start"
# A retrain that ended like this without deciding did not judge the change: the next report may try again.
UNFINISHED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def retrained_in(instance: dg.DagsterInstance, change: str) -> str | None:
    """The retrain run that spent the episode that began at `change`, if any (see `spends_episode`)."""
    if not change:
        return None
    records = instance.get_run_records(dg.RunsFilter(job_name=retrain_job.name, tags={CHANGE_TAG: change}))
    return next((r.dagster_run.run_id for r in records if spends_episode(instance, r.dagster_run)), None)


def spends_episode(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether a retrain run is the episode's one retrain: it decided, or it may still decide.

    Decided: champion_model recorded a judged outcome (promoted, first model, kept on the evidence,
    awaiting approval), or candidate_model recorded the candidate `rejected` by a blocking gate
    (quality floor, age rule, validation: the run then fails, but the retrain was judged). A decision
    counts even if a later step failed. Not decided: a refused promotion move (another move came
    first: nothing was judged), or a run that failed or was canceled before any decision (a crash,
    a registry outage after its retries). A run still going, or one that ended well without either
    record (older runs), counts, so one episode never has two retrains at once.
    """
    decided = decision(instance, run.run_id)
    if decided is not None:
        return decided
    return run.status not in UNFINISHED


def decision(instance: dg.DagsterInstance, run_id: str) -> bool | None:
    """From the run's records: True if it decided, False if its move was refused, None if neither."""
    events = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    mats = [r.event_log_entry.asset_materialization for r in events]
    meta = {m.asset_key.to_user_string(): m.metadata for m in mats if m is not None}
    if "outcome" in meta.get("champion_model", {}):
        return Outcome(str(meta["champion_model"]["outcome"].value)).judged
    candidate = meta.get("candidate_model", {}).get("state")
    return True if candidate is not None and candidate.value == str(State.REJECTED) else None


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
