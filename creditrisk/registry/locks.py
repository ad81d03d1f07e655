"""The lock every registry move takes, so two promoters never interleave (MLflow has no compare-and-set).

Locally it is an exclusive `flock` on a file beside the registry: it covers every process on the
machine (the Dagster run workers, the CLI, tests) and the kernel releases it if a holder dies.
In production, where promoters are different pods, it is a Postgres advisory lock on the database
named by CREDITRISK_LOCK_URI (e.g. the MLflow backend's). `creditrisk.wiring` picks one.

Each lock yields a `Guard`, called before every write made under it: a Postgres session can end
while its holder works (a dropped connection, a failover, an administrator), and the server then
releases the lock to the next promoter. The guard asks the server whether this session still holds
it. That narrows the gap to the time between the check and the write; it does not close it.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from creditrisk.settings import redact


class LockUnavailable(RuntimeError):
    """The registry lock could not be taken; the message says why."""


class LockTimeout(LockUnavailable):
    """The lock was held by someone else for longer than the caller would wait."""


class LockLost(LockUnavailable):
    """The lock was taken, but this session no longer holds it: nothing more may be written."""


# Called before each write under a lock; raises LockLost when the lock is no longer held.
Guard = Callable[[], None]


def _flock_held() -> None:
    """A flock lasts as long as the descriptor this process keeps open: it cannot be lost."""


# This session's advisory lock on a bigint key: pg_locks splits the key into classid (high 32 bits)
# and objid (low 32 bits), objsubid 1. With a transaction-mode pooler the check runs on another
# backend than the one that locked, so it finds nothing and refuses: such a pooler is unsupported.
_HELD = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
         "AND pid = pg_backend_pid() AND objsubid = 1 AND classid::bigint = %s AND objid::bigint = %s)")


@contextmanager
def file_lock(path: Path, timeout_s: float = 60.0) -> Iterator[Guard]:
    """Hold an exclusive lock on `path` (created if needed); LockTimeout after `timeout_s`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"the registry lock {path} is held by another process") from None
                time.sleep(0.05)
        try:
            yield _flock_held
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def postgres_lock(dsn: str, key: int, timeout_s: float = 60.0) -> Iterator[Guard]:
    """Hold the Postgres session advisory lock `key` on `dsn`; LockTimeout after `timeout_s`.

    Shared by every pod that reaches the database, and released by the server when the holder's
    connection ends (a crashed promoter never leaves it held), like a flock on one machine."""
    import psycopg  # production only: keeps the local path free of a database driver

    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        why = redact(str(exc).strip())  # libpq's message may quote the connection string
        raise LockUnavailable(f"the registry lock's database cannot be reached: {why}") from exc
    with conn:
        where = f"{key} on {conn.info.host}:{conn.info.port}"
        deadline = time.monotonic() + timeout_s
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() > deadline:
                raise LockTimeout(f"the registry lock {where} is held by another process")
            time.sleep(0.05)

        def still_held() -> None:
            try:
                row = conn.execute(_HELD, ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()
            except psycopg.Error as exc:
                raise LockLost(f"the registry lock {where} is no longer held: its session failed "
                               f"({type(exc).__name__}); refusing to write") from exc
            if not (row and row[0]):
                raise LockLost(f"the registry lock {where} is no longer held by this session; refusing "
                               "to write")
        try:
            yield still_held
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                pass  # the session is gone, and the server released its lock with it


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a registered model's name."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"creditrisk:{name}".encode()).digest()[:8], "big", signed=True)
