"""The local store's quarantine: Parquet files it cannot read, moved aside with what went wrong.

A truncated or foreign file in a day folder would otherwise fail every query that lists it, for
ever. When a query fails, the store asks `sweep` which of its files are unreadable; those move to
`<root>/quarantine/<kind>/date=YYYY-MM-DD/<name>` beside `<name>.error.txt`, an ERROR is logged
naming each, and the query runs again without them. Nothing is deleted: a person can inspect,
repair and move a file back.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from creditrisk.store.durable import make_dirs, sync_dir

log = logging.getLogger("creditrisk.store")

FOLDER = "quarantine"
_ERROR_SUFFIX = ".error.txt"
# ArrowInvalid (no footer, not Parquet), OSError (a bad page, no access).
UNREADABLE = (OSError, pa.ArrowException)


def problem(path: Path, *, whole: bool = False) -> str | None:
    """Why `path` is no readable Parquet file (its footer; every page if `whole`), None if readable.

    A file that is gone (compacted away after it was listed) is no problem: that read just retries.
    """
    try:
        pq.read_metadata(path)
        if whole:
            pq.read_table(path)
    except FileNotFoundError:
        return None
    except UNREADABLE as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Quarantine:
    """The quarantine folder of one local store rooted at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / FOLDER

    def count(self) -> int:
        """Files in quarantine (their error notes not counted)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.rglob("*") if p.is_file() and not p.name.endswith(_ERROR_SUFFIX))

    def sweep(self, files: Sequence[Path], failure: str) -> list[Path]:
        """Move the unreadable ones among `files` (a query over them failed with `failure`).

        Every footer is checked; a file the failure names is read whole, which also finds a bad
        page behind a sound footer. Returns the files moved (none: the failure was not theirs).
        """
        moved = []
        for path in files:
            why = problem(path, whole=str(path) in failure)
            if why is not None and self.move(path, f"{why}\nthe query failed with: {failure}"):
                moved.append(path)
        return moved

    def move(self, path: Path, why: str) -> bool:
        """Move one store file to quarantine with a note of `why`; False if it was already gone."""
        kind, day = path.parent.parent.name, path.parent.name
        target_dir = self.folder / kind / day
        make_dirs(target_dir)
        target = target_dir / path.name
        if target.exists():  # the same name quarantined before: keep both
            target = target_dir / f"{path.stem}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}{path.suffix}"
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another reader moved it first, or compaction removed it
            return False
        note = (f"file: {path}\nquarantined at {datetime.now(UTC).isoformat()} by pid {os.getpid()}\n"
                f"error: {why}\n")
        (target_dir / f"{target.name}{_ERROR_SUFFIX}").write_text(note)
        sync_dir(target_dir)
        sync_dir(path.parent)
        log.error("request store: quarantined unreadable file %s (now %s): %s", path, target,
                  why.splitlines()[0])
        return True
