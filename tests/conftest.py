"""Session-wide fixtures: the real data set when present, a temp MLflow registry, a trained model.

Heavy things (MLflow's first SQLite migration, training) happen once per session.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from model_changes import changes_for, crown, new_version, quiet_changes

REPO = Path(__file__).resolve().parents[1]
REAL_CSV = Path(os.environ.get("CREDITRISK_TEST_DATA",
                               REPO.parent / "shared" / "data" / "credit_risk_dataset.csv"))


@pytest.fixture(scope="session", autouse=True)
def _quiet_mlflow() -> Iterator[None]:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    yield


def real_csv_or_none() -> Path | None:
    """The real data set; None on a developer machine without it. Under CI=true it must be there:
    the README's real-data figures are asserted by tests, so a missing file fails, never skips."""
    if REAL_CSV.is_file():
        return REAL_CSV
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the real data set is missing at {REAL_CSV} under CI=true (set CREDITRISK_TEST_DATA)",
                    pytrace=False)
    return None


@pytest.fixture(scope="session")
def real_csv() -> Path:
    path = real_csv_or_none()
    if path is None:
        pytest.skip(f"real data set not present at {REAL_CSV} (set CREDITRISK_TEST_DATA; CI fails instead)")
    return path


@pytest.fixture(scope="session")
def base_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw, clean) base training data: the real file (required under CI), else 12k synthetic rows."""
    from creditrisk.applicants.data import load_base_data

    raw, clean, _ = load_base_data(real_csv_or_none(), rows=12_000)
    return raw, clean


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):  # -> creditrisk.registry.client.Registry
    d = tmp_path_factory.mktemp("mlflow")
    return changes_for(f"sqlite:///{d / 'mlflow.db'}").registry


@pytest.fixture(scope="session")
def changes(registry):  # -> creditrisk.registry.changes.ModelChanges
    return changes_for(registry.tracking_uri)


@pytest.fixture(scope="session")
def champion(changes, base_data):  # -> creditrisk.training.run.TrainingResult
    """Version 1, trained on the base data and made champion."""
    from creditrisk.training.run import train_and_register

    raw, clean = base_data
    result = train_and_register(changes.registry, raw, clean, run_name="test-bootstrap", source="test")
    crown(changes, result.version)
    return result


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(database, v1, v2): a SQLite registry where change control crowned v1 and v2 (tiny, valid) is
    registered only. Tests take copies (`model_changes.copy_registry`), so MLflow's first migration
    and the trainings are paid once."""
    from creditrisk.applicants.data import load_base_data

    raw, clean, _ = load_base_data(None, rows=2_000, seed=3)
    db = tmp_path_factory.mktemp("two-versions") / "mlflow.db"
    changes = quiet_changes(db)
    # Different rows: the same rows would train the same bytes, and the versions would share a digest.
    v1, v2 = new_version(changes, (raw, clean), "v1"), new_version(changes, (raw, clean.iloc[::2]), "v2")
    crown(changes, v1)
    return db, v1, v2
