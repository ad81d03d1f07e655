"""Outcomes by group on the week's production requests, as metadata Dagster plots across weeks."""

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from creditrisk.applicants.schema import LABEL
from creditrisk.model.fairness import FOUR_FIFTHS, GroupRow, group_outcomes
from creditrisk.monitoring.windows import week_windows
from creditrisk_assets.groups import MONITORING_GROUP
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig

LABELLED_FIGURES = ("observed_default_rate", "predicted_default_rate", "recall_default", "precision_default")


def group_metadata(rows: list[GroupRow], applicants: str, labelled: str) -> dict[str, Any]:
    """Floats named `<figure>/<attribute> <group>` (one plot each across partitions), and the table."""
    columns = ["attribute", "group", "rows", "approval_rate", "impact_ratio", "four_fifths_warning",
               "labelled_rows", *LABELLED_FIGURES]
    types = {"attribute": "string", "group": "string", "four_fifths_warning": "bool", "rows": "int",
             "labelled_rows": "int"}
    records = [dg.TableRecord({c: (None if isinstance(v, float) and not np.isfinite(v) else v)
                               for c, v in r.as_dict().items() if c in columns}) for r in rows]
    meta: dict[str, Any] = {
        "applicants": applicants, "labelled_population": labelled,
        "four_fifths_warnings": ", ".join(f"{r.attribute} {r.group} ({r.impact_ratio:.2f})"
                                          for r in rows if r.four_fifths_warning) or "none",
        "groups": dg.MetadataValue.table(records, schema=dg.TableSchema(
            columns=[dg.TableColumn(c, types.get(c, "float")) for c in columns]))}
    for r in rows:
        name = f"{r.attribute} {r.group}"
        meta[f"approval_rate/{name}"] = r.approval_rate
        meta[f"impact_ratio/{name}"] = r.impact_ratio
        meta |= {f"{f}/{name}": float(getattr(r, f)) for f in LABELLED_FIGURES if np.isfinite(getattr(r, f))}
    return meta


@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"pandas"})
def group_outcomes_weekly(context: dg.AssetExecutionContext, raw_requests: pd.DataFrame,
                          loop: LoopConfig) -> dg.Output[dict[str, Any]]:
    """Approval rate and its ratio to the most approved group on every request of the week (four-fifths
    rule: a warning); calibration, default recall and precision on the week's labelled requests."""
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    df = raw_requests.reset_index(drop=True)
    y = pd.to_numeric(df[LABEL], errors="coerce").to_numpy(dtype=float)
    rows = group_outcomes(df, df["prediction"].fillna(0).to_numpy(dtype=int) == 1,
                          df["probability"].to_numpy(dtype=float), y) if len(df) else []
    labelled = int((~np.isnan(y)).sum())
    applicants = f"every request of week {w.label} ({len(df)}), as it was decided"
    population = (f"requests of week {w.label} whose outcome was reported when this ran ({labelled} of "
                  f"{len(df)}): outcome-based figures describe them only")
    warned = [f"{r.attribute} {r.group}" for r in rows if r.four_fifths_warning]
    if warned:
        context.log.warning(f"week {w.label}: approved at < {FOUR_FIFTHS} of the most approved group's rate: "
                            + ", ".join(warned))
    return dg.Output({"week": w.label, "groups": [r.as_dict() for r in rows]},
                     metadata={"week": w.label, **group_metadata(rows, applicants, population)})
