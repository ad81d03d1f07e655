"""Store upkeep: the request store's daily compaction, one thin op around `RequestStore.compact`."""

from datetime import UTC, datetime

import dagster as dg

from creditrisk_assets.resources import StoreResource


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
