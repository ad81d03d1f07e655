"""Windows of logged requests: the evaluated week and its 3-month reference."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from creditrisk.applicants.schema import FEATURES, LABEL
from creditrisk.monitoring.episodes import champion_change, reference_range
from creditrisk.monitoring.windows import week_windows
from creditrisk_assets import checks
from creditrisk_assets.assets.sources import base_training_data, request_log
from creditrisk_assets.groups import MONITORING_GROUP
from creditrisk_assets.partitions import WEEKS
from creditrisk_assets.resources import LoopConfig, RegistryResource, StoreResource


def _time_range(df: pd.DataFrame) -> str:
    return f"{df['ts'].min()} .. {df['ts'].max()}" if len(df) else "empty"


@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"pandas"}, deps=[request_log])
def raw_requests(context: dg.AssetExecutionContext, store: StoreResource,
                 loop: LoopConfig) -> dg.Output[pd.DataFrame]:
    """The week's logged applications, with outcomes joined where known."""
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    df = store.get_store().read_window(*w.current)
    labelled = int(df["loan_status"].notna().sum())
    return dg.Output(df, metadata={"week": w.label, "row_count": len(df), "labelled_count": labelled,
                                   "time_range": _time_range(df), "window_start": str(w.current[0]),
                                   "window_end": str(w.current[1])})


@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"pandas"},
          check_specs=[checks.VOLUME_GATE, checks.DATA_QUALITY])
def current_window(context: dg.AssetExecutionContext, raw_requests: pd.DataFrame,
                   loop: LoopConfig) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """The evaluated week's applicant features (what the drift report compares)."""
    df = raw_requests[FEATURES + [LABEL]].reset_index(drop=True)
    yield dg.Output(df, metadata={"row_count": len(df), "labelled_count": int(df[LABEL].notna().sum())})
    week = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days).label
    yield from checks.week_checks(df, loop, week)


# It reads the request log for the configured `reference_weeks`, not 13 `raw_requests` partitions:
# those exist only for weeks the job has run, and the log is the record either way.
@dg.asset(partitions_def=WEEKS, group_name=MONITORING_GROUP, kinds={"pandas"},
          deps=[request_log, base_training_data])
def reference_window(context: dg.AssetExecutionContext, store: StoreResource, registry: RegistryResource,
                     loop: LoopConfig) -> dg.Output[pd.DataFrame]:
    """The weeks before the evaluated one (13 by default), none before the change the champion was
    retrained for (creditrisk.monitoring.episodes); the base training data if too few and no such change."""
    w = week_windows(context.partition_key, loop.reference_weeks, loop.evaluation_days)
    version, change = champion_change(registry.get_registry())
    start, end = reference_range(w, change)
    df = store.get_store().read_window(start, end, columns=FEATURES + [LABEL])
    source = f"requests {start:%Y-%m-%d} .. {end:%Y-%m-%d}" + (
        f" (since the change champion v{version} was retrained for)" if change else "")
    if change is None and len(df) < loop.min_weekly_requests * loop.reference_weeks // 4:
        # Before a quarter of the reference period has traffic, the model's own training data is
        # the only sound reference (a new deployment, or a store that was just moved).
        _, base = loop.base_data()
        df, source = base[FEATURES + [LABEL]], f"base training data ({len(df)} logged requests were too few)"
    df = df.reset_index(drop=True)
    return dg.Output(df, metadata={"row_count": len(df), "source": source, "weeks": loop.reference_weeks,
                                   "change_start": change.isoformat() if change else ""})
