"""Write-ahead log of answered requests: append-only JSON-lines segments under a root every node shares.

A serving replica appends each answered request here *before* its response leaves, and a shipper
later moves whole segments to the request store and deletes them only once the store confirmed.
Layout under the WAL root (default `CREDITRISK_HOME/wal`; in a cluster a ReadWriteMany volume that
every node mounts, so a dead node's log is still reachable)::

    <root>/<node>/<owner>/owner.lock       flock-ed by the live owner (the kernel drops it at death)
    <root>/<node>/<owner>/seg-<seq>.jsonl  sealed segments waiting for the store, then the active one
    <root>/quarantine/<owner>-<seg>.jsonl  rows the store refused, each with its error

`<node>` is the machine's name (`CREDITRISK_NODE`, the pod's `spec.nodeName`; `local` by default):
each node writes only into its own folder, and every live replica adopts dead owners' segments
from every node's folder (and from `<root>/<owner>/`, the layout before nodes).

Why these choices: `os.write` on one descriptor puts the bytes in the kernel before it returns,
so a SIGKILL or OOM kill of the process loses nothing; `fsync` (group-committed by the caller)
also covers the machine, and with it each new folder and segment name is synced into its parent
once (a power cut could otherwise lose a whole acknowledged segment); a quarantine file and its
name are synced whatever the setting, since its segment is removed right after. A write that fails partway
(a full disk) is cut back to the last complete row at once, so its half line never joins the next
row; that row's offset is kept in memory, so the happy path costs no extra syscall. An `flock` is
released by the kernel whatever way its holder dies, so a live replica can tell a dead owner's
folder from a busy one without heartbeats or clocks, and adopts its segments by renaming them
into its own folder (atomic on one file system; on NFS v4 a lock is a lease, so a dead machine's
locks are released only when its lease expires, about 90 s). Shipping then deleting means a crash in between
ships a segment twice: the store de-duplicates by request id, so each row is counted once.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from creditrisk.store.durable import make_dirs, sync_dir
from serving.adoption import LOCK as _LOCK
from serving.adoption import QUARANTINE, adopt, segments
from serving.flocks import try_flock

log = logging.getLogger("serving.wal")
DEFAULT_NODE = "local"  # one machine: every owner under one node folder
_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")  # a Kubernetes node name is one


def check_node(name: str) -> str:
    """`name` if it can be one folder's name under the root (a node name is), else ValueError."""
    if not _NODE_NAME.fullmatch(name) or name == QUARANTINE:
        raise ValueError(f"CREDITRISK_NODE must be a node name ([A-Za-z0-9._-], not 'quarantine'), "
                         f"got {name!r}")
    return name


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot log a {type(value).__name__} in the request log")


def encode(rows: list[Mapping[str, Any]]) -> bytes:
    """Rows as JSON lines, ready for one `write`."""
    return b"".join(json.dumps(r, default=_json_default, separators=(",", ":")).encode() + b"\n"
                    for r in rows)


def read_segment(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of a segment and how many lines were unreadable (a torn last write)."""
    rows, torn = [], 0
    with path.open("rb") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                torn += 1  # only the line being written when the machine died can be torn
    return rows, torn


class SegmentLog:
    """One owner's write-ahead log: the active segment, its sealed segments, and adopted orphans."""

    def __init__(self, root: str | Path, owner: str, *, node: str = DEFAULT_NODE,
                 fsync: bool = False) -> None:
        self.root, self.owner, self.node, self.fsync = Path(root), owner, check_node(node), fsync
        self.folder = self.root / node / owner
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._active: Path | None = None
        self._seq = 0
        self.active_rows = 0
        self.active_bytes = 0  # the active segment's length up to its last complete row
        self._torn = False  # a failed write left bytes past `active_bytes` that are not cut yet
        self._name_synced = False  # the active segment's name is durable in the folder
        self._active_since: float | None = None  # wall time of the active segment's first row

    def __repr__(self) -> str:
        return f"SegmentLog({str(self.folder)!r})"

    def open(self) -> None:
        """Create and lock this owner's folder and open a fresh active segment."""
        for attempt in range(3):
            make_dirs(self.folder)  # each folder it creates is synced into its parent
            try:
                self._lock_fd = try_flock(self.folder / _LOCK, create=True)
                break
            except FileNotFoundError:  # an adopter removed a dead owner's folder of this name just now
                if attempt == 2:
                    raise
        if self._lock_fd is None:
            raise RuntimeError(f"{self}: another live process owns this write-ahead log")
        existing = [int(p.stem.split("-")[1]) for p in self.folder.glob("seg-*.jsonl")
                    if p.stem.split("-")[1].isdigit()]
        self._seq = max(existing, default=0)
        self._open_next()

    def _open_next(self) -> None:
        self._seq += 1
        self._active = self.folder / f"seg-{self._seq:012d}.jsonl"
        self._fd = os.open(self._active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.active_rows = self.active_bytes = 0
        self._torn = self._name_synced = False
        self._active_since = None

    def append(self, data: bytes, rows: int) -> None:
        """Append encoded rows with one `write` (in the kernel when this returns; see `sync`).

        Raises OSError when the write fails or is short; the segment then ends at its last
        complete row again before anything else is appended.
        """
        if self._fd is None:
            raise RuntimeError(f"{self}: not open")
        if self._torn:
            self._cut_back()  # raises while it cannot be cut: refuse rather than glue a row to it
        try:
            written = os.write(self._fd, data)
        except OSError:
            self._torn = True  # a wrapped or network file system may have kept part of it
            self._cut_back(quiet=True)
            raise
        if written != len(data):  # a short write on a regular file means the disk is full
            self._torn = True
            self._cut_back(quiet=True)
            raise OSError(errno.ENOSPC, f"{self._active}: short write ({written} of {len(data)} bytes), "
                          "disk full?")
        if self._active_since is None:
            self._active_since = time.time()
        self.active_rows += rows
        self.active_bytes += len(data)

    def _cut_back(self, *, quiet: bool = False) -> None:
        """Truncate the active segment to its last complete row (O_APPEND writes follow the new end)."""
        try:
            os.ftruncate(self._fd, self.active_bytes)  # type: ignore[arg-type]
        except OSError as exc:  # the next seal() moves the torn tail out of the way instead
            log.error("%s: cannot cut a torn write back to %d bytes: %s", self, self.active_bytes, exc)
            if not quiet:
                raise
            return
        self._torn = False

    def sync(self) -> None:
        """fsync the active segment: what was appended survives the machine, not only the process."""
        if self._fd is not None:
            self._make_durable(self._fd)

    def _make_durable(self, fd: int) -> None:
        """fsync `fd` (the active segment), and the folder the first time: its name survives too."""
        os.fsync(fd)
        if not self._name_synced:
            sync_dir(self.folder)
            self._name_synced = True

    def seal(self) -> Path | None:
        """Close the active segment if it holds rows (or a torn tail) and open the next; returns it."""
        if self._fd is None or (self.active_rows == 0 and not self._torn):
            return None
        if self.fsync:
            self._make_durable(self._fd)
        os.close(self._fd)
        sealed = self._active
        self._open_next()
        return sealed

    def sealed(self) -> list[Path]:
        """Segments waiting for the store, oldest first (adopted ones included)."""
        return sorted(p for p in self.folder.glob("*.jsonl") if p != self._active)

    def remove(self, segment: Path) -> None:
        segment.unlink(missing_ok=True)

    def backlog_bytes(self) -> int:
        """Bytes not yet in the store: sealed segments plus the active one."""
        return sum(_size(p) for p in self.sealed()) + self.active_bytes

    def oldest_unshipped_at(self) -> float | None:
        """Wall time of the oldest row not yet in the store anywhere under the root (every node's
        owners, live, dead or adopted; a sealed segment's last write stands for its rows), or None."""
        times = [t for t in (_mtime(p) for p in segments(self.root) if p != self._active) if t is not None]
        if self._active_since is not None:
            times.append(self._active_since)
        return min(times, default=None)

    def adopt_orphans(self) -> list[Path]:
        """Move the segments of dead owners, on any node, into this folder (`serving.adoption`)."""
        return adopt(self.root, self.folder)

    def quarantine(self, segment: Path, refused: list[tuple[Mapping[str, Any], str]]) -> Path:
        """Keep rows the store refused, each with its error, apart from the log (never dropped)."""
        folder = self.root / QUARANTINE
        make_dirs(folder)
        target = folder / f"{self.owner}-{segment.name}"
        created = not target.exists()
        body = encode([{"error": err, "row": dict(row)} for row, err in refused])
        with target.open("ab") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        if created:  # the segment is removed next: the rows' only copy must not lose its name
            sync_dir(folder)
        return target

    def quarantined_rows(self) -> int:
        folder = self.root / QUARANTINE
        return sum(_lines(p) for p in folder.glob("*.jsonl")) if folder.is_dir() else 0

    def close(self) -> None:
        """Close the active segment (deleted when empty) and release the folder's lock."""
        if self._fd is not None:
            if self.fsync:
                self._make_durable(self._fd)
            os.close(self._fd)
            self._fd = None
            if self._active is not None and self.active_rows == 0:
                self._active.unlink(missing_ok=True)
        if self._lock_fd is not None:
            if not any(self.folder.glob("*.jsonl")):  # all shipped: leave no folder to adopt
                (self.folder / _LOCK).unlink(missing_ok=True)
                self.folder.rmdir()
            os.close(self._lock_fd)
            self._lock_fd = None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path: Path) -> float | None:
    """When `path` was last written, or None when it holds no row (or is gone)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime if st.st_size else None


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)
