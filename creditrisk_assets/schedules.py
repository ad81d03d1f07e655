"""The schedules: every Monday, check the week that just ended; every night, compact the request store;
every month, delete what is past its retention."""

from datetime import UTC, datetime

import dagster as dg

from creditrisk.monitoring.windows import week_key_for
from creditrisk_assets.groups import COMPACTION_CRON, RETENTION_CRON
from creditrisk_assets.jobs import store_compaction_job, store_retention_job, weekly_drift_job
from creditrisk_assets.maintenance import CompactionConfig, RetentionConfig


@dg.schedule(job=weekly_drift_job, cron_schedule="0 2 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_drift_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Monday 02:00 UTC: requests, windows and drift report of the Monday-to-Sunday week just ended."""
    key = week_key_for(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"weekly-{key}", partition_key=key)


@dg.schedule(job=store_compaction_job, cron_schedule=COMPACTION_CRON, execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def store_compaction_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Daily 01:00 UTC: merge the request store's day folders before the tick's day (today stays open)."""
    # The tick's time, not the run's clock: a run started late (a queue, a backfill) compacts the same days.
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(
        run_key=f"compact-{tick:%Y-%m-%d}",
        run_config=dg.RunConfig(ops={"compact_request_store": CompactionConfig(before=tick.isoformat())}),
        tags={"creditrisk/compact_before": tick.isoformat()})


@dg.schedule(job=store_retention_job, cron_schedule=RETENTION_CRON, execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def store_retention_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """03:00 UTC on the 1st: delete the rows older than the retention before the tick."""
    # The tick's time, as for compaction: a late or repeated run counts back from the same moment.
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(
        run_key=f"retention-{tick:%Y-%m-%d}",
        run_config=dg.RunConfig(ops={"apply_retention": RetentionConfig(now=tick.isoformat())}),
        tags={"creditrisk/retention_now": tick.isoformat()})
