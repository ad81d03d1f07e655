"""The lock every registry move takes, so two promoters never interleave (MLflow has no compare-and-set).

Locally it is an exclusive `flock` on a file beside the registry: it covers every process on the
machine (the Dagster run workers, the CLI, tests) and the kernel releases it if a holder dies.
`creditrisk.wiring` picks it; a production lock must be shared by every pod (see `wiring`).
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol


class LockTimeout(RuntimeError):
    """The lock was held by someone else for longer than the caller would wait."""


class Lock(Protocol):
    def __call__(self) -> AbstractContextManager[None]: ...


@contextmanager
def file_lock(path: Path, timeout_s: float = 60.0) -> Iterator[None]:
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
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
