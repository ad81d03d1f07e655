"""Store upkeep: the daily compaction and the monthly retention, thin ops around the store's methods."""

from datetime import UTC, datetime

import dagster as dg

from creditrisk.settings import get_settings
from creditrisk.store.retention import hold_ranges, plan_retention
from creditrisk.training.lineage import referenced_windows
from creditrisk_assets.resources import RegistryResource, StoreResource


class CompactionConfig(dg.Config):
    """Up to when to compact: the schedule passes its tick's time; empty means the run's start."""

    before: str = ""  # ISO 8601; the day folders strictly before its UTC day are merged


@dg.op(description="Merge each finished day of the request store into one file (local store; BigQuery "
                   "manages its own storage). Corrupt files are quarantined, not merged.")
def compact_request_store(context: dg.OpExecutionContext, config: CompactionConfig,
                          store: StoreResource) -> dg.Output[int]:
    """Files removed by compacting the days before `config.before`, with the folders as metadata."""
    before = datetime.fromisoformat(config.before) if config.before else datetime.now(UTC)
    merged: dict[str, int] = {}

    def on_day(folder: str, removed: int) -> None:
        merged[folder] = removed
        context.log.info(f"compacted {folder}: {removed} files merged into one")

    target = store.get_store()
    try:
        removed = target.compact(before, on_day=on_day)
    finally:
        target.close()
    context.log.info(f"{target!r}: {removed} files removed in {len(merged)} day folders "
                     f"before {before:%Y-%m-%d}")
    return dg.Output(removed, metadata={
        "files_removed": removed, "days_compacted": len(merged), "before": before.isoformat(),
        "store": repr(target), "folders": dg.MetadataValue.json(merged)})


class RetentionConfig(dg.Config):
    """When the retention run counts back from: the schedule passes its tick's time; empty means now."""

    now: str = ""  # ISO 8601; rows older than CREDITRISK_RETENTION_MONTHS before it may go


@dg.op(description="Delete request rows and outcomes older than CREDITRISK_RETENTION_MONTHS (default 25, "
                   "12 CFR 1002.12(b)), except under a legal hold (CREDITRISK_LEGAL_HOLDS) or in the "
                   "training data of a version that may still serve.")
def apply_retention(context: dg.OpExecutionContext, config: RetentionConfig, store: StoreResource,
                    registry: RegistryResource) -> dg.Output[dict[str, int]]:
    """Rows deleted, with the cut-off and each keep range (and the requests it kept) as metadata."""
    settings = get_settings()  # read when the run starts: a changed hold applies to the next run
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    plan = plan_retention(now, months=settings.retention_months, holds=hold_ranges(settings.legal_holds),
                          referenced=referenced_windows(registry.get_registry()))
    target = store.get_store()
    try:
        deleted = target.delete_before(plan.cutoff, plan.ranges())
        kept = [{"why": k.why, "start": k.start.isoformat(), "end": k.end.isoformat(),
                 "requests": target.count(k.start, k.end)} for k in plan.keep]
        older_left = target.count(None, plan.cutoff)
    finally:
        target.close()
    for k in kept:
        context.log.info(f"kept {k['requests']} requests from {k['start']} to {k['end']}: {k['why']}")
    context.log.info(f"{target!r}: deleted {deleted.requests} requests and {deleted.outcomes} outcomes "
                     f"before {plan.cutoff:%Y-%m-%d}; {older_left} older requests kept")
    return dg.Output({"requests": deleted.requests, "outcomes": deleted.outcomes}, metadata={
        "cutoff": plan.cutoff.isoformat(), "retention_months": settings.retention_months,
        "requests_deleted": deleted.requests, "outcomes_deleted": deleted.outcomes,
        "requests_kept_before_cutoff": older_left, "store": repr(target),
        "kept": dg.MetadataValue.json(kept)})
