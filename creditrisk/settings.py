"""Runtime settings: every environment variable the product reads, read here and only when asked.

Nothing is read or created at import time; call :func:`get_settings` where a value is needed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VARS: dict[str, str] = {
    "CREDITRISK_HOME": "Folder for all runtime state (MLflow db and artifacts, Dagster home, request "
    "store, reports). Default: ./.creditrisk",
    "CREDITRISK_ENV": "`local` (embedded stores, default) or `production` (BigQuery, remote MLflow).",
    "CREDITRISK_MLFLOW_URI": "MLflow tracking/registry URI. Default: sqlite:///$CREDITRISK_HOME/mlflow/mlflow.db",
    "CREDITRISK_BQ_PROJECT": "Production: GCP project of the request store.",
    "CREDITRISK_BQ_DATASET": "Production: BigQuery dataset of the request store. Default: creditrisk",
    "CREDITRISK_DATA": "Optional CSV of the credit-risk schema used as base training data (default: synthetic).",
    "CREDITRISK_ALERT_WEBHOOK": "Optional URL that receives performance alerts as JSON POSTs.",
    "CREDITRISK_REPORTS_DIR": "Where Evidently HTML reports are written. Default: $CREDITRISK_HOME/reports",
    "CREDITRISK_OUTCOMES_TOKEN": "Bearer token required by POST /outcomes.",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str
    mlflow_uri: str
    bq_project: str | None
    bq_dataset: str
    base_data: str | None = None
    alert_webhook: str | None = None
    reports_override: Path | None = None

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def store_dir(self) -> Path:
        return self.home / "requests"

    @property
    def reports_dir(self) -> Path:
        return self.reports_override or self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def ensure_dirs(self) -> None:
        """Create the local runtime folders (called by entry points, never on import)."""
        for d in (self.home, self.mlflow_dir, self.artifact_root, self.store_dir, self.reports_dir,
                  self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("CREDITRISK_HOME") or ".creditrisk").expanduser().resolve()
    mode = (env.get("CREDITRISK_ENV") or "local").strip().lower()
    if mode not in ("local", "production"):
        raise ValueError(f"CREDITRISK_ENV must be 'local' or 'production', got {mode!r}")
    default_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    return Settings(
        home=home,
        env=mode,
        mlflow_uri=env.get("CREDITRISK_MLFLOW_URI") or default_uri,
        bq_project=env.get("CREDITRISK_BQ_PROJECT") or None,
        bq_dataset=env.get("CREDITRISK_BQ_DATASET") or "creditrisk",
        base_data=env.get("CREDITRISK_DATA") or None,
        alert_webhook=env.get("CREDITRISK_ALERT_WEBHOOK") or None,
        reports_override=Path(env["CREDITRISK_REPORTS_DIR"]) if env.get("CREDITRISK_REPORTS_DIR") else None,
    )
