"""Jobs: the weekly drift check and the drift-triggered retraining."""

import dagster as dg

from creditrisk_assets.partitions import WEEKS

weekly_drift_job = dg.define_asset_job(
    "weekly_drift_job", selection=dg.AssetSelection.assets("raw_requests", "current_window", "reference_window",
                                                           "drift_report"),
    partitions_def=WEEKS, description="Materialize the week's requests, windows and drift report (with checks).")

retrain_job = dg.define_asset_job(
    "retrain_job", selection=dg.AssetSelection.assets("candidate_model", "champion_model"), partitions_def=WEEKS,
    description="Retrain a challenger and promote it only if it beats the champion. Started by drift_sensor.")
