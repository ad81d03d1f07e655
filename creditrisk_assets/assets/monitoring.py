"""The weekly Evidently drift report: current week vs reference, as HTML and as plottable numbers."""

from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.constants import MONITORING_GROUP
from creditrisk.schema import FEATURES
from creditrisk.windows import week_windows
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig


def drift_metadata(result: dict[str, Any], label: str) -> dict[str, Any]:
    """Metadata of one report; floats so the UI can plot them across partitions."""
    table = dg.MetadataValue.table(
        records=[dg.TableRecord({k: c[k] for k in ("column", "test", "score", "threshold", "drifted")})
                 for c in result["columns"]],
        schema=dg.TableSchema(columns=[dg.TableColumn("column", "string"), dg.TableColumn("test", "string"),
                                       dg.TableColumn("score", "float"), dg.TableColumn("threshold", "float"),
                                       dg.TableColumn("drifted", "bool")]))
    meta: dict[str, Any] = {
        "week": label, "status": result["status"], "dataset_drift": bool(result["dataset_drift"]),
        "drift_share": float(result["drift_share"]), "n_drifted": int(result["n_drifted"]),
        "n_columns": int(result["n_columns"]), "reference_rows": int(result["reference_rows"]),
        "current_rows": int(result["current_rows"]), "columns": table,
    }
    if result.get("html_path"):
        meta["html_report"] = dg.MetadataValue.path(result["html_path"])
    for c in result["columns"]:
        meta[f"score/{c['column']}"] = float(c["score"])
    return meta


@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"evidently"})
def drift_report(context: dg.AssetExecutionContext, reference_window: pd.DataFrame,
                 current_window: pd.DataFrame, loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """Evidently DataDriftPreset of the current week against the reference window."""
    from creditrisk.drift import compute_drift  # imports Evidently (~6 s): only when a report runs

    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    result = compute_drift(reference_window[FEATURES], current_window[FEATURES], columns=FEATURES,
                           drift_share=loop.drift_share, min_rows=loop.min_weekly_requests,
                           html_path=loop.report_path(f"drift/{w.key}.html")).to_dict()
    result.update(week=w.label, week_key=w.key)
    context.log.info(f"week {w.label}: {result['status']}, {result['n_drifted']}/{result['n_columns']} "
                     f"columns drifted, dataset_drift={result['dataset_drift']}")
    return dg.Output(result, metadata=drift_metadata(result, w.label))
