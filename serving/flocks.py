"""Who is alive, told by the kernel: an exclusive `flock` that its holder keeps while it lives.

The kernel releases a flock however its holder dies (exit, SIGKILL, OOM), so a lock that can be
taken means its owner is gone: no heartbeat, no pid (which may be reused), no clock. The write-ahead
log's owners, replicas' work folders and local services' ports all use it.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_flock(path: Path, *, create: bool = False, mode: int = 0o600) -> int | None:
    """A descriptor of `path` holding its exclusive flock, or None when a live process holds it (or,
    without `create`, when there is no such file: nothing to tell). Closing the descriptor releases it."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), mode)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
