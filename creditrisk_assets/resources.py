"""Resources: small interfaces, a local and a production implementation, chosen in one place.

`build_resources()` reads CREDITRISK_ENV once, when Dagster loads the code location (never at
import). Local: the embedded Parquet store and SQLite MLflow under CREDITRISK_HOME. Production:
BigQuery through dagster-gcp's `BigQueryResource` and a remote MLflow, every endpoint an
`EnvVar` resolved only when a run starts, so the definitions load without credentials.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from dagster_gcp import BigQueryResource

from creditrisk import constants as C
from creditrisk.registry import Registry
from creditrisk.settings import Settings, get_settings
from creditrisk.store.base import RequestStore


class StoreResource(dg.ConfigurableResource):
    """The request store, whichever backend."""

    def get_store(self) -> RequestStore:
        raise NotImplementedError


class LocalStoreResource(StoreResource):
    root: str

    def get_store(self) -> RequestStore:
        from creditrisk.store.local import LocalRequestStore

        return LocalRequestStore(self.root)


class BigQueryStoreResource(StoreResource):
    bigquery: BigQueryResource
    project: str
    dataset: str = "creditrisk"

    def get_store(self) -> RequestStore:
        from creditrisk.store.bigquery import BigQueryRequestStore

        return BigQueryRequestStore(self.bigquery.get_client, self.project, self.dataset)


class RegistryResource(dg.ConfigurableResource):
    """MLflow tracking + registry; `artifact_location` only for a local file store."""
    tracking_uri: str
    artifact_location: str | None = None

    def get_registry(self) -> Registry:
        return Registry(self.tracking_uri, artifact_location=self.artifact_location)


class LoopConfig(dg.ConfigurableResource):
    """The loop's knobs (defaults from creditrisk.constants), editable per deployment."""
    reference_weeks: int = C.REFERENCE_WEEKS
    min_weekly_requests: int = C.MIN_WEEKLY_REQUESTS
    drift_share: float = C.DRIFT_SHARE
    max_null_rate: float = C.MAX_NULL_RATE
    evaluation_days: int = C.EVALUATION_DAYS
    min_evaluation_rows: int = C.MIN_EVALUATION_ROWS
    min_auc_gain: float = C.MIN_AUC_GAIN
    min_realized_auc: float = C.MIN_REALIZED_AUC
    min_candidate_auc: float = C.QUALITY_FLOOR["roc_auc"]
    max_candidate_brier: float = C.QUALITY_FLOOR["brier"]
    performance_weeks: int = 4
    base_data_path: str | None = None  # CSV of the base training data; None = synthetic
    production_weight: float = 3.0  # weight of a labelled production row vs a base row in retraining
    reports_dir: str = ".creditrisk/reports"
    alert_webhook_url: str | None = None

    def base_data(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        from creditrisk.data import load_base_data

        raw, clean, _ = load_base_data(self.base_data_path)
        return raw, clean

    def report_path(self, name: str) -> Path:
        path = Path(self.reports_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def build_resources(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The one place that picks implementations, from CREDITRISK_ENV (`local` or `production`)."""
    settings = get_settings(environ)
    if settings.is_production:
        return {
            "store": BigQueryStoreResource(bigquery=BigQueryResource(project=dg.EnvVar("CREDITRISK_BQ_PROJECT")),
                                           project=dg.EnvVar("CREDITRISK_BQ_PROJECT"), dataset=settings.bq_dataset),
            "registry": RegistryResource(tracking_uri=dg.EnvVar("CREDITRISK_MLFLOW_URI")),
            "loop": _loop(settings),
        }
    settings.ensure_dirs()
    return {
        "store": LocalStoreResource(root=str(settings.store_dir)),
        "registry": RegistryResource(tracking_uri=settings.mlflow_uri,
                                     artifact_location=settings.artifact_root.as_uri()),
        "loop": _loop(settings),
    }


def _loop(settings: Settings) -> LoopConfig:
    # Optional values: an unset EnvVar would fail every run, so they are taken when the code loads.
    return LoopConfig(base_data_path=settings.base_data, reports_dir=str(settings.reports_dir),
                      alert_webhook_url=settings.alert_webhook)
