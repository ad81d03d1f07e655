"""The monthly retention job in-process: its schedule names the tick, its op deletes what the rule allows."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_gcp import BigQueryResource

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.registry.client import Registry
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from creditrisk_assets.definitions import build_definitions
from creditrisk_assets.groups import RETENTION_CRON, RETENTION_JOB
from creditrisk_assets.jobs import store_retention_job
from creditrisk_assets.maintenance import RetentionConfig
from creditrisk_assets.resources import RegistryResource, StoreResource
from creditrisk_assets.schedules import store_retention_schedule

TICK = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # 25 months back: 2024-03-01 00:00 UTC


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


TIMES = {"old": _t("2023-04-20T10:00"), "held": _t("2023-05-10T09:00"), "referenced": _t("2023-09-05T06:00"),
         "eve_of_cut": _t("2024-02-29T23:00"), "at_cut": _t("2024-03-01T00:00")}
IDS = {name: id_for(ts) for name, ts in TIMES.items()}  # ids carry a random part: made once


def _row(name: str) -> dict[str, Any]:
    return {"request_id": IDS[name], "ts": TIMES[name], **EXAMPLE_APPLICANT, "probability": 0.25,
            "prediction": 0, "decision": "pre-approved", "threshold": 0.4, "model_name": "credit-risk",
            "model_version": "1", "reasons": "[]", "latency_ms": 1.0}


def _version(registry: Registry, state: str, window: str) -> None:
    run_id = registry.client.create_run(registry.experiment_id()).info.run_id
    registry.client.log_param(run_id, "training_data.window", window)
    registry.register(f"runs:/{run_id}/model", run_id, {"state": state})


def test_the_schedule_passes_its_tick_and_is_registered() -> None:
    (run,) = store_retention_schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=TICK)).run_requests
    assert run.run_key == "retention-2026-04-01"
    assert run.run_config["ops"]["apply_retention"]["config"]["now"] == TICK.isoformat()
    defs = build_definitions()
    assert defs.resolve_job_def(RETENTION_JOB).name == RETENTION_JOB == "store_retention_job"
    schedule = defs.resolve_schedule_def("store_retention_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == (RETENTION_CRON, "UTC") == \
        ("0 3 1 * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_job_deletes_old_rows_but_keeps_holds_and_served_models_training_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITRISK_LEGAL_HOLDS", "FTC-7=2023-05-01..2023-05-31")
    monkeypatch.delenv("CREDITRISK_RETENTION_MONTHS", raising=False)
    store = LocalRequestStore(tmp_path / "store")
    for name in TIMES:
        store.append_requests([_row(name)])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = Registry(uri, artifact_location=str(tmp_path / "artifacts"))
    _version(registry, "champion", "2023-09-01..2023-09-15")
    _version(registry, "retired", "..2024-01-01")  # would keep every old row, but it no longer serves

    result = store_retention_job.execute_in_process(
        run_config=dg.RunConfig(ops={"apply_retention": RetentionConfig(now=TICK.isoformat())}),
        resources={"store": StoreResource(store_dir=str(store.root), bigquery=BigQueryResource()),
                   "registry": RegistryResource(tracking_uri=uri, home=str(tmp_path))})
    assert result.success
    left = set(store.read_window(_t("1970-01-01"), _t("2100-01-01"))["request_id"])
    assert left == {IDS[n] for n in ("held", "referenced", "at_cut")}
    (out,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = {k: v.value for k, v in out.event_specific_data.metadata.items()}
    assert (meta["cutoff"], meta["retention_months"]) == ("2024-03-01T00:00:00+00:00", 25)
    assert (meta["requests_deleted"], meta["outcomes_deleted"]) == (2, 0)
    assert meta["kept"] == [
        {"why": "legal hold FTC-7", "start": "2023-05-01T00:00:00+00:00", "end": "2023-06-01T00:00:00+00:00",
         "requests": 1},
        {"why": "training data of version 1 (champion, window 2023-09-01..2023-09-15)",
         "start": "2023-09-01T00:00:00+00:00", "end": "2023-09-15T00:00:00+00:00", "requests": 1}]
