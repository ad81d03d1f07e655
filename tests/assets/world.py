"""A small world for the asset graph (shared by its test modules): temp store and MLflow, a champion,
ten weeks of traffic.

Weeks are keyed by their Sunday. Traffic: 9 normal weeks (2026-06-01 .. 2026-08-02), then an
income shock from Monday 2026-08-03 (week 2026-08-09), then a quiet week with 50 requests.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster_gcp import BigQueryResource
from model_changes import changes_for, crown
from traffic import log_traffic

from creditrisk.applicants.data import COLUMNS
from creditrisk.applicants.synth import generate
from creditrisk.registry.client import Registry
from creditrisk.store.local import LocalRequestStore
from creditrisk.training.run import train_and_register
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource

HISTORY_START = datetime(2026, 6, 1, tzinfo=UTC)
NORMAL_WEEK, DRIFT_WEEK, QUIET_WEEK = "2026-08-02", "2026-08-09", "2026-08-16"
DRIFT_START = datetime(2026, 8, 3, tzinfo=UTC)
PER_WEEK = 500


def build_world(root: Path) -> dict:
    base_csv = root / "base.csv"
    generate(8_000, seed=7)[COLUMNS].to_csv(base_csv, index=False)
    changes = changes_for(f"sqlite:///{root / 'mlflow.db'}")
    registry = changes.registry
    from creditrisk.applicants.data import load_dataset

    raw, clean, _ = load_dataset(base_csv)
    champion = train_and_register(registry, raw, clean, run_name="bootstrap", source="test")
    crown(changes, champion.version)
    store = LocalRequestStore(root / "store")
    log_traffic(store, champion.model, champion.version, start=HISTORY_START, end=DRIFT_START,
                rows=9 * PER_WEEK, seed=1)
    log_traffic(store, champion.model, champion.version, start=DRIFT_START,
                end=DRIFT_START + timedelta(days=7), rows=PER_WEEK, seed=2, scenario="income_shock",
                drift_start=DRIFT_START)
    log_traffic(store, champion.model, champion.version, start=DRIFT_START + timedelta(days=7),
                end=DRIFT_START + timedelta(days=14), rows=50, seed=3, scenario="income_shock",
                drift_start=DRIFT_START)
    return {"root": root, "registry": registry, "store": store, "base_csv": base_csv, "champion": champion}


def resources_for(world: dict, **loop_overrides) -> dict:
    reg: Registry = world["registry"]
    loop = LoopConfig(reports_dir=str(Path(world["root"]) / "reports"), **loop_overrides)
    return {"store": StoreResource(store_dir=str(world["store"].root), bigquery=BigQueryResource()),
            "loop": loop, "registry": RegistryResource(tracking_uri=reg.tracking_uri)}
