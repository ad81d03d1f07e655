"""The request store a serving replica writes to, chosen from the settings (one place).

Local: append-only Parquet under `store_dir` (safe with several replicas appending at once).
Production (`CREDITRISK_ENV=production`): BigQuery tables in CREDITRISK_BQ_PROJECT/DATASET, the
client created on first use with the pod's default credentials.
"""
from __future__ import annotations

from creditrisk.settings import Settings
from creditrisk.store.base import RequestStore
from creditrisk.store.local import LocalRequestStore


def make_store(settings: Settings, store_dir: str | None = None) -> RequestStore:
    if store_dir:
        return LocalRequestStore(store_dir)
    if not settings.is_production:
        return LocalRequestStore(settings.store_dir)
    if not settings.bq_project:
        raise ValueError("CREDITRISK_ENV=production needs CREDITRISK_BQ_PROJECT for the request store")
    from google.cloud import bigquery  # production only: keeps the local path light

    from creditrisk.store.bigquery import BigQueryRequestStore

    project = settings.bq_project
    return BigQueryRequestStore(lambda: bigquery.Client(project=project), project, settings.bq_dataset)
