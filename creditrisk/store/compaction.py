"""Compaction of the local store: the many small files of one finished day merged into one; and
the rewrite of a day that retention deletes rows from.

Serving writes a file per flush, so a day holds hundreds; each costs a footer read on every query.
Merging is safe beside readers and writers: the merged file is published (durably) before the
parts it replaces are removed, a reader seeing both collapses the duplicates, and a file a writer
adds meanwhile is not among the parts, so it stays. A retention rewrite first merges the day, then
replaces its one file by the rows that stay in a single rename, so no reader sees a day half deleted.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from creditrisk.store.durable import publish_parquet, remove_file, replace_parquet, sync_dir
from creditrisk.store.quarantine import UNREADABLE, Quarantine


def first_per_request(table: pa.Table) -> pa.Table:
    """The first row by ts of each request id (what every read returns), ordered by ts."""
    keys = table.select(["request_id", "ts"]).to_pandas()
    keep = keys.sort_values("ts", kind="stable").drop_duplicates("request_id").index
    return table.take(pa.array(keep.to_numpy()))


def merge_day(folder: Path, name: str, quarantine: Quarantine, *, dedupe: bool) -> int:
    """Merge `folder`'s part files into one named `name`; returns how many parts it removed.

    An unreadable part is quarantined, not merged; `dedupe` keeps one row per request id.
    """
    parts = sorted(folder.glob("part-*.parquet"))
    if len(parts) < 2:
        return 0
    tables, merged = [], []
    for part in parts:
        try:
            # A single file (ParquetFile), not a dataset: `date=` in the path would become a column.
            tables.append(pq.ParquetFile(part).read())
        except FileNotFoundError:  # merged away by another compaction a moment ago
            continue
        except UNREADABLE as exc:
            quarantine.move(part, f"{type(exc).__name__}: {exc}\ncompaction could not read it")
            continue
        merged.append(part)
    if len(merged) < 2:
        return 0
    table = pa.concat_tables(tables, promote_options="default")
    publish_parquet(first_per_request(table) if dedupe else table, folder / name)
    for part in merged:
        part.unlink(missing_ok=True)
    sync_dir(folder)  # the removals too survive a crash (else only harmless duplicates would)
    return len(merged)


def _read_parts(folder: Path, quarantine: Quarantine) -> pa.Table | None:
    """Every readable part of `folder` as one table (unreadable ones quarantined); None if none."""
    tables = []
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            tables.append(pq.ParquetFile(part).read())
        except FileNotFoundError:
            continue
        except UNREADABLE as exc:
            quarantine.move(part, f"{type(exc).__name__}: {exc}\nretention could not read it")
    return pa.concat_tables(tables, promote_options="default") if tables else None


def drop_rows(folder: Path, name: str, quarantine: Quarantine, doomed: Callable[[pa.Table], np.ndarray], *,
              dedupe: bool) -> int:
    """Remove the rows `doomed` marks from the day `folder`; returns how many went.

    The day is merged into one file first (named `name`), then that file is replaced by the rows that
    stay, or removed with the folder when none does: each step leaves every row readable once.
    """
    table = _read_parts(folder, quarantine)
    if table is None or not doomed(table).any():
        return 0
    merge_day(folder, name, quarantine, dedupe=dedupe)
    parts = sorted(folder.glob("part-*.parquet"))
    if len(parts) != 1:  # a writer added a part meanwhile: leave the day whole for the next run
        raise OSError(f"{folder} changed while it was being rewritten ({len(parts)} parts)")
    table = pq.ParquetFile(parts[0]).read()
    mask = doomed(table)
    kept = table.filter(pa.array(~mask))
    if kept.num_rows:
        replace_parquet(kept, parts[0])
    else:
        remove_file(parts[0], prune_folder=True)
    return int(mask.sum())
