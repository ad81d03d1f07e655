"""Loading a model for a report or a bootstrap leaves no temporary folder behind."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from model_changes import TINY, changes_for, crown

from creditrisk.training.run import train_and_register

LEAKY = ("creditrisk-model-*", "creditrisk-serving-*")


def temp_folders(root: Path) -> list[str]:
    return sorted(p.name for pattern in LEAKY for p in root.glob(pattern))


def test_a_bootstrap_and_the_weekly_reports_champion_load_leave_no_temp_folder(
        tmp_path: Path, base_data, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # a private temp dir: other runs share /tmp
    changes = changes_for(f"sqlite:///{tmp_path / 'mlflow.db'}")
    raw, clean = base_data
    version = train_and_register(changes.registry, raw, clean.head(2000), run_name="bootstrap",
                                 source="test", config=TINY).version
    crown(changes, version)  # as `creditrisk bootstrap` does
    after_bootstrap = temp_folders(temp)
    champion = changes.registry.load()  # as the weekly drift_report asset does
    assert champion.version == version and champion.model.threshold > 0  # loaded whole, into memory
    assert (after_bootstrap, temp_folders(temp)) == ([], [])
