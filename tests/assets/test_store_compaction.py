"""The nightly compaction in-process: its schedule names the tick's day, its job merges the days before it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_gcp import BigQueryResource

from creditrisk.applicants.schema import EXAMPLE_APPLICANT
from creditrisk.store.local import LocalRequestStore
from creditrisk.store.request_ids import id_for
from creditrisk_assets.definitions import build_definitions
from creditrisk_assets.groups import COMPACTION_CRON, COMPACTION_JOB
from creditrisk_assets.jobs import store_compaction_job
from creditrisk_assets.maintenance import CompactionConfig
from creditrisk_assets.resources import StoreResource
from creditrisk_assets.schedules import store_compaction_schedule

TICK = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # 01:00 UTC on Thursday 2026-03-05
PAST = [TICK - timedelta(days=d, hours=3) for d in (3, 2, 1)]  # 03-01 22:00, 03-02 22:00, 03-03 22:00


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("part-*.parquet"))


def _row(ts: datetime) -> dict[str, Any]:
    return {"request_id": id_for(ts), "ts": ts, **EXAMPLE_APPLICANT, "probability": 0.25, "prediction": 0,
            "decision": "pre-approved", "threshold": 0.4, "model_name": "credit-risk", "model_version": "1",
            "reasons": "[]", "latency_ms": 1.0}


def _tiny_store(root: Path) -> LocalRequestStore:
    """Three finished days and today, each written in three appends (as serving flushes)."""
    store = LocalRequestStore(root)
    for day in [*PAST, TICK]:
        for i in range(3):
            store.append_requests([_row(day + timedelta(minutes=10 * i))])
    return store


def test_the_schedule_passes_its_tick_and_is_registered() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=TICK)
    (run,) = store_compaction_schedule.evaluate_tick(context).run_requests
    assert run.run_key == "compact-2026-03-05"
    assert run.run_config["ops"]["compact_request_store"]["config"]["before"] == TICK.isoformat()
    defs = build_definitions()
    assert defs.resolve_job_def(COMPACTION_JOB).name == COMPACTION_JOB
    schedule = defs.resolve_schedule_def("store_compaction_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == (COMPACTION_CRON, "UTC") == \
        ("0 1 * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_job_leaves_one_file_per_finished_day_and_today_untouched(tmp_path: Path) -> None:
    store = _tiny_store(tmp_path / "store")
    folders = {day: store.root / "requests" / f"date={day:%Y-%m-%d}" for day in [*PAST, TICK]}
    today = _parts(folders[TICK])
    before = store.read_window(PAST[0], TICK + timedelta(days=1))
    assert before["request_id"].nunique() == 12 and all(len(_parts(f)) == 3 for f in folders.values())

    result = store_compaction_job.execute_in_process(
        run_config=dg.RunConfig(ops={"compact_request_store": CompactionConfig(before=TICK.isoformat())}),
        resources={"store": StoreResource(store_dir=str(store.root), bigquery=BigQueryResource())})
    assert result.success
    assert result.output_for_node("compact_request_store") == 9
    for day in PAST:
        assert len(_parts(folders[day])) == 1, f"{day:%Y-%m-%d} not merged into one file"
    assert _parts(folders[TICK]) == today  # the tick's day is still being written: never touched
    assert store.read_window(PAST[0], TICK + timedelta(days=1)).equals(before)
    (mat,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = {k: v.value for k, v in mat.event_specific_data.metadata.items()}
    assert (meta["files_removed"], meta["days_compacted"], meta["before"]) == (9, 3, TICK.isoformat())
    assert meta["folders"] == {f"requests/date={day:%Y-%m-%d}": 3 for day in PAST}

