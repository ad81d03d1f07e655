"""Jobs: the weekly drift check and the drift-triggered retraining, each one asset group.

Both run their steps in one process: on two cores a process per step only adds start-up time
(each would re-import pandas, MLflow and Evidently), and the steps are sequential anyway.
"""

import dagster as dg

from creditrisk.constants import MONITORING_GROUP, RETRAINING_GROUP
from creditrisk_assets.partitions import WEEKS

weekly_drift_job = dg.define_asset_job(
    "weekly_drift_job", selection=dg.AssetSelection.groups(MONITORING_GROUP), partitions_def=WEEKS,
    executor_def=dg.in_process_executor,
    description="Materialize the week's requests, windows and drift report (with checks).")

retrain_job = dg.define_asset_job(
    "retrain_job", selection=dg.AssetSelection.groups(RETRAINING_GROUP), partitions_def=WEEKS,
    executor_def=dg.in_process_executor,
    description="Retrain a challenger and promote it only if it beats the champion. Started by drift_sensor.")
