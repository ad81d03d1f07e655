"""The challenger: retrained on base data plus labelled production requests, registered in MLflow."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from creditrisk.constants import CHALLENGER_ALIAS, LABEL
from creditrisk.model import WEIGHT
from creditrisk.schema import FEATURES
from creditrisk.windows import week_windows
from creditrisk_assets import checks
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


@dg.asset(partitions_def=WEEKS, group_name="retraining", kinds={"xgboost", "mlflow"}, deps=["drift_report"],
          check_specs=[checks.QUALITY_FLOOR])
def candidate_model(context: dg.AssetExecutionContext, store: StoreResource, registry: RegistryResource,
                    loop: LoopConfig) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    """A retrained model, registered as a new version with alias `challenger`."""
    from creditrisk.training import train_and_register

    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    # Only rows older than the evaluation window: the last days are kept to judge this model.
    production = store.get_store().read_window(EPOCH, w.evaluation[0], labelled_only=True)
    base_raw, base = loop.base_data()
    raw, preprocessed = training_frames(base_raw, base, production, loop.production_weight)
    result = train_and_register(
        registry.get_registry(), raw, preprocessed, alias=CHALLENGER_ALIAS, run_name=f"retrain-{w.label}",
        source=f"base+production<{w.evaluation[0]:%Y-%m-%d}",
        tags={"week": w.label, "dagster_run_id": context.run.run_id}, progress=context.log.info)
    out = {"version": result.version, "run_id": result.run_id, "week": w.label, "week_key": w.key,
           "metrics": result.metrics, "production_rows": len(production), "base_rows": len(base)}
    metadata = {"mlflow_run_id": result.run_id, "model_version": result.version,
                "production_rows": len(production), "base_rows": len(base), "train_rows": result.rows["train"],
                **{f"holdout_{k}": float(v) for k, v in result.metrics.items()
                   if k in ("roc_auc", "accuracy", "brier", "recall_default", "pr_auc")}}
    yield dg.Output(out, metadata=metadata)
    yield checks.candidate_quality_floor(out, loop)
