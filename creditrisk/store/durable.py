"""Durable publishing of files: write a temp name, sync it, rename it into place, sync the folder.

Why each step: the rename makes a file appear whole or not at all to readers; syncing the data
before the rename keeps a crash from publishing a name whose bytes never reached the disk; syncing
the folder after it makes the new name itself survive a crash once the call has returned.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def sync_dir(folder: Path) -> None:
    """Flush a folder's entries (names created, renamed or removed in it) to the disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(folder: Path) -> None:
    """Create `folder` and any missing parents, each recorded durably in the folder above it."""
    if folder.is_dir():
        return
    make_dirs(folder.parent)
    try:
        folder.mkdir()
    except FileExistsError:  # another process made it a moment ago; it synced it (or will)
        return
    sync_dir(folder.parent)


def publish_parquet(table: pa.Table, path: Path) -> None:
    """Write `table` to `path` so that readers and a machine crash see the whole file or none of it."""
    tmp = path.with_name(f".{path.name}.tmp")  # not `part-*`: readers never list it
    try:
        with open(tmp, "wb") as sink:
            pq.write_table(table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)
