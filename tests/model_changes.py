"""Test helpers for registries: change control built as the product builds it, and crowning a version."""
from __future__ import annotations

from pathlib import Path

from creditrisk import wiring
from creditrisk.changes import ModelChanges
from creditrisk.settings import get_settings


def changes_for(tracking_uri: str, lock_uri: str | None = None) -> ModelChanges:
    """Change control on a registry, from the settings as in production (lock beside a SQLite db, or
    the Postgres advisory lock of `lock_uri`)."""
    env = {"CREDITRISK_MLFLOW_URI": tracking_uri, **({"CREDITRISK_LOCK_URI": lock_uri} if lock_uri else {})}
    return wiring.make_changes(get_settings(env))


def crown(changes: ModelChanges, version: str, reason: str = "test bootstrap") -> None:
    """Make a freshly registered `version` the champion, as `creditrisk bootstrap` does."""
    changes.bootstrap(version, actor="tests", reason=reason, forced=changes.champion() is not None)


def artifact_folder(changes: ModelChanges, version: str) -> Path:
    """Where a version's model files live in a local artifact store (to damage them in tests)."""
    uri = changes.registry.client.get_model_version_download_uri(changes.registry.model_name, version)
    return Path(uri.removeprefix("file://")) / "artifacts" / "credit_model"
