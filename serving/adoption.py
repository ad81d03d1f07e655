"""Adoption of dead owners' write-ahead segments, from every node's folder under the shared root.

A live replica's shipper calls `adopt` on each pass: any owner folder whose lock can be taken
belongs to a process that is gone, wherever it ran, and its segments are renamed into the
adopter's folder (atomic on one file system), then shipped as the adopter's own. Two adopters
never share a folder: the one holding the dead owner's lock moves its segments, and a lock taken on
a name that no longer leads to the file (removed by the adopter before) is let go
(`serving.flocks`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from creditrisk.store.durable import sync_dir
from serving.flocks import try_flock

log = logging.getLogger("serving.wal")
LOCK = "owner.lock"
QUARANTINE = "quarantine"  # `<root>/quarantine/`: rows the store refused, never shipped again


def owner_folders(root: Path) -> Iterator[Path]:
    """Every owner folder under `root`: `<node>/<owner>/`, and `<owner>/` of the layout before nodes."""
    if root.is_dir():
        for lock in sorted([*root.glob(f"*/*/{LOCK}"), *root.glob(f"*/{LOCK}")]):
            yield lock.parent


def segments(root: Path) -> Iterator[Path]:
    """Every segment under `root` not yet in the store, live owners' and dead ones' (no quarantine)."""
    if root.is_dir():
        for seg in [*root.glob("*/*/*.jsonl"), *root.glob("*/*.jsonl")]:
            if seg.parent.name != QUARANTINE:
                yield seg


def adopt(root: Path, into: Path) -> list[Path]:
    """Move the segments of every dead owner under `root` into `into`; returns the adopted segments."""
    adopted: list[Path] = []
    for folder in owner_folders(root):
        if folder == into:
            continue
        try:
            fd = try_flock(folder / LOCK)
        except OSError:  # adopted by another replica a moment ago
            continue
        if fd is None:
            continue  # its owner is alive (or another replica just adopted it)
        try:
            adopted += _move_segments(folder, into)
        except OSError as exc:  # another adopter raced us, or a stray file: try again next time
            log.warning("%s: could not adopt %s: %s", into, folder, exc)
        finally:
            os.close(fd)
    return adopted


def _move_segments(folder: Path, into: Path) -> list[Path]:
    """Rename a dead owner's segments into `into`, then remove its lock and folder (held locked)."""
    moved: list[Path] = []
    for seg in sorted(folder.glob("*.jsonl")):
        if seg.stat().st_size == 0:
            seg.unlink(missing_ok=True)
            continue
        target = into / f"adopted-{folder.name}-{seg.name}"
        os.replace(seg, target)
        moved.append(target)
    if moved:  # their new names survive a crash before the old folder goes
        sync_dir(into)
    (folder / LOCK).unlink(missing_ok=True)
    folder.rmdir()
    if moved:
        log.warning("%s: adopted %d segment(s) left by %s (node %s)", into, len(moved), folder.name,
                    folder.parent.name)
    return moved
