"""The weekly monitoring report: Evidently drift (HTML + numbers), concept drift, the label-free estimate."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.applicants.schema import LABEL
from creditrisk.monitoring.episodes import change_of
from creditrisk.monitoring.exported import drift_figures
from creditrisk.monitoring.windows import week_windows
from creditrisk_assets.assets.sources import request_log
from creditrisk_assets.groups import MONITORING_GROUP
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LABELLED = ["ts", "model_version", "probability", LABEL, "reported_at"]


def drift_metadata(result: dict[str, Any], label: str) -> dict[str, Any]:
    """Metadata of one report: its plain values (floats plot across partitions) and the column table."""
    table = dg.MetadataValue.table(
        records=[dg.TableRecord({k: c[k] for k in ("column", "test", "score", "threshold", "drifted")})
                 for c in result["columns"]],
        schema=dg.TableSchema(columns=[dg.TableColumn("column", "string"), dg.TableColumn("test", "string"),
                                       dg.TableColumn("score", "float"), dg.TableColumn("threshold", "float"),
                                       dg.TableColumn("drifted", "bool")]))
    meta: dict[str, Any] = {k: v for k, v in result.items()
                            if isinstance(v, bool | int | float | str) and k not in ("html_path", "week_key")}
    meta.update(week=label, columns=table)
    if result.get("html_path"):
        meta["html_report"] = dg.MetadataValue.path(result["html_path"])
    for c in result["columns"]:
        meta[f"score/{c['column']}"] = float(c["score"])
    return meta


def previous_report(context: dg.AssetExecutionContext) -> dict[str, Any] | None:
    """Last week's report metadata (it carries the drift episode forward), from the event log."""
    key = (date.fromisoformat(context.partition_key) - timedelta(weeks=1)).isoformat()
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(dg.AssetKey("drift_report"), asset_partitions=[key]), limit=1)
    mat = found.records[0].asset_materialization if found.records else None
    return {k: v.value for k, v in mat.metadata.items()} if mat else None


@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"evidently"}, deps=[request_log])
def drift_report(context: dg.AssetExecutionContext, reference_window: pd.DataFrame,
                 current_window: pd.DataFrame, store: StoreResource, registry: RegistryResource,
                 loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """The week vs its reference (Evidently, model-aware rule), concept drift, the label-free estimate."""
    from creditrisk.monitoring.report import week_report  # Evidently and scipy load only when a report runs

    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    reg = registry.get_registry()
    champion = reg.load()  # the report is about the model that serves
    labelled = store.get_store().read_window(EPOCH, w.as_of, labelled_only=True, reported_before=w.as_of,
                                             columns=LABELLED)
    result = week_report(reference_window, current_window, labelled, champion.model, champion.version, w,
                         previous=previous_report(context), rule=loop.monitor_rule(),
                         html_path=loop.report_path(f"drift/{w.key}.html"),
                         champion_change=change_of(reg, champion.run_id))
    context.log.info(f"week {w.label}: {result['status']}, {result['n_drifted']}/{result['n_columns']} "
                     f"columns drifted, dataset_drift={result['dataset_drift']} (strong: "
                     f"{result['strong_columns'] or 'none'}); concept_drift={result['concept_drift']} "
                     f"({result['concept/reason']}); estimated AUC {result['estimate/auc']:.3f}")
    pushed = loop.push_figures("drift_report", drift_figures(result), {"week": w.label}, context.log)
    return dg.Output(result, metadata=drift_metadata(result, w.label) | pushed)
