"""The Dagster code location. Built when Dagster loads it (`@dg.definitions`), not at import."""

from collections.abc import Mapping

import dagster as dg

from creditrisk_assets import checks
from creditrisk_assets.assets.fairness import group_outcomes_weekly
from creditrisk_assets.assets.monitoring import drift_report
from creditrisk_assets.assets.promotion import champion_model
from creditrisk_assets.assets.requests import current_window, raw_requests, reference_window
from creditrisk_assets.assets.sources import base_training_data, request_log
from creditrisk_assets.assets.training import candidate_model
from creditrisk_assets.jobs import retrain_job, store_compaction_job, store_retention_job, weekly_drift_job
from creditrisk_assets.resources import build_resources
from creditrisk_assets.schedules import (
    store_compaction_schedule,
    store_retention_schedule,
    weekly_drift_schedule,
)
from creditrisk_assets.sensors import drift_sensor

ASSETS = [request_log, base_training_data, raw_requests, current_window, reference_window, drift_report,
          group_outcomes_weekly, candidate_model, champion_model]
CHECKS = [checks.realized_performance]  # the other checks are emitted by their assets (check_specs)


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensor and the resources for CREDITRISK_ENV in `environ`."""
    jobs = [weekly_drift_job, retrain_job, store_compaction_job, store_retention_job]
    schedules = [weekly_drift_schedule, store_compaction_schedule, store_retention_schedule]
    return dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=jobs, schedules=schedules,
                          sensors=[drift_sensor], resources=build_resources(environ))


@dg.definitions
def defs() -> dg.Definitions:
    """The code location Dagster loads (`workspace.yaml`), for the process environment."""
    return build_definitions()
