"""The weekly schedule: every Monday, check the week that just ended."""

import dagster as dg

from creditrisk.windows import week_key_for
from creditrisk_assets.jobs import weekly_drift_job


@dg.schedule(job=weekly_drift_job, cron_schedule="0 2 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_drift_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Monday 02:00 UTC: requests, windows and drift report of the Monday-to-Sunday week just ended."""
    key = week_key_for(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"weekly-{key}", partition_key=key)
