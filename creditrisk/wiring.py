"""The one place that picks local or production parts (request store, registry and its lock, alerts)
and composes them (change control issues the model card after each decision).

`CREDITRISK_ENV=local` (the default): append-only Parquet under `$CREDITRISK_HOME/requests`, MLflow
on SQLite with a file artifact root. `production`: BigQuery tables in `CREDITRISK_BQ_PROJECT` /
`CREDITRISK_BQ_DATASET` and the MLflow server at `CREDITRISK_MLFLOW_URI`. Dagster's resources, the
Serve replicas, the CLI and the demo all get their parts here; none of them chooses for itself.
Nothing is opened until a part is first used.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from creditrisk.alerts import Alerter
from creditrisk.model_card.card import issue_quietly
from creditrisk.registry.changes import ModelChanges
from creditrisk.registry.client import Registry
from creditrisk.registry.locks import file_lock, lock_key, postgres_lock
from creditrisk.registry.policy import ChangePolicy
from creditrisk.settings import Settings, redact
from creditrisk.store.base import RequestStore

if TYPE_CHECKING:
    from creditrisk.store.bigquery_client import ClientSource

LOCAL_STORE, BIGQUERY_STORE = "local-parquet", "bigquery"


def store_backend(settings: Settings) -> str:
    """Name of the request-store backend these settings select (shown by `/readyz` and the CLI)."""
    return BIGQUERY_STORE if settings.is_production else LOCAL_STORE


def make_store(settings: Settings, bigquery_client: ClientSource | None = None) -> RequestStore:
    """The request store; `bigquery_client` lets Dagster pass dagster-gcp's client in production."""
    if store_backend(settings) == LOCAL_STORE:
        from creditrisk.store.local import LocalRequestStore

        return LocalRequestStore(settings.store_dir)
    if not settings.bq_project:
        raise ValueError("CREDITRISK_ENV=production needs CREDITRISK_BQ_PROJECT for the request store")
    from creditrisk.store.bigquery import BigQueryRequestStore

    if settings.bq_emulator:  # an emulator accepts no credentials, and Google's default ones need a network
        bigquery_client = _emulator_client(settings.bq_project, settings.bq_emulator)
    elif bigquery_client is None:
        from google.cloud import bigquery  # production only: keeps the local path light

        project = settings.bq_project
        bigquery_client = lambda: bigquery.Client(project=project)  # noqa: E731 - resolved on first use
    return BigQueryRequestStore(bigquery_client, settings.bq_project, settings.bq_dataset)


def _emulator_client(project: str, endpoint: str) -> ClientSource:
    def make():  # -> bigquery.Client
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                               client_options={"api_endpoint": endpoint})
    return make


def _sqlite_dir(settings: Settings) -> Path | None:
    uri = urlparse(settings.mlflow_uri)
    return Path(uri.path[1:]).parent if uri.scheme == "sqlite" else None  # sqlite:////abs or ///relative


def make_registry(settings: Settings) -> Registry:
    """The MLflow registry at `settings.mlflow_uri`; a SQLite one keeps its artifacts beside the db."""
    folder = _sqlite_dir(settings)
    if folder is None:  # a tracking server keeps its own artifact root
        return Registry(settings.mlflow_uri)
    folder.mkdir(parents=True, exist_ok=True)
    return Registry(settings.mlflow_uri, artifact_location=(folder / "artifacts").resolve().as_uri())


def make_changes(settings: Settings) -> ModelChanges:
    """Model change control on the registry, with the lock every move takes and the deployment's
    change policy (`ChangePolicy.from_settings`: the environment's, never a caller's).

    With CREDITRISK_LOCK_URI (postgresql://...) a Postgres advisory lock, shared by every process
    that reaches that database: production's promoters are different pods. Without it, locally, a
    file lock beside the SQLite registry (or under CREDITRISK_HOME for a registry server), which
    serializes every process on this machine; in production without it, moves refuse (fail
    closed) rather than race.
    """
    registry, policy = make_registry(settings), ChangePolicy.from_settings(settings)
    if settings.lock_uri:
        if urlparse(settings.lock_uri).scheme not in ("postgresql", "postgres"):
            raise ValueError("CREDITRISK_LOCK_URI must be a postgresql:// URI, got "
                             f"{redact(settings.lock_uri)!r}")
        dsn, key = settings.lock_uri, lock_key(registry.model_name)
        return ModelChanges(registry, lambda: postgres_lock(dsn, key), policy, on_decided=issue_quietly)
    if settings.is_production:
        raise ValueError("CREDITRISK_ENV=production needs CREDITRISK_LOCK_URI (a postgresql:// URI) for "
                         "the registry lock: without a lock shared by every pod, model moves refuse "
                         "rather than race")
    lock_file = (_sqlite_dir(settings) or settings.home) / "registry.lock"
    return ModelChanges(registry, lambda: file_lock(lock_file), policy, on_decided=issue_quietly)


def make_alerter(settings: Settings) -> Alerter:
    """Alerts go to the log, and to `CREDITRISK_ALERT_WEBHOOK` when it is set."""
    return Alerter(settings.alert_webhook)
