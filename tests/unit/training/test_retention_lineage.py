"""What retention must keep for reproducibility: the training windows of versions that may still serve."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from creditrisk.registry.client import Registry
from creditrisk.store.retention import EPOCH
from creditrisk.training.lineage import referenced_windows, training_window

END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def _t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.mark.parametrize(("params", "window"), [
    ({"training_data.window": "..2026-03-01"}, (EPOCH, _t("2026-03-01"))),
    ({"training_data.window": "2025-01-06..2026-03-01"}, (_t("2025-01-06"), _t("2026-03-01"))),
    ({"training_data.window": "none"}, None),  # base data only: no production row referenced
    ({}, (EPOCH, END_OF_TIME)),  # no lineage recorded: what it read is unknown, so everything stays
])
def test_a_runs_training_window_is_read_from_its_lineage(params: dict[str, str],
                                                         window: tuple[datetime, datetime] | None) -> None:
    assert training_window(params) == window


def test_an_unreadable_window_is_an_error_not_a_deletion() -> None:
    with pytest.raises(ValueError, match="training_data.window"):
        training_window({"training_data.window": "last month"})


def test_only_versions_that_may_still_serve_keep_their_training_rows(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "artifacts"))
    ends = {"champion": "2026-01-05", "previous": "2025-11-03", "challenger": "2026-02-02",
            "candidate": "2026-02-09", "awaiting_approval": "2026-02-16", "retired": "2025-09-01",
            "rejected": "2026-02-23", "superseded": "2026-01-19"}
    for state, end in ends.items():
        run_id = registry.client.create_run(registry.experiment_id()).info.run_id
        registry.client.log_param(run_id, "training_data.window", f"..{end}")
        registry.register(f"runs:/{run_id}/model", run_id, {"state": state})
    bootstrap = registry.client.create_run(registry.experiment_id()).info.run_id
    registry.client.log_param(bootstrap, "training_data.window", "none")
    registry.register(f"runs:/{bootstrap}/model", bootstrap, {"state": "previous"})

    kept = {(k.end, k.why) for k in referenced_windows(registry)}
    assert kept == {(_t(end), f"training data of version {n} ({state}, window ..{end})")
                    for n, (state, end) in enumerate(ends.items(), start=1)
                    if state not in ("retired", "rejected", "superseded")}
    assert all(k.start == EPOCH for k in referenced_windows(registry))
