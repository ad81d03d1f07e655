"""Jobs: the weekly drift check and the drift-triggered retraining, each one asset group; the store's upkeep.

Both run their steps in one process: on two cores a process per step only adds start-up time
(each would re-import pandas, MLflow and Evidently), and the steps are sequential anyway.
"""

import dagster as dg

from creditrisk_assets.groups import COMPACTION_JOB, MONITORING_GROUP, RETENTION_JOB, RETRAINING_GROUP
from creditrisk_assets.maintenance import apply_retention, compact_request_store
from creditrisk_assets.partitions import WEEKS

weekly_drift_job = dg.define_asset_job(
    "weekly_drift_job", selection=dg.AssetSelection.groups(MONITORING_GROUP), partitions_def=WEEKS,
    executor_def=dg.in_process_executor,
    description="Materialize the week's requests, windows and drift report (with checks).")

# Retraining runs queue one at a time (the instance's tag_concurrency_limits on this tag): two
# overlapping retrains would each register a challenger and race to promote it. The registry
# lock makes a lost race refuse cleanly; the queue keeps it from happening.
SERIAL_TAG = {"creditrisk/serial": "retrain"}

retrain_job = dg.define_asset_job(
    "retrain_job", selection=dg.AssetSelection.groups(RETRAINING_GROUP), partitions_def=WEEKS,
    executor_def=dg.in_process_executor, tags=SERIAL_TAG,
    description="Retrain a challenger and promote it only if it beats the champion. Started by drift_sensor.")


@dg.job(name=COMPACTION_JOB, executor_def=dg.in_process_executor,
        description="Compact the request store: one file per finished day. Started daily by its schedule.")
def store_compaction_job() -> None:
    compact_request_store()


@dg.job(name=RETENTION_JOB, executor_def=dg.in_process_executor,
        description="Delete store rows past their retention (holds and served models' training rows kept). "
                    "Started monthly by its schedule.")
def store_retention_job() -> None:
    apply_retention()
