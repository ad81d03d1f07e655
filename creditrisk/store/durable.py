"""Durable publishing of files: write a temp name, sync it, rename it into place, sync the folder.

Why each step: the rename makes a file appear whole or not at all to readers; syncing the data
before the rename keeps a crash from publishing a name whose bytes never reached the disk; syncing
the folder after it makes the new name itself survive a crash once the call has returned.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
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
    publish_parquets([(table, path)])


def publish_parquets(files: Sequence[tuple[pa.Table, Path]]) -> None:
    """Publish several files as one: all or none of them appear, unless the machine dies mid-way.

    Every file is written and synced under a temp name before the first rename, and a failure at
    any step removes what this call already published, so the caller's error means nothing is
    stored. Only a machine crash between the renames (microseconds) can leave part of them.
    """
    staged: list[Path] = []
    published: list[Path] = []
    try:
        for table, path in files:
            tmp = path.with_name(f".{path.name}.tmp")  # not `part-*`: readers never list it
            staged.append(tmp)
            with open(tmp, "wb") as sink:
                pq.write_table(table, sink)
                sink.flush()
                os.fsync(sink.fileno())
        for tmp, (_, path) in zip(staged, files, strict=True):
            os.replace(tmp, path)
            published.append(path)
        for folder in dict.fromkeys(path.parent for _, path in files):
            sync_dir(folder)
    except BaseException:
        for path in staged + published:
            path.unlink(missing_ok=True)
        raise


def replace_parquet(table: pa.Table, path: Path) -> None:
    """Put `table` in place of the file at `path` in one rename: readers see the old file or the new one.

    Unlike `publish_parquets`, a failure never removes `path`: it still holds the old rows.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as sink:
            pq.write_table(table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    sync_dir(path.parent)


def remove_file(path: Path, *, prune_folder: bool = False) -> None:
    """Remove `path` durably; with `prune_folder`, its folder too once empty (a writer may refill it)."""
    path.unlink()
    sync_dir(path.parent)
    if prune_folder:
        try:
            path.parent.rmdir()
        except OSError:  # not empty: a writer published a file there meanwhile, which stays
            return
        sync_dir(path.parent.parent)
